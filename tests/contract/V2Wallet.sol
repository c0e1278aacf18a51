// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title V2Wallet — a contract wallet for the tests (test only): the differential tests, the
///        audit's trace tests and forge (test/v2/utils/V2World.sol `refusingWallet`)
/// @notice Forwards any call (with its value) and bubbles the callee's revert data unchanged, so
///         the contract sees the wallet as msg.sender; while `refusing`, it rejects every ether
///         transfer — the machine's `State.rejecting`.
contract V2Wallet {
    bool public refusing;

    function setRefusing(bool value) external {
        refusing = value;
    }

    function exec(address target, bytes calldata data) external payable returns (bytes memory result) {
        bool ok;
        (ok, result) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }

    receive() external payable {
        if (refusing) revert();
    }
}

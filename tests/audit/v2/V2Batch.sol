// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title V2Batch — several calls in one transaction, for the audit's trace tests (test only)
/// @notice Calls each target in turn (no value); a call marked `mayFail` that reverts is caught
///         and the batch goes on, any other revert is bubbled with its data unchanged.
contract V2Batch {
    function run(address[] calldata targets, bytes[] calldata datas, bool[] calldata mayFail)
        external
    {
        for (uint256 i = 0; i < targets.length; i++) {
            (bool ok, bytes memory result) = targets[i].call(datas[i]);
            if (!ok && !mayFail[i]) {
                assembly ("memory-safe") {
                    revert(add(result, 32), mload(result))
                }
            }
        }
    }
}

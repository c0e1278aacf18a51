// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../contracts/interfaces/IFLChainV2.sol";
import {vm} from "../utils/Vm.sol";
import {V2World} from "./utils/V2World.sol";

/// @notice Ether forced into FLChainV2 (a SELFDESTRUCT or block reward naming it) is inert: no
///         account counts it, nothing can spend it, and every account can still be paid out in
///         full — the balance is at least the accounts' sum (protocol.md §8), never required to
///         equal it. The audit's side of the same rule: tests/audit/v2/test_forced_ether.py.
contract FLChainV2ForcedEtherTest is V2World {
    function setUp() public {
        setUpWorld(worldRules());
    }

    /// @dev Creates a contract whose init code is `PUSH20 target; SELFDESTRUCT` with `wei_` as its
    ///      value (raw bytes, the opcode solc deprecates): the ether moves to `target` and no
    ///      code of `target` runs, so nothing there can refuse it.
    function _force(address target, uint256 wei_) internal {
        bytes memory init = abi.encodePacked(hex"73", target, hex"ff");
        address created;
        assembly ("memory-safe") {
            created := create(wei_, add(init, 0x20), mload(init))
        }
        vm.assertTrue(created != address(0), "the forcing contract ran");
    }

    function _sum(IFLChainV2.Accounts memory a) internal pure returns (uint256) {
        return a.bonds + a.pool + a.reserved + a.claimable;
    }

    function testFuzz_forced_ether_is_counted_by_no_account_and_every_bond_still_withdraws(uint96 forced) public {
        forced = uint96(bound(forced, 1, 1_000 ether));
        IFLChainV2.Accounts memory before = chain.accounts();
        uint256 balance = address(chain).balance;
        vm.assertEq(balance, _sum(before), "balance equals the accounts before");

        vm.deal(address(this), forced);
        _force(address(chain), forced);

        vm.assertEq(address(chain).balance, balance + forced, "the ether arrived");
        IFLChainV2.Accounts memory after_ = chain.accounts();
        vm.assertEq(keccak256(abi.encode(after_)), keccak256(abi.encode(before)), "no account moved");

        address[3] memory nodes = [ALICE, BOB, CAROL];
        for (uint256 i = 0; i < nodes.length; i++) {
            vm.prank(nodes[i]);
            chain.requestExit();
        }
        vm.warp(block.timestamp + EXIT_DELAY);
        for (uint256 i = 0; i < nodes.length; i++) {
            uint256 held = nodes[i].balance;
            vm.prank(nodes[i]);
            chain.withdraw();
            vm.assertEq(nodes[i].balance, held + MIN_BOND, "the whole bond, not a wei more");
        }
        vm.assertEq(chain.accounts().bonds, 0, "every bond paid out");
        vm.assertEq(address(chain).balance, _sum(chain.accounts()) + forced, "only the forced ether stays");
    }
}

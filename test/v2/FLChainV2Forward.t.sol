// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../contracts/interfaces/IFLChainV2.sol";
import {IFLChainV2Forward} from "../../contracts/interfaces/IFLChainV2Forward.sol";
import {ForwardLib} from "../../contracts/libraries/ForwardLib.sol";
import {vm} from "../utils/Vm.sol";
import {V2Wallet} from "../../tests/contract/V2Wallet.sol";
import {V2World} from "./utils/V2World.sol";
import {Update} from "./utils/V2Test.sol";

/// @notice The forward box's postForward (docs/protocol.md §15.2): a window may be posted again —
///         readers take the bytes from a direct call's input, so a first post forwarded by
///         another contract must not leave the window unreadable — every post emits
///         ForwardPosted, a re-post never changes a tally or the accepted window, and every
///         other check (scoring off, too early, votes closed, too large) still holds, a re-post's
///         included.
contract FLChainV2ForwardTest is V2World {
    uint16 internal constant LAG = 4; // C + R + (1 + 2)·900 s = 3 400 s ≤ 4 rounds of 1 000 s
    bytes internal constant WINDOW = "an honest forward window file";

    IFLChainV2Forward internal box;
    bytes32 internal windowHash;

    function setUp() public {
        IFLChainV2.Rules memory r = worldRules();
        r.forwardBars = 1;
        r.forwardLagRounds = LAG;
        r.forwardTrailRounds = 8;
        r.forwardNoiseZPpm = 1_000_000;
        r.forwardNoiseFloorBps = 100;
        setUpWorld(r);
        box = IFLChainV2Forward(chain.forwardBox());
        windowHash = sha256(WINDOW);
    }

    function _opensAt(uint256 round) internal pure returns (uint256) {
        return ForwardLib.forwardClose(timeOf(round, IFLChainV2.Phase.Beacon, 0), 0, 1);
    }

    function _votesCloseAt(uint256 round) internal pure returns (uint256) {
        return timeOf(round + LAG, IFLChainV2.Phase.Reveal, 0);
    }

    function _post(address poster) internal {
        vm.expectEmit(true, true, true, true, address(box));
        emit IFLChainV2Forward.ForwardPosted(0, windowHash, poster, WINDOW.length);
        vm.prank(poster);
        box.postForward(0, WINDOW);
    }

    function test_a_window_forwarded_first_is_posted_again_directly() public {
        vm.warp(_opensAt(0));
        V2Wallet relay = refusingWallet();
        vm.expectEmit(true, true, true, true, address(box));
        emit IFLChainV2Forward.ForwardPosted(0, windowHash, address(relay), WINDOW.length);
        relay.exec(address(box), abi.encodeCall(IFLChainV2Forward.postForward, (0, WINDOW)));
        vm.assertTrue(box.isForwardPosted(0, windowHash), "posted by the forwarded call");
        _post(OUTSIDER); // the same bytes, from a transaction whose input carries them
        _post(ALICE);
        vm.assertTrue(box.isForwardPosted(0, windowHash), "posted stays true");
        vm.assertEq(box.forwardTallyOf(0, windowHash), 0, "posting is not voting");
    }

    function test_a_re_post_after_acceptance_changes_no_tally() public {
        vm.warp(_opensAt(0));
        _post(OUTSIDER);
        goTo(LAG, IFLChainV2.Phase.Commit);
        for (uint256 i = 0; i < members.length; ++i) {
            Update memory u = updateOf(members[i], LAG);
            bytes32 c = commitmentFor(chain, members[i], u);
            vm.prank(members[i]);
            chain.commitWithForward(LAG, c, 0, windowHash);
        }
        vm.assertEq(box.forwardWindowOf(0), windowHash, "accepted");
        uint256 tally = box.forwardTallyOf(0, windowHash);
        _post(BOB);
        vm.assertEq(box.forwardTallyOf(0, windowHash), tally, "a re-post adds no weight");
        vm.assertEq(box.forwardWindowOf(0), windowHash, "nor changes the accepted window");
    }

    function _refusePost(uint256 round, bytes memory window, bytes memory err) internal {
        vm.expectRevert(err);
        vm.prank(OUTSIDER);
        box.postForward(round, window);
    }

    function test_every_other_check_holds_for_a_re_post() public {
        uint256 opens = _opensAt(0);
        vm.warp(opens - 1);
        _refusePost(0, WINDOW, abi.encodeWithSelector(IFLChainV2Forward.ForwardTooEarly.selector, 0, opens));
        vm.warp(opens);
        _post(OUTSIDER);
        uint256 max = ForwardLib.MAX_FORWARD_BYTES;
        _refusePost(0, "", abi.encodeWithSelector(IFLChainV2Forward.ForwardTooLarge.selector, 0, max));
        _refusePost(
            0, new bytes(max + 1), abi.encodeWithSelector(IFLChainV2Forward.ForwardTooLarge.selector, max + 1, max)
        );
        uint256 closes = _votesCloseAt(0);
        vm.warp(closes - 1);
        _post(CAROL); // the last second of its votes
        vm.warp(closes);
        _refusePost(0, WINDOW, abi.encodeWithSelector(IFLChainV2Forward.ForwardVoteClosed.selector, 0, closes));
    }

    function test_no_post_where_forward_scoring_is_off() public {
        IFLChainV2.Rules memory off = worldRules();
        off.effectiveRound = 2;
        chain.scheduleRules(off);
        vm.warp(_opensAt(2));
        _refusePost(2, WINDOW, abi.encodeWithSelector(IFLChainV2Forward.ForwardScoringOff.selector, 2));
    }

    /// @notice Any poster, any number of posts of the same bytes while the votes are open: each
    ///         emits ForwardPosted and none changes what the box stores but the posted flag.
    function testFuzz_repeated_posts_are_accepted(uint8 posts, uint256 when) public {
        uint256 n = bound(posts, 1, 8);
        vm.warp(bound(when, _opensAt(0), _votesCloseAt(0) - n));
        for (uint256 i = 0; i < n; ++i) {
            _post(address(uint160(0x1000 + i)));
            vm.warp(block.timestamp + 1);
        }
        vm.assertTrue(box.isForwardPosted(0, windowHash), "posted");
        vm.assertEq(box.forwardWindowOf(0), bytes32(0), "nothing accepted without votes");
    }
}

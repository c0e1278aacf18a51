// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../contracts/interfaces/IFLChainV2.sol";
import {vm} from "../utils/Vm.sol";
import {V2Test} from "./utils/V2Test.sol";

/// @notice The newest version's slash terms live in one word (`FLChainV2._newestSlash`) with
///         each amount capped at 2¹⁰⁰ − 1 and the version's effectiveRound: a slash is exact at
///         any amount (below, at and above the cap, up to a bond's uint112) and takes the terms
///         of the version frozen for its round, not the newest's.
contract FLChainV2SlashTermsTest is V2Test {
    uint256 private constant CAP = (1 << 100) - 1;
    uint256 private constant MIN_BIG_BOND = 1 << 102; // room for any amount tried here
    uint256 private constant BIG_BOND = 1 << 104; // and for several slashes above minBond
    address private constant CAROL = address(0xCA401);
    address private constant OUTSIDER = address(0x0575);

    IFLChainV2 private chain;

    function _deploy(uint128 noReveal, uint128 wrongVote) private {
        vm.warp(T0 - 10); // each deployment starts before its round 0
        IFLChainV2.Deployment memory d = defaultDeployment();
        d.minBond = MIN_BIG_BOND;
        IFLChainV2.Rules memory r = defaultRules();
        r.noticeRounds = 1;
        r.noRevealSlashWei = noReveal;
        r.wrongVoteSlashWei = wrongVote;
        chain = deployV2(d, r);
        register(chain, CAROL, BIG_BOND);
    }

    function _slashed(uint256 round, uint256 wanted, uint256 bountyPpm) private {
        goTo(round, IFLChainV2.Phase.Commit);
        commit(chain, CAROL, makeUpdate(CAROL, round, chain.latest().mergedDigest, 1_536));
        goTo(round, IFLChainV2.Phase.Attest);
        uint256 bond = chain.nodeView(CAROL).bond;
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Slashed(
            CAROL, round, IFLChainV2.Fault.NoReveal, wanted, wanted * bountyPpm / 1_000_000, OUTSIDER
        );
        vm.prank(OUTSIDER);
        chain.slashNoReveal(round, CAROL);
        vm.assertEq(chain.nodeView(CAROL).bond, bond - wanted, "the bond loses exactly the amount");
    }

    function test_a_no_reveal_slash_is_exact_below_at_and_above_the_cap() public {
        uint128[5] memory amounts =
            [uint128(CAP - 1), uint128(CAP), uint128(CAP + 1), uint128(1 << 101) + 3, uint128(0.05 ether)];
        for (uint256 i = 0; i < amounts.length; i++) {
            _deploy(amounts[i], 0.02 ether);
            _slashed(0, amounts[i], 100_000);
        }
    }

    function test_a_wrong_vote_amount_at_the_cap_leaves_the_no_reveal_amount_exact() public {
        _deploy(0.05 ether, uint128(CAP));
        _slashed(0, 0.05 ether, 100_000);
        _deploy(0.05 ether, uint128(CAP) + 1);
        _slashed(0, 0.05 ether, 100_000);
    }

    function test_a_slash_takes_the_terms_of_its_rounds_version() public {
        _deploy(0.05 ether, 0.02 ether);
        IFLChainV2.Rules memory r = defaultRules();
        r.noticeRounds = 1;
        r.effectiveRound = 3;
        r.noRevealSlashWei = uint128(CAP) + 9; // at the cap: read from the version
        r.bountyPpm = 250_000;
        goTo(0, IFLChainV2.Phase.Commit);
        chain.scheduleRules(r);
        _slashed(2, 0.05 ether, 100_000); // version 0's terms, the newest not yet in effect
        _slashed(3, uint256(CAP) + 9, 250_000);
        r.effectiveRound = 5;
        r.noRevealSlashWei = 0.07 ether; // below the cap: from the word
        r.bountyPpm = 500_000;
        chain.scheduleRules(r);
        _slashed(4, uint256(CAP) + 9, 250_000); // version 1: neither the newest nor the first
        _slashed(5, 0.07 ether, 500_000);
    }
}

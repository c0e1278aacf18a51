// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../contracts/interfaces/IFLChainV2.sol";
import {vm} from "../utils/Vm.sol";
import {Update} from "./utils/V2Test.sol";
import {V2Wallet} from "../../tests/contract/V2Wallet.sol";
import {V2World} from "./utils/V2World.sol";

/// @notice Settlement, slashing and withdrawal: a claim pays leaf.node and never the sender,
///         once per root; a proof that does not verify, a regressed leaf, a claim beyond what
///         final rounds made claimable; each fault slashed once and only when its precondition
///         holds (an accepted reveal for a penalty, an unrevealed slot, a final result the vote
///         differs from), within the bond; withdrawal only once settled and after the exit
///         delay; reward recipients and bounty hunters that refuse ether.
contract FLChainV2SettleTest is V2World {
    uint256 private constant NODES_SLOT = 12; // FLChainV2._nodes (forge inspect … storageLayout)
    uint256 private constant BUDGET_SLOT = 7; // FLChainV2._budget
    uint256 private constant ACCOUNT_OFFSET = 3; // Node.account: claimed, withdrawableAt, …
    uint256 private constant SHARE = uint256(1 ether) / 3;
    uint256 private constant NO_REVEAL = 0.05 ether;
    uint256 private constant PENALTY = 0.1 ether;
    uint256 private constant WRONG_VOTE = 0.02 ether;

    function setUp() public {
        setUpWorld(worldRules());
    }

    function _bounty(uint256 amount) internal pure returns (uint256) {
        return amount * 100_000 / 1_000_000;
    }

    // ------------------------------------------------------------ settle

    function test_settle_credits_the_leaf_node_and_collect_pays_it_never_the_sender() public {
        honestRound(0, none());
        uint256 outsider = OUTSIDER.balance;
        uint256 alice = ALICE.balance;
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(ALICE);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Settled(ALICE, 0, uint128(SHARE), 0, 0);
        vm.prank(OUTSIDER);
        chain.settle(l, proof);
        vm.assertEq(ALICE.balance, alice, "settle pays no reward");
        vm.assertEq(OUTSIDER.balance, outsider, "nothing to the sender");
        IFLChainV2.NodeView memory v = chain.nodeView(ALICE);
        vm.assertEq(v.claimed, 0, "nothing claimed yet");
        vm.assertEq(v.settledRound, 1, "settledRound");
        vm.assertEq(v.cumEarned, SHARE, "the record");
        vm.assertEq(v.mergedRounds, 1, "mergedRounds");
        vm.assertEq(chain.accounts().claimable, 3 * SHARE, "claimable until collected");
        // a third party's collect pays the third party's own rewards (none), not ALICE's
        refuse(OUTSIDER, abi.encodeCall(IFLChainV2.collect, ()), abi.encodeWithSelector(IFLChainV2.NothingOwed.selector));
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Collected(ALICE, SHARE);
        vm.prank(ALICE);
        chain.collect();
        vm.assertEq(ALICE.balance, alice + SHARE, "paid to the node");
        vm.assertEq(chain.nodeView(ALICE).claimed, SHARE, "claimed");
        vm.assertEq(chain.accounts().claimable, 2 * SHARE, "claimable");
        refuse(ALICE, abi.encodeCall(IFLChainV2.collect, ()), abi.encodeWithSelector(IFLChainV2.NothingOwed.selector));
    }

    function test_settle_refusals() public {
        IFLChainV2.Leaf memory early = IFLChainV2.Leaf(ALICE, 0, 0, 0, 0, 0, 0);
        bytes32[16] memory zeros;
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.settle, (early, zeros)),
            abi.encodeWithSelector(IFLChainV2.AlreadySettled.selector, ALICE)
        );
        honestRound(0, none());
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(ALICE);
        IFLChainV2.Leaf memory stranger = IFLChainV2.Leaf(OUTSIDER, 0, 1, 0, 0, 0, 0);
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.settle, (stranger, proof)),
            abi.encodeWithSelector(IFLChainV2.AlreadySettled.selector, OUTSIDER)
        );
        bytes32[16] memory bent = abi.decode(abi.encode(proof), (bytes32[16])); // a copy
        bent[3] = keccak256("not a sibling");
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.settle, (l, bent)),
            abi.encodeWithSelector(IFLChainV2.InvalidProof.selector)
        );
        IFLChainV2.Leaf memory richer = IFLChainV2.Leaf(ALICE, 0, uint128(SHARE + 1), 0, 1, 0, 0);
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.settle, (richer, proof)),
            abi.encodeWithSelector(IFLChainV2.InvalidProof.selector)
        );
        // BOB's leaf and proof verify at index 1, but name BOB: ALICE cannot use them, nor can
        // BOB's leaf be moved to ALICE's index
        (IFLChainV2.Leaf memory bob, bytes32[16] memory bobProof) = leafOf(BOB);
        IFLChainV2.Leaf memory moved = IFLChainV2.Leaf(BOB, 0, bob.cumEarned, 0, 1, 0, 0);
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.settle, (moved, bobProof)),
            abi.encodeWithSelector(IFLChainV2.InvalidProof.selector)
        );
        IFLChainV2.Leaf memory renamed = IFLChainV2.Leaf(ALICE, 1, bob.cumEarned, 0, 1, 0, 0);
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.settle, (renamed, bobProof)),
            abi.encodeWithSelector(IFLChainV2.InvalidProof.selector)
        );
        vm.prank(OUTSIDER);
        chain.settle(l, proof);
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.settle, (l, proof)),
            abi.encodeWithSelector(IFLChainV2.AlreadySettled.selector, ALICE)
        );
    }

    function test_a_leaf_never_goes_down() public {
        honestRound(0, none());
        goTo(1, IFLChainV2.Phase.Commit);
        settleLagging();
        chain.openRound(1);
        Update[] memory updates = commitAll(1, members);
        goTo(1, IFLChainV2.Phase.Reveal);
        revealAll(members, updates);
        goTo(1, IFLChainV2.Phase.Attest);
        (IFLChainV2.Leaf[] memory leaves, uint128 earned) = tableFor(1, none());
        leaves[0].cumEarned = 0; // ALICE's earnings erased
        leaves[1].cumEarned = uint128(SHARE); // BOB's fine: the same as before
        leaves[1].cumPenalties = 0;
        IFLChainV2.Result memory r = resultFor(1, leaves, earned);
        attestAll(1, members, r);
        finalizeWith(1, leaves, r);
        goTo(2, IFLChainV2.Phase.Commit);
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(ALICE);
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.settle, (l, proof)),
            abi.encodeWithSelector(IFLChainV2.LeafRegressed.selector, ALICE)
        );
        settle(BOB, BOB); // an unchanged leaf is no regression
        vm.assertEq(chain.nodeView(BOB).settledRound, 2, "BOB settled round 1");
    }

    function _collect(address node) internal returns (uint256 paid) {
        uint256 before = node.balance;
        vm.prank(node);
        chain.collect();
        return node.balance - before;
    }

    function test_claims_are_capped_by_what_final_rounds_made_claimable() public {
        goTo(0, IFLChainV2.Phase.Commit);
        chain.openRound(0);
        Update[] memory updates = commitAll(0, members);
        goTo(0, IFLChainV2.Phase.Reveal);
        revealAll(members, updates);
        goTo(0, IFLChainV2.Phase.Attest);
        // a table that promises more than the round pays (the merge's bug, not the contract's)
        (IFLChainV2.Leaf[] memory leaves,) = tableFor(0, none());
        leaves[0].cumEarned = 0.6 ether;
        leaves[1].cumEarned = 0.6 ether;
        leaves[2].cumEarned = 0;
        IFLChainV2.Result memory r = resultFor(0, leaves, 1 ether);
        attestAll(0, members, r);
        finalizeWith(0, leaves, r);
        settle(ALICE, ALICE);
        settle(BOB, BOB);
        vm.assertEq(_collect(ALICE), 0.6 ether, "ALICE paid in full");
        vm.assertEq(_collect(BOB), 0.4 ether, "BOB capped by what is claimable");
        vm.assertEq(chain.nodeView(BOB).claimed, 0.4 ether, "claimed what was paid");
        vm.assertEq(chain.accounts().claimable, 0, "nothing more than the round made claimable");
        refuse(BOB, abi.encodeCall(IFLChainV2.collect, ()), abi.encodeWithSelector(IFLChainV2.NothingOwed.selector));
        // what the cap withheld is paid by a later collect, out of a later round's budget
        honestRound(1, none());
        settle(BOB, BOB);
        vm.assertEq(_collect(BOB), 0.2 ether + SHARE, "BOB's arrears and round 1");
        vm.assertEq(chain.nodeView(BOB).claimed, 0.6 ether + SHARE, "claimed all it earned");
    }

    function _nodeSlot(address node, uint256 offset) internal pure returns (bytes32) {
        return bytes32(uint256(keccak256(abi.encode(node, NODES_SLOT))) + offset);
    }

    function _touched(bytes32[] memory slots, bytes32 slot) internal pure returns (bool) {
        for (uint256 i = 0; i < slots.length; ++i) {
            if (slots[i] == slot) return true;
        }
        return false;
    }

    function test_settle_neither_reads_nor_writes_the_account_word_nor_the_budget() public {
        honestRound(0, none());
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(ALICE);
        bytes32 budget = vm.load(address(chain), bytes32(BUDGET_SLOT));
        bytes32 account = _nodeSlot(ALICE, ACCOUNT_OFFSET);
        bytes32 accountWord = vm.load(address(chain), account);
        vm.assertEq(uint256(accountWord) >> 128, type(uint64).max, "register left the placeholder");
        vm.record();
        vm.prank(ALICE);
        chain.settle(l, proof);
        (bytes32[] memory reads, bytes32[] memory writes) = vm.accesses(address(chain));
        vm.assertFalse(_touched(reads, account) || _touched(writes, account), "the account word untouched");
        vm.assertFalse(_touched(reads, bytes32(BUDGET_SLOT)), "the budget untouched");
        vm.assertEq(vm.load(address(chain), bytes32(BUDGET_SLOT)), budget, "the budget as it was");
        vm.assertEq(vm.load(address(chain), account), accountWord, "as it was");
    }

    function test_claimed_is_kept_beside_withdrawable_at_and_an_exited_node_still_collects() public {
        honestRound(0, none());
        settle(BOB, BOB);
        vm.assertEq(_collect(BOB), SHARE, "round 0");
        bytes32 account = _nodeSlot(BOB, ACCOUNT_OFFSET);
        vm.assertEq(uint256(uint128(uint256(vm.load(address(chain), account)))), SHARE, "claimed, in the account word");
        honestRound(1, none());
        settle(BOB, BOB); // round 1's share recorded, not collected
        uint256 earned = chain.nodeView(BOB).cumEarned - SHARE;
        vm.assertTrue(earned > 0, "round 1 paid BOB");
        vm.prank(BOB);
        chain.requestExit();
        uint64 withdrawableAt = chain.nodeView(BOB).withdrawableAt;
        vm.assertEq(uint256(uint128(uint256(vm.load(address(chain), account)))), SHARE, "claimed kept");
        vm.warp(withdrawableAt);
        vm.prank(BOB);
        chain.withdraw();
        vm.assertEq(_collect(BOB), earned, "a withdrawn node collects what it earned");
        vm.assertEq(chain.nodeView(BOB).withdrawableAt, withdrawableAt, "withdrawableAt kept");
        vm.assertEq(chain.nodeView(BOB).claimed, SHARE + earned, "claimed all it earned");
    }

    function test_a_leaf_with_a_dirty_word_fails_its_proof() public {
        honestRound(0, none());
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(ALICE);
        bytes memory data = abi.encodeCall(IFLChainV2.settle, (l, proof));
        // cumPenalties (word 3 of the leaf) with a bit above its 32: no ABI encoder sends it
        uint256 at = 4 + 32 * 3;
        assembly {
            let p := add(add(data, 0x20), at)
            mstore(p, or(mload(p), shl(200, 1)))
        }
        vm.prank(ALICE);
        (bool ok, bytes memory ret) = address(chain).call(data);
        vm.assertFalse(ok, "refused");
        vm.assertEq(ret, abi.encodeWithSelector(IFLChainV2.InvalidProof.selector), "InvalidProof");
        vm.prank(ALICE);
        chain.settle(l, proof); // the clean leaf settles
    }

    // ------------------------------------------------------------ a reverting reward recipient

    function test_a_wallet_that_refuses_ether_is_settled_and_collects_once_it_accepts() public {
        V2Wallet w = refusingWallet();
        join(address(w), MIN_BOND);
        honestRound(0, none());
        uint256 share = uint256(1 ether) / 4;
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(address(w));
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Settled(address(w), 0, uint128(share), 0, 0);
        vm.prank(OUTSIDER);
        chain.settle(l, proof); // no transfer: the refusal cannot block the settlement
        vm.assertEq(chain.nodeView(address(w)).settledRound, 1, "settled");
        refuse(
            address(w),
            abi.encodeCall(IFLChainV2.collect, ()),
            abi.encodeWithSelector(IFLChainV2.TransferFailed.selector)
        );
        w.setRefusing(false);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Collected(address(w), share);
        vm.prank(address(w));
        chain.collect();
        vm.assertEq(address(w).balance, share, "collected");
        vm.assertEq(chain.nodeView(address(w)).claimed, share, "claimed");
    }

    // ------------------------------------------------------------ slashNoReveal

    function test_slashNoReveal_emits_pays_the_bounty_and_only_once() public {
        goTo(0, IFLChainV2.Phase.Commit);
        Update memory u = updateOf(CAROL, 0);
        commit(chain, CAROL, u);
        commit(chain, BOB, updateOf(BOB, 0));
        bytes memory call = abi.encodeCall(IFLChainV2.slashNoReveal, (0, CAROL));
        refuse(OUTSIDER, call, abi.encodeWithSelector(IFLChainV2.NotSlashable.selector, 0, CAROL));
        goTo(0, IFLChainV2.Phase.Reveal);
        reveal(chain, BOB, updateOf(BOB, 0));
        vm.warp(timeOf(0, IFLChainV2.Phase.Beacon, 0) - 1);
        refuse(OUTSIDER, call, abi.encodeWithSelector(IFLChainV2.NotSlashable.selector, 0, CAROL));
        vm.warp(timeOf(0, IFLChainV2.Phase.Beacon, 0)); // revealEnd(0)
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.slashNoReveal, (0, BOB)),
            abi.encodeWithSelector(IFLChainV2.NotSlashable.selector, 0, BOB)
        );
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.slashNoReveal, (0, ALICE)),
            abi.encodeWithSelector(IFLChainV2.NotSlashable.selector, 0, ALICE)
        );
        uint256 pool = chain.accounts().pool;
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Slashed(CAROL, 0, IFLChainV2.Fault.NoReveal, NO_REVEAL, _bounty(NO_REVEAL), OUTSIDER);
        vm.prank(OUTSIDER);
        chain.slashNoReveal(0, CAROL);
        vm.assertEq(OUTSIDER.balance, _bounty(NO_REVEAL), "the bounty");
        vm.assertEq(chain.nodeView(CAROL).bond, MIN_BOND - NO_REVEAL, "bond");
        vm.assertEq(chain.nodeView(CAROL).unrevealed, 0, "unrevealed");
        vm.assertEq(chain.accounts().pool, pool + NO_REVEAL - _bounty(NO_REVEAL), "the rest to the pool");
        vm.assertEq(chain.accounts().bonds, 3 * MIN_BOND - NO_REVEAL, "bonds");
        (, IFLChainV2.CommitState state,) = chain.commitmentOf(0, CAROL);
        vm.assertEq(uint256(state), uint256(IFLChainV2.CommitState.Slashed), "marked");
        vm.assertEq(chain.roundView(0).others, 1, "in round 0's accumulator");
        refuse(CAROL, call, abi.encodeWithSelector(IFLChainV2.NotSlashable.selector, 0, CAROL));
        // in a skipped round too, long after
        vm.assertEq(chain.stakeOf(CAROL, 0), MIN_BOND, "the round in progress keeps its weight");
        vm.assertEq(chain.stakeOf(CAROL, 1), 0, "below minBond: out of the next frozen set");
    }

    function test_a_node_slashing_itself_gets_no_bounty() public {
        goTo(3, IFLChainV2.Phase.Commit);
        commit(chain, CAROL, updateOf(CAROL, 3));
        goTo(9, IFLChainV2.Phase.Attest); // round 3 was skipped long ago: still slashable
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Slashed(CAROL, 3, IFLChainV2.Fault.NoReveal, NO_REVEAL, 0, CAROL);
        vm.prank(CAROL);
        chain.slashNoReveal(3, CAROL);
        vm.assertEq(chain.accounts().pool, POOL + NO_REVEAL, "all of it to the pool");
    }

    function test_a_bounty_hunter_that_refuses_ether_is_refused() public {
        V2Wallet hunter = refusingWallet();
        goTo(0, IFLChainV2.Phase.Commit);
        commit(chain, CAROL, updateOf(CAROL, 0));
        goTo(0, IFLChainV2.Phase.Attest);
        refuse(
            address(hunter),
            abi.encodeCall(IFLChainV2.slashNoReveal, (0, CAROL)),
            abi.encodeWithSelector(IFLChainV2.TransferFailed.selector)
        );
        hunter.setRefusing(false);
        vm.prank(address(hunter));
        chain.slashNoReveal(0, CAROL);
        vm.assertEq(address(hunter).balance, _bounty(NO_REVEAL), "paid once it accepts");
    }

    // ------------------------------------------------------------ the penalty

    function test_a_penalty_is_slashed_once_per_accepted_reveal() public {
        honestRound(0, one(BOB));
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(BOB);
        uint256 pool = chain.accounts().pool;
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Slashed(BOB, 0, IFLChainV2.Fault.Penalty, PENALTY, _bounty(PENALTY), OUTSIDER);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Settled(BOB, 0, 0, 1, PENALTY);
        vm.prank(OUTSIDER);
        chain.settle(l, proof);
        vm.assertEq(OUTSIDER.balance, _bounty(PENALTY), "bounty");
        vm.assertEq(chain.accounts().pool, pool + PENALTY - _bounty(PENALTY), "pool");
        IFLChainV2.NodeView memory v = chain.nodeView(BOB);
        vm.assertEq(v.bond, MIN_BOND - PENALTY, "bond");
        vm.assertEq(v.penaltiesApplied, 1, "penaltiesApplied");
        vm.assertEq(v.lastPenaltyRound, 1, "lastPenaltyRound");
        vm.assertFalse(chain.isEligible(BOB, 1), "cooling down");
        // BOB's bond fell below minBond: no stake from round 1 on. He tops it up for round 2.
        vm.deal(BOB, PENALTY);
        vm.prank(BOB);
        chain.addBond{value: PENALTY}();
        // round 1 penalises BOB again (his reveal was not accepted: there is nothing to slash)
        honestRound(1, one(BOB));
        honestRound(2, one(BOB));
        (,, IFLChainV2.RevealOutcome outcome) = chain.commitmentOf(2, BOB);
        vm.assertEq(uint256(outcome), uint256(IFLChainV2.RevealOutcome.RejectedIneligible), "ineligible in round 2");
        (l, proof) = leafOf(BOB);
        vm.assertEq(l.cumPenalties, 3, "the table recorded three penalties");
        vm.prank(OUTSIDER);
        chain.settle(l, proof);
        v = chain.nodeView(BOB);
        vm.assertEq(v.bond, MIN_BOND, "no second slash without a new accepted reveal");
        vm.assertEq(v.penaltiesApplied, 1, "still one applied");
        vm.assertEq(v.cumPenalties, 3, "all recorded");
    }

    function test_commit_and_no_reveal_and_penalty_in_one_round_is_one_slash() public {
        goTo(0, IFLChainV2.Phase.Commit);
        chain.openRound(0);
        address[] memory revealers = new address[](2);
        revealers[0] = ALICE;
        revealers[1] = BOB;
        Update[] memory updates = commitAll(0, members);
        goTo(0, IFLChainV2.Phase.Reveal);
        revealAll(revealers, updates);
        goTo(0, IFLChainV2.Phase.Attest);
        // a table that penalises CAROL, who never revealed
        (IFLChainV2.Leaf[] memory leaves, uint128 earned) = tableFor(0, one(CAROL));
        IFLChainV2.Result memory r = resultFor(0, leaves, earned);
        attestAll(0, revealers, r);
        finalizeWith(0, leaves, r);
        vm.prank(OUTSIDER);
        chain.slashNoReveal(0, CAROL);
        settle(CAROL, OUTSIDER);
        IFLChainV2.NodeView memory v = chain.nodeView(CAROL);
        vm.assertEq(v.bond, MIN_BOND - NO_REVEAL, "only the no-reveal slash");
        vm.assertEq(v.penaltiesApplied, 0, "no penalty without an accepted reveal");
        vm.assertEq(v.cumPenalties, 1, "recorded for eligibility");
    }

    // ------------------------------------------------------------ the wrong vote

    function _roundWithRogueVoter(address rogue) internal returns (IFLChainV2.Result memory honest) {
        goTo(0, IFLChainV2.Phase.Commit);
        chain.openRound(0);
        Update[] memory updates = commitAll(0, members);
        goTo(0, IFLChainV2.Phase.Reveal);
        revealAll(members, updates);
        goTo(0, IFLChainV2.Phase.Attest);
        (IFLChainV2.Leaf[] memory leaves, uint128 earned) = tableFor(0, none());
        honest = resultFor(0, leaves, earned);
        IFLChainV2.Result memory wrong = makeResult("rogue", bytes32(0), 0);
        for (uint256 i = 0; i < members.length; ++i) {
            vm.prank(members[i]);
            chain.attest(0, members[i] == rogue ? wrong : honest);
        }
        delete table;
        for (uint256 i = 0; i < leaves.length; ++i) {
            table.push(leaves[i]);
        }
    }

    function test_a_wrong_vote_is_slashed_when_the_round_is_final() public {
        IFLChainV2.Result memory honest = _roundWithRogueVoter(CAROL);
        finalizeWith(0, table, honest);
        vm.assertEq(chain.nodeView(CAROL).lastVoteRound, 1, "CAROL's vote is pending");
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(CAROL);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Slashed(CAROL, 0, IFLChainV2.Fault.WrongVote, WRONG_VOTE, _bounty(WRONG_VOTE), OUTSIDER);
        vm.prank(OUTSIDER);
        chain.settle(l, proof);
        vm.assertEq(chain.nodeView(CAROL).bond, MIN_BOND - WRONG_VOTE, "slashed");
        vm.assertEq(chain.nodeView(CAROL).lastVoteRound, 0, "the vote is cleared");
        vm.assertEq(chain.nodeView(CAROL).cumEarned, SHARE, "and credited for its update");
        settle(ALICE, OUTSIDER);
        vm.assertEq(chain.nodeView(ALICE).bond, MIN_BOND, "the right vote costs nothing");
        vm.assertEq(chain.nodeView(ALICE).lastVoteRound, 0, "cleared too");
    }

    function test_a_vote_in_a_skipped_round_costs_nothing() public {
        _roundWithRogueVoter(CAROL); // nobody finalizes: round 0 is skipped
        goTo(1, IFLChainV2.Phase.Commit);
        vm.recordLogs();
        commit(chain, CAROL, makeUpdate(CAROL, 1, sha256(GENESIS), 64));
        vm.assertEq(vm.getRecordedLogs().length, 1, "Committed only: no Slashed");
        vm.assertEq(chain.nodeView(CAROL).bond, MIN_BOND, "bond");
        vm.assertEq(chain.nodeView(CAROL).lastVoteRound, 0, "the vote is cleared");
    }

    // ------------------------------------------------------------ withdraw

    function test_withdraw_after_the_exit_delay() public {
        vm.warp(T0 + 10);
        vm.prank(ALICE);
        chain.requestExit();
        uint64 withdrawableAt = uint64(T0 + 10 + EXIT_DELAY);
        bytes memory call = abi.encodeCall(IFLChainV2.withdraw, ());
        refuse(BOB, call, abi.encodeWithSelector(IFLChainV2.NotExiting.selector, BOB));
        refuse(OUTSIDER, call, abi.encodeWithSelector(IFLChainV2.NotExiting.selector, OUTSIDER));
        vm.warp(withdrawableAt - 1);
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.WithdrawalTooEarly.selector, withdrawableAt));
        vm.warp(withdrawableAt);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Withdrawn(ALICE, MIN_BOND);
        vm.prank(ALICE);
        chain.withdraw();
        vm.assertEq(ALICE.balance, MIN_BOND, "the bond back");
        vm.assertEq(chain.accounts().bonds, 2 * MIN_BOND, "bonds");
        vm.assertEq(uint256(chain.nodeView(ALICE).status), uint256(IFLChainV2.Status.Withdrawn), "status");
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.NotExiting.selector, ALICE));
    }

    function test_withdraw_refused_until_settled() public {
        goTo(0, IFLChainV2.Phase.Commit);
        vm.prank(ALICE);
        chain.requestExit();
        honestRound(0, none());
        vm.warp(T0 + EXIT_DELAY + 1);
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.withdraw, ()),
            abi.encodeWithSelector(IFLChainV2.SettlementPending.selector, ALICE, 0)
        );
        settle(ALICE, OUTSIDER);
        vm.prank(ALICE);
        chain.withdraw();
        vm.assertEq(ALICE.balance, MIN_BOND, "the bond");
        vm.prank(ALICE);
        chain.collect();
        vm.assertEq(ALICE.balance, MIN_BOND + SHARE, "and the reward, collected after withdrawing");
    }

    function test_withdraw_refused_with_an_unrevealed_commitment() public {
        goTo(0, IFLChainV2.Phase.Commit);
        commit(chain, ALICE, updateOf(ALICE, 0));
        vm.prank(ALICE);
        chain.requestExit();
        vm.warp(T0 + EXIT_DELAY + 1);
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.withdraw, ()),
            abi.encodeWithSelector(IFLChainV2.UnrevealedCommitment.selector, 1)
        );
        vm.prank(ALICE);
        chain.slashNoReveal(0, ALICE);
        vm.prank(ALICE);
        chain.withdraw();
        vm.assertEq(ALICE.balance, MIN_BOND - NO_REVEAL, "the bond less the slash");
    }

    function test_withdraw_refused_while_a_round_it_took_part_in_is_undecided() public {
        // unreachable while exitDelay ≥ 2·roundLength (the guard the spec keeps): move
        // withdrawableAt back in storage to reach it
        goTo(0, IFLChainV2.Phase.Commit);
        commit(chain, ALICE, updateOf(ALICE, 0));
        vm.prank(ALICE);
        chain.requestExit();
        bytes32 slot = bytes32(uint256(keccak256(abi.encode(ALICE, NODES_SLOT))) + ACCOUNT_OFFSET);
        bytes32 word = vm.load(address(chain), slot);
        uint256 withdrawableAtMask = uint256(type(uint64).max) << 128;
        vm.store(address(chain), slot, bytes32(uint256(word) & ~withdrawableAtMask));
        vm.assertEq(chain.nodeView(ALICE).withdrawableAt, 0, "the slot is the one nodeView reads");
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.withdraw, ()),
            abi.encodeWithSelector(IFLChainV2.RoundUndecided.selector, 0)
        );
    }

    function test_a_wallet_that_refuses_its_bond_cannot_withdraw() public {
        V2Wallet w = refusingWallet();
        join(address(w), MIN_BOND);
        vm.prank(address(w));
        chain.requestExit();
        vm.warp(block.timestamp + EXIT_DELAY);
        refuse(
            address(w),
            abi.encodeCall(IFLChainV2.withdraw, ()),
            abi.encodeWithSelector(IFLChainV2.TransferFailed.selector)
        );
        w.setRefusing(false);
        vm.prank(address(w));
        chain.withdraw();
        vm.assertEq(address(w).balance, MIN_BOND, "withdrawn once it accepts");
    }

    function test_a_lagging_node_cannot_commit_or_attest() public {
        honestRound(0, none());
        goTo(1, IFLChainV2.Phase.Commit);
        chain.openRound(1);
        bytes32 c = commitmentFor(chain, ALICE, updateOf(ALICE, 1));
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.commit, (1, c)),
            abi.encodeWithSelector(IFLChainV2.SettlementPending.selector, ALICE, 0)
        );
        goTo(1, IFLChainV2.Phase.Attest);
        IFLChainV2.Result memory r = makeResult("round 1", bytes32(0), 0);
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.attest, (1, r)),
            abi.encodeWithSelector(IFLChainV2.SettlementPending.selector, ALICE, 0)
        );
        settle(ALICE, ALICE);
        vm.prank(ALICE);
        chain.attest(1, r);
    }

    function test_stake_weights_are_frozen_within_a_round() public {
        goTo(0, IFLChainV2.Phase.Commit);
        commit(chain, CAROL, updateOf(CAROL, 0));
        goTo(0, IFLChainV2.Phase.Attest);
        vm.prank(OUTSIDER);
        chain.slashNoReveal(0, CAROL);
        vm.deal(ALICE, 5 ether);
        vm.prank(ALICE);
        chain.addBond{value: 5 ether}();
        vm.prank(BOB);
        chain.requestExit();
        vm.assertEq(chain.roundView(0).totalStake, 3 ether, "round 0's total");
        IFLChainV2.Result memory r = makeResult("x", bytes32(0), 0); // sha256: before the prank
        vm.prank(CAROL);
        bytes32 h = chain.attest(0, r);
        vm.assertEq(chain.tallyOf(0, h), MIN_BOND, "CAROL votes with the weight frozen at S(0)");
        vm.assertEq(chain.roundView(1).totalStake, 6 ether, "round 1: ALICE 6, BOB gone, CAROL below minBond");
    }
}

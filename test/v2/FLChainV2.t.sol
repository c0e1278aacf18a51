// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../contracts/interfaces/IFLChainV2.sol";
import {vm} from "../utils/Vm.sol";
import {Update} from "./utils/V2Test.sol";
import {V2Wallet} from "../../tests/contract/V2Wallet.sol";
import {V2World} from "./utils/V2World.sol";

/// @notice FLChainV2's identity and round entry points: each refusal (a custom error of
///         IFLChainV2, balances unchanged), each event (expectEmit, every field), and the round
///         timeline at each deadline — the commit, reveal, beacon and attest windows, finality only
///         before S(r + 1), a skipped round whose base and reservation carry over.
/// @dev Settlement, slashing and withdrawal: FLChainV2Settle.t.sol; governance, pause and
///      deployment: FLChainV2Governance.t.sol.
contract FLChainV2Test is V2World {
    bytes32 private constant CLOCK_SLOT = bytes32(uint256(0));

    function setUp() public {
        setUpWorld(worldRules());
    }

    function _abc() internal pure returns (address[] memory list) {
        list = new address[](3);
        list[0] = ALICE;
        list[1] = BOB;
        list[2] = CAROL;
    }

    // ------------------------------------------------------------ register, addBond, exit

    function test_register_emits_and_joins_the_next_round() public {
        vm.warp(timeOf(0, IFLChainV2.Phase.Commit, 5));
        vm.deal(OUTSIDER, 2 ether);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Registered(OUTSIDER, 3, 2 ether, 1);
        vm.prank(OUTSIDER);
        chain.register{value: 2 ether}();
        vm.assertEq(chain.nodeCount(), 4, "nodeCount");
        vm.assertEq(chain.nodeAt(3), OUTSIDER, "nodeAt");
        vm.assertEq(chain.stakeOf(OUTSIDER, 0), 0, "not in the frozen set of the round in progress");
        vm.assertEq(chain.stakeOf(OUTSIDER, 1), 2 ether, "in the next round's");
        vm.assertEq(chain.roundView(0).totalStake, 3 ether, "round 0's total unchanged");
        vm.assertEq(chain.roundView(1).totalStake, 5 ether, "round 1's total");
        vm.assertEq(chain.accounts().bonds, 5 ether, "bonds");
        vm.assertEq(address(chain).balance, POOL + 5 ether, "balance");
    }

    function test_register_refusals() public {
        bytes memory call = abi.encodeCall(IFLChainV2.register, ());
        refuse(ALICE, MIN_BOND, call, abi.encodeWithSelector(IFLChainV2.AlreadyRegistered.selector, ALICE));
        refuse(
            OUTSIDER,
            MIN_BOND - 1,
            call,
            abi.encodeWithSelector(IFLChainV2.BondTooSmall.selector, MIN_BOND - 1, MIN_BOND)
        );
        // the registry's count lives in the Clock word (slot 0, bits 32–63): fill it
        bytes32 clock = vm.load(address(chain), CLOCK_SLOT);
        vm.store(address(chain), CLOCK_SLOT, clock | bytes32(uint256(1 << 16) << 32));
        refuse(OUTSIDER, MIN_BOND, call, abi.encodeWithSelector(IFLChainV2.RegistryFull.selector));
    }

    function test_a_withdrawn_wallet_is_retired() public {
        vm.prank(ALICE);
        chain.requestExit();
        vm.warp(block.timestamp + EXIT_DELAY);
        vm.prank(ALICE);
        chain.withdraw();
        refuse(
            ALICE,
            MIN_BOND,
            abi.encodeCall(IFLChainV2.register, ()),
            abi.encodeWithSelector(IFLChainV2.WalletRetired.selector, ALICE)
        );
    }

    function test_addBond_counts_from_the_next_round() public {
        goTo(0, IFLChainV2.Phase.Reveal);
        vm.deal(ALICE, 3 ether);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.BondAdded(ALICE, 3 ether, 4 ether, 1);
        vm.prank(ALICE);
        chain.addBond{value: 3 ether}();
        vm.assertEq(chain.stakeOf(ALICE, 0), MIN_BOND, "the round in progress keeps its weight");
        vm.assertEq(chain.stakeOf(ALICE, 1), 4 ether, "the next round has the new bond");
        vm.assertEq(chain.roundView(1).totalStake, 6 ether, "total of round 1");
        vm.assertEq(chain.roundView(0).totalStake, 3 ether, "total of round 0");
    }

    function test_addBond_and_requestExit_refused_unless_active() public {
        refuse(
            OUTSIDER,
            1 ether,
            abi.encodeCall(IFLChainV2.addBond, ()),
            abi.encodeWithSelector(IFLChainV2.NotActive.selector, OUTSIDER)
        );
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.requestExit, ()),
            abi.encodeWithSelector(IFLChainV2.NotActive.selector, OUTSIDER)
        );
        vm.prank(ALICE);
        chain.requestExit();
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.requestExit, ()),
            abi.encodeWithSelector(IFLChainV2.NotActive.selector, ALICE)
        );
        refuse(
            ALICE,
            1 ether,
            abi.encodeCall(IFLChainV2.addBond, ()),
            abi.encodeWithSelector(IFLChainV2.NotActive.selector, ALICE)
        );
    }

    function test_requestExit_emits_and_leaves_the_next_round() public {
        goTo(2, IFLChainV2.Phase.Beacon);
        uint64 withdrawableAt = uint64(block.timestamp + EXIT_DELAY);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.ExitRequested(BOB, 3, withdrawableAt);
        vm.prank(BOB);
        chain.requestExit();
        IFLChainV2.NodeView memory v = chain.nodeView(BOB);
        vm.assertEq(uint256(v.status), uint256(IFLChainV2.Status.Exiting), "status");
        vm.assertEq(v.withdrawableAt, withdrawableAt, "withdrawableAt");
        vm.assertEq(chain.stakeOf(BOB, 2), MIN_BOND, "the round in progress keeps the weight");
        vm.assertEq(chain.stakeOf(BOB, 3), 0, "no stake from the next round");
        vm.assertEq(chain.roundView(3).totalStake, 2 ether, "total of round 3");
    }

    function test_fundPool_emits_and_adds() public {
        vm.deal(OUTSIDER, 2 ether);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.PoolFunded(OUTSIDER, 2 ether);
        vm.prank(OUTSIDER);
        chain.fundPool{value: 2 ether}();
        vm.assertEq(chain.accounts().pool, POOL + 2 ether, "pool");
    }

    function test_collect_refused_when_nothing_is_owed() public {
        refuse(ALICE, abi.encodeCall(IFLChainV2.collect, ()), abi.encodeWithSelector(IFLChainV2.NothingOwed.selector));
    }

    // ------------------------------------------------------------ openRound

    function test_openRound_reserves_min_of_emission_and_pool() public {
        goTo(0, IFLChainV2.Phase.Commit);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.RoundOpened(0, 1 ether, 3 ether);
        vm.prank(OUTSIDER);
        chain.openRound(0);
        IFLChainV2.Accounts memory a = chain.accounts();
        vm.assertEq(a.reserved, 1 ether, "reserved");
        vm.assertEq(a.pool, POOL - 1 ether, "pool");
        vm.assertTrue(chain.roundView(0).opened, "opened");
        vm.assertEq(chain.roundView(0).reserved, 1 ether, "round 0's reservation");
    }

    function test_openRound_with_a_small_pool_reserves_the_pool() public {
        IFLChainV2.Rules memory r = worldRules();
        r.emissionWei = 100 ether;
        chain = deployV2(defaultDeployment(), r);
        vm.deal(FUNDER, 3 ether);
        vm.prank(FUNDER);
        chain.fundPool{value: 3 ether}();
        goTo(0, IFLChainV2.Phase.Reveal);
        chain.openRound(0);
        vm.assertEq(chain.accounts().reserved, 3 ether, "all the pool");
        vm.assertEq(chain.accounts().pool, 0, "pool empty");
    }

    function test_openRound_refusals() public {
        bytes memory open0 = abi.encodeCall(IFLChainV2.openRound, (0));
        vm.warp(T0 - 1);
        refuse(OUTSIDER, open0, abi.encodeWithSelector(IFLChainV2.NotOpenable.selector, 0));
        goTo(0, IFLChainV2.Phase.Commit);
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.openRound, (1)),
            abi.encodeWithSelector(IFLChainV2.NotOpenable.selector, 1)
        );
        // the last second of the reveal window still opens; revealEnd does not
        vm.warp(timeOf(0, IFLChainV2.Phase.Beacon, 0));
        refuse(OUTSIDER, open0, abi.encodeWithSelector(IFLChainV2.NotOpenable.selector, 0));
        vm.warp(timeOf(0, IFLChainV2.Phase.Beacon, 0) - 1);
        chain.openRound(0);
        refuse(OUTSIDER, open0, abi.encodeWithSelector(IFLChainV2.RoundAlreadyOpen.selector, 0));
    }

    // ------------------------------------------------------------ commit

    function test_commit_emits_and_stores() public {
        goTo(0, IFLChainV2.Phase.Commit);
        Update memory u = updateOf(ALICE, 0);
        bytes32 c = commitmentFor(chain, ALICE, u);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Committed(0, ALICE, c);
        vm.prank(ALICE);
        chain.commit(0, c);
        (bytes32 stored, IFLChainV2.CommitState state,) = chain.commitmentOf(0, ALICE);
        vm.assertEq(stored, c, "commitment");
        vm.assertEq(uint256(state), uint256(IFLChainV2.CommitState.Committed), "state");
        IFLChainV2.NodeView memory v = chain.nodeView(ALICE);
        vm.assertEq(v.unrevealed, 1, "unrevealed");
        vm.assertEq(v.lastParticipatedRound, 1, "lastParticipatedRound");
    }

    function test_commit_refusals() public {
        bytes32 c = commitmentFor(chain, ALICE, updateOf(ALICE, 0));
        bytes memory call = abi.encodeCall(IFLChainV2.commit, (0, c));
        vm.warp(T0 - 1);
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.NotInCommitWindow.selector, 0));
        goTo(0, IFLChainV2.Phase.Commit);
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.commit, (1, c)),
            abi.encodeWithSelector(IFLChainV2.NotInCommitWindow.selector, 1)
        );
        refuse(OUTSIDER, call, abi.encodeWithSelector(IFLChainV2.NotInFrozenSet.selector, 0, OUTSIDER));
        // registered in round 0: in the frozen set of round 1 only
        register(chain, OUTSIDER, MIN_BOND);
        refuse(OUTSIDER, call, abi.encodeWithSelector(IFLChainV2.NotInFrozenSet.selector, 0, OUTSIDER));
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.commit, (0, bytes32(uint256(0xffff)))),
            abi.encodeWithSelector(IFLChainV2.CommitmentMismatch.selector, 0, ALICE)
        );
        vm.prank(ALICE);
        chain.commit(0, c);
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.AlreadyCommitted.selector, 0, ALICE));
        vm.warp(timeOf(0, IFLChainV2.Phase.Reveal, 0));
        refuse(BOB, call, abi.encodeWithSelector(IFLChainV2.NotInCommitWindow.selector, 0));
    }

    function test_an_exiting_node_keeps_the_round_in_progress_only() public {
        goTo(0, IFLChainV2.Phase.Commit);
        vm.prank(ALICE);
        chain.requestExit();
        Update memory u = updateOf(ALICE, 0);
        commit(chain, ALICE, u); // still in round 0's frozen set
        goTo(1, IFLChainV2.Phase.Commit);
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.commit, (1, commitmentFor(chain, ALICE, updateOf(ALICE, 1)))),
            abi.encodeWithSelector(IFLChainV2.NotInFrozenSet.selector, 1, ALICE)
        );
    }

    // ------------------------------------------------------------ reveal

    function test_reveal_emits_and_accepts() public {
        goTo(0, IFLChainV2.Phase.Commit);
        Update memory u = updateOf(ALICE, 0);
        commit(chain, ALICE, u);
        goTo(0, IFLChainV2.Phase.Reveal);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Revealed(
            0, ALICE, sha256(u.payload), u.baseDigest, u.roiBps, u.salt, IFLChainV2.RevealOutcome.Accepted, 1_536
        );
        IFLChainV2.RevealOutcome outcome = reveal(chain, ALICE, u);
        vm.assertEq(uint256(outcome), uint256(IFLChainV2.RevealOutcome.Accepted), "outcome");
        (, IFLChainV2.CommitState state, IFLChainV2.RevealOutcome stored) = chain.commitmentOf(0, ALICE);
        vm.assertEq(uint256(state), uint256(IFLChainV2.CommitState.Revealed), "state");
        vm.assertEq(uint256(stored), uint256(IFLChainV2.RevealOutcome.Accepted), "stored outcome");
        IFLChainV2.NodeView memory v = chain.nodeView(ALICE);
        vm.assertEq(v.unrevealed, 0, "unrevealed");
        vm.assertEq(v.acceptedReveals, 1, "acceptedReveals");
        vm.assertEq(v.lastAcceptedRound, 1, "lastAcceptedRound");
        vm.assertEq(chain.roundView(0).reveals, 1, "the accumulator counts it");
    }

    function test_reveal_refusals() public {
        goTo(0, IFLChainV2.Phase.Commit);
        Update memory u = updateOf(ALICE, 0);
        bytes memory call = abi.encodeCall(IFLChainV2.reveal, (0, u.payload, u.baseDigest, u.roiBps, u.salt));
        commit(chain, ALICE, u);
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.NotInRevealWindow.selector, 0));
        goTo(0, IFLChainV2.Phase.Reveal);
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.reveal, (1, u.payload, u.baseDigest, u.roiBps, u.salt)),
            abi.encodeWithSelector(IFLChainV2.NotInRevealWindow.selector, 1)
        );
        refuse(BOB, call, abi.encodeWithSelector(IFLChainV2.NoCommitment.selector, 0, BOB));
        bytes memory big = new bytes(16_385);
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.reveal, (0, big, u.baseDigest, u.roiBps, u.salt)),
            abi.encodeWithSelector(IFLChainV2.PayloadTooLarge.selector, 16_385, 16_384)
        );
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.reveal, (0, u.payload, u.baseDigest, u.roiBps, bytes32(0))),
            abi.encodeWithSelector(IFLChainV2.CommitmentMismatch.selector, 0, ALICE)
        );
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.reveal, (0, u.payload, u.baseDigest, u.roiBps + 1, u.salt)),
            abi.encodeWithSelector(IFLChainV2.CommitmentMismatch.selector, 0, ALICE)
        );
        reveal(chain, ALICE, u);
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.AlreadyRevealed.selector, 0, ALICE));
        vm.warp(timeOf(0, IFLChainV2.Phase.Beacon, 0));
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.NotInRevealWindow.selector, 0));
    }

    function test_reveal_outcomes_in_the_machines_order() public {
        IFLChainV2.Rules memory r = worldRules();
        r.probationRounds = 0;
        r.eligibilityMinScoreBps = 1; // a fresh record (score 0) past probation is ineligible
        setUpFresh(r);
        goTo(0, IFLChainV2.Phase.Commit);
        bytes32 genesis = chain.latest().mergedDigest;
        Update memory stale = makeUpdate(ALICE, 0, keccak256("another base"), 64);
        stale.roiBps = 1_000_000; // the stale base is decided first
        Update memory roi = makeUpdate(BOB, 0, genesis, 64);
        roi.roiBps = -5_001;
        Update memory ineligible = makeUpdate(CAROL, 0, genesis, 64);
        commit(chain, ALICE, stale);
        commit(chain, BOB, roi);
        commit(chain, CAROL, ineligible);
        goTo(0, IFLChainV2.Phase.Reveal);
        vm.assertEq(uint256(reveal(chain, ALICE, stale)), uint256(IFLChainV2.RevealOutcome.RejectedStaleBase), "stale");
        vm.assertEq(uint256(reveal(chain, BOB, roi)), uint256(IFLChainV2.RevealOutcome.RejectedAbnormalRoi), "roi");
        vm.assertEq(
            uint256(reveal(chain, CAROL, ineligible)),
            uint256(IFLChainV2.RevealOutcome.RejectedIneligible),
            "ineligible"
        );
        vm.assertEq(chain.nodeView(CAROL).acceptedReveals, 0, "a rejected reveal is not counted");
    }

    /// @dev The chain has no duplicate rule: a byte-for-byte copy of another node's update or of
    ///      the genesis model is Accepted and counted; the merge penalises it (its metadata binds
    ///      another reveal).
    function test_a_copied_payload_is_accepted() public {
        goTo(0, IFLChainV2.Phase.Commit);
        Update memory a = updateOf(ALICE, 0);
        Update memory copy = updateOf(BOB, 0);
        copy.payload = a.payload;
        Update memory genesisCopy = updateOf(CAROL, 0);
        genesisCopy.payload = GENESIS;
        commit(chain, ALICE, a);
        commit(chain, BOB, copy);
        commit(chain, CAROL, genesisCopy);
        goTo(0, IFLChainV2.Phase.Reveal);
        reveal(chain, ALICE, a);
        vm.assertEq(uint256(reveal(chain, BOB, copy)), uint256(IFLChainV2.RevealOutcome.Accepted), "copy");
        vm.assertEq(
            uint256(reveal(chain, CAROL, genesisCopy)), uint256(IFLChainV2.RevealOutcome.Accepted), "genesis copy"
        );
        vm.assertEq(chain.nodeView(BOB).acceptedReveals, 1, "the copy is counted");
        vm.assertEq(chain.nodeView(CAROL).acceptedReveals, 1, "the genesis copy is counted");
        vm.assertEq(chain.roundView(0).reveals, 3, "the accumulator holds all three");
    }

    // ------------------------------------------------------------ postBeacon

    function test_postBeacon_emits_and_refusals() public {
        bytes memory sig = new bytes(96);
        sig[0] = 0x80;
        bytes memory call = abi.encodeCall(IFLChainV2.postBeacon, (0, sig));
        goTo(0, IFLChainV2.Phase.Reveal);
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.NotInBeaconWindow.selector, 0));
        goTo(0, IFLChainV2.Phase.Beacon);
        refuse(OUTSIDER, call, abi.encodeWithSelector(IFLChainV2.NotInFrozenSet.selector, 0, OUTSIDER));
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.postBeacon, (0, new bytes(95))),
            abi.encodeWithSelector(IFLChainV2.InvalidBeaconSignature.selector, 95)
        );
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.BeaconPosted(0, chain.beaconRound(0), ALICE, sig);
        vm.prank(ALICE);
        chain.postBeacon(0, sig);
        vm.assertTrue(chain.hasPostedBeacon(0, ALICE), "posted");
        vm.assertEq(chain.roundView(0).others, 1, "counted");
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.BeaconAlreadyPosted.selector, 0, ALICE));
        vm.prank(BOB);
        chain.postBeacon(0, sig); // once per node, not once per round
        goTo(0, IFLChainV2.Phase.Attest);
        refuse(CAROL, call, abi.encodeWithSelector(IFLChainV2.NotInBeaconWindow.selector, 0));
    }

    function test_beaconRound_is_the_first_produced_after_revealEnd_plus_delay() public view {
        for (uint256 r = 0; r < 3; ++r) {
            // beacon round k is produced at beaconGenesis + (k − 1)·period
            uint256 due = timeOf(r, IFLChainV2.Phase.Beacon, 0) + 10;
            uint256 k = chain.beaconRound(r);
            vm.assertGe(T0 - 100 + (k - 1) * 3, due, "produced at or after revealEnd + delay");
            vm.assertLt(T0 - 100 + (k - 2) * 3, due, "the first such");
        }
    }

    // ------------------------------------------------------------ attest, finalize

    function _roundZeroRevealed() internal returns (IFLChainV2.Result memory r, IFLChainV2.Leaf[] memory leaves) {
        goTo(0, IFLChainV2.Phase.Commit);
        chain.openRound(0);
        Update[] memory updates = commitAll(0, _abc());
        goTo(0, IFLChainV2.Phase.Reveal);
        revealAll(_abc(), updates);
        uint128 earned;
        (leaves, earned) = tableFor(0, none());
        r = resultFor(0, leaves, earned);
    }

    function test_attest_emits_and_tallies() public {
        (IFLChainV2.Result memory r,) = _roundZeroRevealed();
        goTo(0, IFLChainV2.Phase.Attest);
        bytes32 h = resultHash(chain, 0, r);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Attested(
            0, ALICE, h, MIN_BOND, r.mergedDigest, r.mergedCid, r.manifestCid, r.settlementRoot, r.roundEarned
        );
        vm.prank(ALICE);
        bytes32 returned = chain.attest(0, r);
        vm.assertEq(returned, h, "the returned hash");
        vm.assertEq(chain.tallyOf(0, h), MIN_BOND, "tally");
        IFLChainV2.NodeView memory v = chain.nodeView(ALICE);
        vm.assertEq(v.lastAttestedRound, 1, "lastAttestedRound");
        vm.assertEq(v.lastVoteRound, 1, "a pending vote");
        vm.assertEq(v.lastVoteHash, h, "its hash");
    }

    function test_attest_refusals() public {
        (IFLChainV2.Result memory r,) = _roundZeroRevealed();
        bytes memory call = abi.encodeCall(IFLChainV2.attest, (0, r));
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.NotInAttestWindow.selector, 0));
        goTo(0, IFLChainV2.Phase.Attest);
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.attest, (1, r)),
            abi.encodeWithSelector(IFLChainV2.NotInAttestWindow.selector, 1)
        );
        refuse(OUTSIDER, call, abi.encodeWithSelector(IFLChainV2.NotInFrozenSet.selector, 0, OUTSIDER));
        IFLChainV2.Result memory bad = _copy(r);
        bad.mergedCid = abi.encodePacked(bytes4(0x01551220), keccak256("another model"));
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.attest, (0, bad)),
            abi.encodeWithSelector(IFLChainV2.CidDigestMismatch.selector)
        );
        bad = resultFor(0, new IFLChainV2.Leaf[](0), 0);
        bad.manifestCid = abi.encodePacked(bytes4(0x01711220), keccak256("dag-cbor"));
        refuse(
            ALICE, abi.encodeCall(IFLChainV2.attest, (0, bad)), abi.encodeWithSelector(IFLChainV2.InvalidCid.selector)
        );
        bad.manifestCid = hex"0170";
        refuse(
            ALICE, abi.encodeCall(IFLChainV2.attest, (0, bad)), abi.encodeWithSelector(IFLChainV2.InvalidCid.selector)
        );
        vm.prank(ALICE);
        chain.attest(0, r);
        refuse(ALICE, call, abi.encodeWithSelector(IFLChainV2.AlreadyAttested.selector, 0, ALICE));
        // a different result does not make a second vote
        refuse(
            ALICE,
            abi.encodeCall(IFLChainV2.attest, (0, makeResult("other", bytes32(0), 0))),
            abi.encodeWithSelector(IFLChainV2.AlreadyAttested.selector, 0, ALICE)
        );
    }

    function _copy(IFLChainV2.Result memory r) internal pure returns (IFLChainV2.Result memory) {
        return abi.decode(abi.encode(r), (IFLChainV2.Result));
    }

    function test_finalize_emits_and_moves_the_base() public {
        (IFLChainV2.Result memory r,) = _roundZeroRevealed();
        goTo(0, IFLChainV2.Phase.Attest);
        vm.prank(ALICE);
        chain.attest(0, r);
        vm.prank(BOB);
        chain.attest(0, r);
        bytes32 h = resultHash(chain, 0, r);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Finalized(0, h, 2 ether, 3 ether);
        vm.prank(OUTSIDER);
        chain.finalize(0, r);
        IFLChainV2.Latest memory l = chain.latest();
        vm.assertEq(l.roundPlusOne, 1, "round 0 is the latest final");
        vm.assertEq(l.mergedDigest, r.mergedDigest, "its model");
        vm.assertEq(l.mergedCid, r.mergedCid, "its CID");
        vm.assertEq(l.manifestCid, r.manifestCid, "its manifest");
        vm.assertEq(l.settlementRoot, r.settlementRoot, "its root");
        vm.assertEq(chain.roundView(0).finalResult, h, "final result");
        IFLChainV2.Accounts memory a = chain.accounts();
        vm.assertEq(a.claimable, r.roundEarned, "claimable");
        vm.assertEq(a.reserved, 0, "the reservation is spent");
        vm.assertEq(a.pool, POOL - r.roundEarned, "the dust returns to the pool");
    }

    function test_finalize_refusals() public {
        (IFLChainV2.Result memory r,) = _roundZeroRevealed();
        bytes memory call = abi.encodeCall(IFLChainV2.finalize, (0, r));
        refuse(OUTSIDER, call, abi.encodeWithSelector(IFLChainV2.NotInAttestWindow.selector, 0));
        goTo(0, IFLChainV2.Phase.Attest);
        vm.prank(ALICE);
        chain.attest(0, r);
        // 1 of 3 ether: ⌈666 666 · 3 ether / 10⁶⌉ needed
        uint256 total = 3 ether;
        uint256 needed = (666_666 * total + 999_999) / 1_000_000;
        refuse(OUTSIDER, call, abi.encodeWithSelector(IFLChainV2.BelowFinality.selector, MIN_BOND, needed));
        IFLChainV2.Result memory greedy = _copy(r);
        greedy.roundEarned = 1 ether + 1;
        vm.prank(BOB);
        chain.attest(0, greedy);
        vm.prank(CAROL);
        chain.attest(0, greedy);
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.finalize, (0, greedy)),
            abi.encodeWithSelector(IFLChainV2.OverBudget.selector, 1 ether + 1, 1 ether)
        );
        vm.assertEq(chain.tallyOf(0, resultHash(chain, 0, greedy)), 2 ether, "greedy tally");
    }

    function test_finalize_twice_refused() public {
        honestRound(0, none());
        IFLChainV2.Result memory other = makeResult("other", bytes32(0), 0);
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.finalize, (0, other)),
            abi.encodeWithSelector(IFLChainV2.AlreadyFinal.selector, 0)
        );
    }

    // ------------------------------------------------------------ the timeline

    function test_phases_at_each_boundary() public view {
        _phase(T0 - 1, 0, IFLChainV2.Phase.NotStarted);
        _phase(T0, 0, IFLChainV2.Phase.Commit);
        _phase(T0 + COMMIT - 1, 0, IFLChainV2.Phase.Commit);
        _phase(T0 + COMMIT, 0, IFLChainV2.Phase.Reveal);
        _phase(T0 + COMMIT + REVEAL - 1, 0, IFLChainV2.Phase.Reveal);
        _phase(T0 + COMMIT + REVEAL, 0, IFLChainV2.Phase.Beacon);
        _phase(T0 + COMMIT + REVEAL + BEACON - 1, 0, IFLChainV2.Phase.Beacon);
        _phase(T0 + COMMIT + REVEAL + BEACON, 0, IFLChainV2.Phase.Attest);
        _phase(T0 + ROUND - 1, 0, IFLChainV2.Phase.Attest);
        _phase(T0 + ROUND, 1, IFLChainV2.Phase.Commit);
        _phase(T0 + 7 * ROUND + COMMIT, 7, IFLChainV2.Phase.Reveal);
    }

    function _phase(uint256 ts, uint256 round, IFLChainV2.Phase phase) internal view {
        (uint256 r, IFLChainV2.Phase p) = chain.phaseAt(ts);
        vm.assertEq(r, round, "round");
        vm.assertEq(uint256(p), uint256(phase), "phase");
    }

    function test_a_result_is_final_only_before_the_next_round_starts() public {
        (IFLChainV2.Result memory r,) = _roundZeroRevealed();
        vm.warp(timeOf(0, IFLChainV2.Phase.Attest, 0));
        vm.prank(ALICE);
        chain.attest(0, r);
        vm.warp(T0 + ROUND - 1);
        vm.prank(BOB);
        chain.attest(0, r);
        uint256 snap = vm.snapshotState();
        vm.prank(OUTSIDER);
        chain.finalize(0, r); // the deadline's last second
        vm.assertEq(chain.latest().roundPlusOne, 1, "final at S(1) - 1");
        vm.revertToState(snap);
        vm.warp(T0 + ROUND); // S(1): skipped for good
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.finalize, (0, r)),
            abi.encodeWithSelector(IFLChainV2.NotInAttestWindow.selector, 0)
        );
        refuse(
            CAROL,
            abi.encodeCall(IFLChainV2.attest, (0, r)),
            abi.encodeWithSelector(IFLChainV2.NotInAttestWindow.selector, 0)
        );
        vm.warp(T0 + 50 * ROUND);
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.finalize, (0, r)),
            abi.encodeWithSelector(IFLChainV2.NotInAttestWindow.selector, 0)
        );
        vm.assertEq(chain.latest().roundPlusOne, 0, "round 0 never final");
    }

    function test_a_skipped_round_carries_the_base_and_the_reservation_over() public {
        _roundZeroRevealed(); // round 0: reveals, nobody attests — skipped
        bytes32 genesis = sha256(GENESIS);
        goTo(1, IFLChainV2.Phase.Commit);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.RoundOpened(1, 1 ether, 3 ether);
        chain.openRound(1);
        // round 0's reservation went back to the pool before round 1 reserved
        vm.assertEq(chain.accounts().pool, POOL - 1 ether, "pool");
        vm.assertEq(chain.accounts().reserved, 1 ether, "one reservation pending");
        vm.assertEq(chain.latest().mergedDigest, genesis, "the base is still the genesis");
        Update memory onGenesis = makeUpdate(ALICE, 1, genesis, 64);
        Update memory onRoundZero = makeUpdate(BOB, 1, keccak256("round 0's unfinalized merge"), 64);
        commit(chain, ALICE, onGenesis);
        commit(chain, BOB, onRoundZero);
        goTo(1, IFLChainV2.Phase.Reveal);
        vm.assertEq(uint256(reveal(chain, ALICE, onGenesis)), uint256(IFLChainV2.RevealOutcome.Accepted), "genesis");
        vm.assertEq(
            uint256(reveal(chain, BOB, onRoundZero)), uint256(IFLChainV2.RevealOutcome.RejectedStaleBase), "stale"
        );
    }

    function test_a_final_round_is_the_next_base() public {
        IFLChainV2.Result memory r = honestRound(0, none());
        goTo(1, IFLChainV2.Phase.Commit);
        settleLagging();
        Update memory onFinal = makeUpdate(ALICE, 1, r.mergedDigest, 64);
        Update memory onGenesis = makeUpdate(BOB, 1, sha256(GENESIS), 64);
        commit(chain, ALICE, onFinal);
        commit(chain, BOB, onGenesis);
        goTo(1, IFLChainV2.Phase.Reveal);
        vm.assertEq(uint256(reveal(chain, ALICE, onFinal)), uint256(IFLChainV2.RevealOutcome.Accepted), "on final");
        vm.assertEq(
            uint256(reveal(chain, BOB, onGenesis)), uint256(IFLChainV2.RevealOutcome.RejectedStaleBase), "stale"
        );
    }

    function test_many_honest_rounds_pay_out_the_emission() public {
        for (uint256 r = 0; r < 4; ++r) {
            honestRound(r, none());
        }
        goTo(4, IFLChainV2.Phase.Commit);
        settleLagging();
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(members[i]);
            chain.collect();
        }
        uint256 claimed = 0;
        for (uint256 i = 0; i < 3; ++i) {
            claimed += chain.nodeView(members[i]).claimed;
        }
        // each round splits 1 ether three ways: 1 wei of dust per round stays in the pool
        uint256 share = uint256(1 ether) / 3;
        vm.assertEq(claimed, 4 * share * 3, "every member was paid");
        vm.assertEq(chain.accounts().claimable, 0, "nothing left to claim");
        vm.assertEq(chain.accounts().pool, POOL - claimed, "the dust is in the pool");
        vm.assertEq(ALICE.balance, 4 * share, "paid to the node");
    }

    function setUpFresh(IFLChainV2.Rules memory r) internal {
        delete members;
        delete table;
        setUpWorld(r);
    }

    // a contract wallet can be a node (the withdrawal of one that refuses ether: Settle tests)
    function test_a_contract_wallet_registers() public {
        V2Wallet w = refusingWallet();
        vm.deal(address(this), MIN_BOND);
        w.exec{value: MIN_BOND}(address(chain), abi.encodeCall(IFLChainV2.register, ()));
        vm.assertEq(uint256(chain.nodeView(address(w)).status), uint256(IFLChainV2.Status.Active), "active");
    }
}

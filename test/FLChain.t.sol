// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChain} from "../contracts/interfaces/IFLChain.sol";
import {FLChainTest, Result, Update} from "./utils/FLChainTest.sol";
import {vm} from "./utils/Vm.sol";

/// @notice A node whose wallet is a contract that refuses ether: its withdrawal must fail loudly.
contract RefusingNode {
    function register(IFLChain chain) external payable {
        chain.register{value: msg.value}();
    }

    function requestExit(IFLChain chain) external {
        chain.requestExit();
    }

    function withdraw(IFLChain chain) external {
        chain.withdraw();
    }
}

/// @notice Unit tests: the v1 behaviour, and every custom error the contract raises, each from
///         the smallest situation that triggers it. (`RoundNotStarted` is declared by v1 and
///         kept in its ABI, but no path raises it: see IFLChain.)
contract FLChainUnitTest is FLChainTest {
    IFLChain internal chain;
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    address internal constant CAROL = address(0xCA501);
    address internal constant OUTSIDER = address(0x75);

    // Computed once: sha256 is a call (to a precompile), and a call between `vm.prank` or
    // `vm.expectRevert` and the call under test would take the cheatcode for itself.
    bytes32 internal mDigest = sha256("m");
    bytes internal mCid = rawCid("m");
    bytes internal fCid = rawCid("f");
    bytes32 internal otherDigest = sha256("other");
    bytes internal otherCid = rawCid("other");
    bytes32 internal genesisDigest = sha256(GENESIS);
    bytes internal genesisCid = rawCid(GENESIS);

    function setUp() public {
        chain = deploy(defaultRules());
        register(chain, ALICE);
        register(chain, BOB);
    }

    // ------------------------------------------------------------ happy path

    function test_fullRoundFinalizesAndPenalises() public {
        IFLChain.Rules memory rules = defaultRules();
        rules.quorum = 2;
        chain = deploy(rules);
        register(chain, ALICE);
        register(chain, BOB);
        register(chain, CAROL);
        Update memory a = makeUpdate("a", 120);
        Update memory b = makeUpdate("b", -40);
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, a);
        commit(chain, 0, BOB, b);
        goTo(0, IFLChain.Phase.Reveal);
        reveal(chain, 0, ALICE, a);
        reveal(chain, 0, BOB, b);
        vm.assertTrue(outcomeOf(chain, 0, ALICE) == IFLChain.RevealOutcome.Accepted, "alice accepted");

        goTo(0, IFLChain.Phase.Closed);
        Result memory res = makeResult("merged", new address[](1));
        res.manifestCid = dagPbCid(keccak256("manifest"));
        res.penalised[0] = BOB;
        bytes32 h = attest(chain, 0, ALICE, res);
        (bool isFinal,,,,,) = chain.finalized(0);
        vm.assertFalse(isFinal, "one vote of two");
        vm.assertEq(attest(chain, 0, CAROL, res), h, "same result hash");
        assertFinal(chain, 0, res, 2);

        (IFLChain.NodeRecord memory rec,) = chain.nodeRecord(BOB);
        vm.assertEq(uint256(rec.penalties), 1, "bob penalised");
        (rec,) = chain.nodeRecord(ALICE);
        vm.assertEq(uint256(rec.acceptedReveals), 1, "alice counted");
        vm.assertEq(int256(rec.roiSumBps), 120, "alice roi sum");
        // a third attestation of the final result only counts
        attest(chain, 0, BOB, res);
        vm.assertEq(chain.votesFor(0, h), 3, "counted after finality");
        assertFinal(chain, 0, res, 3);
    }

    /// @notice The bytes under test (the committed artifact) are what forge builds from
    ///         contracts/ with the same settings: a stale artifact fails here first.
    function test_committedArtifactIsForgesBuildOfTheSources() public {
        vm.assertEq(
            vm.getCode("contracts/FLChain.sol:FLChain"),
            creationCode(),
            "flchain/contracts/FLChain.json is stale: run `python -m flchain.ledger.compile`"
        );
    }

    function test_genesisAndConstantsAreReadable() public view {
        (bytes32 digest, bytes memory cid) = chain.genesis();
        vm.assertEq(digest, sha256(GENESIS), "digest");
        vm.assertEq(cid, rawCid(GENESIS), "cid");
        vm.assertEq(uint256(chain.CODEC_RAW()), 0x55, "raw");
        vm.assertEq(uint256(chain.CODEC_DAG_PB()), 0x70, "dag-pb");
        vm.assertEq(chain.MAX_PENALISED(), 64, "max penalised");
        vm.assertEq(int256(chain.PENALTY_BPS()), 10_000, "penalty");
        vm.assertEq(uint256(chain.nodeCount()), 2, "nodes");
    }

    // ------------------------------------------------------------ construction

    function test_InvalidSchedule() public {
        bytes32 g = genesisDigest;
        bytes memory cid = genesisCid;
        IFLChain.Rules memory r = defaultRules();
        vm.expectRevert(IFLChain.InvalidSchedule.selector);
        deployWith(T0, 0, COMMIT, REVEAL, 0, g, cid, r);
        vm.expectRevert(IFLChain.InvalidSchedule.selector);
        deployWith(T0, ROUND, 0, REVEAL, 0, g, cid, r);
        vm.expectRevert(IFLChain.InvalidSchedule.selector);
        deployWith(T0, ROUND, COMMIT, 0, 0, g, cid, r);
        vm.expectRevert(IFLChain.InvalidSchedule.selector);
        deployWith(T0, ROUND, 600, 401, 0, g, cid, r);
        vm.expectRevert(IFLChain.InvalidSchedule.selector);
        deployWith(T0, ROUND, COMMIT, REVEAL, 0, bytes32(0), cid, r);
        deployWith(T0, ROUND, 600, 400, 0, g, cid, r); // commit + reveal = L is fine
    }

    function test_InvalidCid_atDeployment() public {
        IFLChain.Rules memory r = defaultRules();
        bytes32 g = genesisDigest;
        vm.expectRevert(IFLChain.InvalidCid.selector);
        deployWith(T0, ROUND, COMMIT, REVEAL, 0, g, hex"0155122000", r);
    }

    function test_CidDigestMismatch_atDeployment() public {
        IFLChain.Rules memory r = defaultRules();
        vm.expectRevert(IFLChain.CidDigestMismatch.selector);
        deployWith(T0, ROUND, COMMIT, REVEAL, 0, otherDigest, genesisCid, r);
        // a dag-pb genesis CID cannot be checked against the digest, so it is taken as given
        deployWith(T0, ROUND, COMMIT, REVEAL, 0, otherDigest, dagPbCid(bytes32(uint256(1))), r);
    }

    function test_RulesOutOfOrder_atDeployment() public {
        IFLChain.Rules memory r = defaultRules();
        r.effectiveRound = 1;
        vm.expectRevert(abi.encodeWithSelector(IFLChain.RulesOutOfOrder.selector, 1, 0));
        deployWith(T0, ROUND, COMMIT, REVEAL, MIN_BOND, genesisDigest, genesisCid, r);
    }

    // ------------------------------------------------------------ identity

    function test_BondTooSmall() public {
        vm.deal(CAROL, MIN_BOND);
        vm.prank(CAROL);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.BondTooSmall.selector, MIN_BOND - 1, MIN_BOND));
        chain.register{value: MIN_BOND - 1}();
    }

    function test_AlreadyRegistered() public {
        vm.deal(ALICE, MIN_BOND);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.AlreadyRegistered.selector, ALICE));
        chain.register{value: MIN_BOND}();
    }

    function test_AlreadyRegistered_evenAfterWithdrawal() public {
        vm.prank(ALICE);
        chain.requestExit();
        vm.warp(block.timestamp + EXIT_DELAY);
        vm.prank(ALICE);
        chain.withdraw();
        vm.deal(ALICE, MIN_BOND);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.AlreadyRegistered.selector, ALICE));
        chain.register{value: MIN_BOND}();
    }

    function test_NotActive() public {
        vm.prank(OUTSIDER);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotActive.selector, OUTSIDER));
        chain.requestExit();
        vm.prank(ALICE);
        chain.requestExit();
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotActive.selector, ALICE));
        chain.requestExit();
    }

    function test_NotExiting() public {
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotExiting.selector, ALICE));
        chain.withdraw();
    }

    function test_WithdrawalTooEarly_thenPaidOnce() public {
        vm.prank(ALICE);
        chain.requestExit();
        uint64 readyAt = uint64(block.timestamp) + EXIT_DELAY;
        vm.warp(readyAt - 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.WithdrawalTooEarly.selector, readyAt));
        chain.withdraw();
        vm.warp(readyAt);
        uint256 before = ALICE.balance;
        vm.prank(ALICE);
        chain.withdraw();
        vm.assertEq(ALICE.balance - before, MIN_BOND, "bond paid back");
        vm.assertEq(address(chain).balance, MIN_BOND, "bob's bond stays");
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotExiting.selector, ALICE));
        chain.withdraw();
    }

    function test_TransferFailed() public {
        RefusingNode node = new RefusingNode();
        vm.deal(address(this), MIN_BOND);
        node.register{value: MIN_BOND}(chain);
        node.requestExit(chain);
        vm.warp(block.timestamp + EXIT_DELAY);
        vm.expectRevert(IFLChain.TransferFailed.selector);
        node.withdraw(chain);
        (IFLChain.NodeRecord memory rec, uint256 bond) = chain.nodeRecord(address(node));
        vm.assertTrue(rec.status == IFLChain.Status.Exiting, "status unchanged");
        vm.assertEq(bond, MIN_BOND, "bond kept");
    }

    // ------------------------------------------------------------ commit–reveal

    function test_Unregistered() public {
        Update memory u = makeUpdate("u", 10);
        goTo(0, IFLChain.Phase.Commit);
        vm.prank(OUTSIDER);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.Unregistered.selector, OUTSIDER));
        chain.commit(0, bytes32(uint256(1) << 100));
        commit(chain, 0, ALICE, u);
        vm.prank(ALICE);
        chain.requestExit(); // an exiting node may still reveal, but not commit or attest
        goTo(0, IFLChain.Phase.Reveal);
        vm.prank(OUTSIDER);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.Unregistered.selector, OUTSIDER));
        chain.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
        reveal(chain, 0, ALICE, u);
        goTo(0, IFLChain.Phase.Closed);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.Unregistered.selector, ALICE));
        chain.attest(0, mDigest, mCid, fCid, new address[](0));
        goTo(1, IFLChain.Phase.Commit);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.Unregistered.selector, ALICE));
        chain.commit(1, bytes32(uint256(1) << 100));
    }

    function test_NotInCommitWindow() public {
        bytes32 c = bytes32(uint256(1) << 100);
        vm.warp(T0 - 1); // before genesis
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotInCommitWindow.selector, 0));
        chain.commit(0, c);
        goTo(0, IFLChain.Phase.Commit);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotInCommitWindow.selector, 1));
        chain.commit(1, c); // not the open round
        vm.warp(timeOf(0, IFLChain.Phase.Reveal, 0)); // the first second of the reveal window
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotInCommitWindow.selector, 0));
        chain.commit(0, c);
        vm.warp(timeOf(0, IFLChain.Phase.Reveal, 0) - 1); // the last second of the commit window
        vm.prank(ALICE);
        chain.commit(0, c);
    }

    function test_AlreadyCommitted() public {
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, makeUpdate("u", 1));
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.AlreadyCommitted.selector, 0, ALICE));
        chain.commit(0, bytes32(uint256(1) << 100));
    }

    function test_CommitmentMismatch_reservedValues() public {
        goTo(0, IFLChain.Phase.Commit);
        uint256[4] memory reserved = [uint256(0), 1, 0x100, 0x1ff];
        for (uint256 i = 0; i < reserved.length; ++i) {
            vm.prank(ALICE);
            vm.expectRevert(abi.encodeWithSelector(IFLChain.CommitmentMismatch.selector, 0, ALICE));
            chain.commit(0, bytes32(reserved[i]));
        }
        vm.prank(ALICE);
        chain.commit(0, bytes32(uint256(0x200))); // the smallest value a commitment may take
    }

    function test_NotInRevealWindow() public {
        Update memory u = makeUpdate("u", 1);
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, u);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotInRevealWindow.selector, 0));
        chain.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
        vm.warp(timeOf(0, IFLChain.Phase.Closed, 0)); // the reveal window has just ended
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotInRevealWindow.selector, 0));
        chain.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
    }

    function test_NoCommitment() public {
        Update memory u = makeUpdate("u", 1);
        goTo(0, IFLChain.Phase.Reveal);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NoCommitment.selector, 0, ALICE));
        chain.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
    }

    function test_AlreadyRevealed() public {
        Update memory u = makeUpdate("u", 1);
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, u);
        goTo(0, IFLChain.Phase.Reveal);
        reveal(chain, 0, ALICE, u);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.AlreadyRevealed.selector, 0, ALICE));
        chain.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
    }

    function test_CommitmentMismatch_wrongSalt() public {
        Update memory u = makeUpdate("u", 1);
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, u);
        goTo(0, IFLChain.Phase.Reveal);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.CommitmentMismatch.selector, 0, ALICE));
        chain.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, bytes32(0));
    }

    function test_InvalidCid_atReveal() public {
        Update memory u = makeUpdate("u", 1);
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, u);
        goTo(0, IFLChain.Phase.Reveal);
        bytes memory good = u.cid;
        // every byte of the prefix, a wrong codec, and a wrong length
        bytes[5] memory bad = [
            abi.encodePacked(hex"02", _tail(good, 1)),
            abi.encodePacked(hex"0171", _tail(good, 2)),
            abi.encodePacked(hex"015513", _tail(good, 3)),
            abi.encodePacked(hex"01551221", _tail(good, 4)),
            abi.encodePacked(good, hex"00")
        ];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.prank(ALICE);
            vm.expectRevert(IFLChain.InvalidCid.selector);
            chain.reveal(0, u.updateDigest, bad[i], u.baseDigest, u.roiBps, u.salt);
        }
    }

    function test_CidDigestMismatch_atReveal() public {
        Update memory u = makeUpdate("u", 1);
        u.cid = rawCid("other content");
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, u);
        goTo(0, IFLChain.Phase.Reveal);
        vm.prank(ALICE);
        vm.expectRevert(IFLChain.CidDigestMismatch.selector);
        chain.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
    }

    function test_abnormalRoiAndIneligibleNodesAreRejectedOnRecord() public {
        IFLChain.Rules memory rules = defaultRules();
        rules.probationRounds = 1;
        rules.eligibilityMinScoreBps = 0;
        chain = deploy(rules);
        register(chain, ALICE);
        Update memory bad = makeUpdate("r0", rules.roiMaxBps + 1);
        Update memory loss = makeUpdate("r1", -100);
        Update memory later = makeUpdate("r2", 50);
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, bad);
        goTo(0, IFLChain.Phase.Reveal);
        reveal(chain, 0, ALICE, bad);
        vm.assertTrue(outcomeOf(chain, 0, ALICE) == IFLChain.RevealOutcome.RejectedAbnormalRoi, "abnormal");
        goTo(1, IFLChain.Phase.Commit);
        commit(chain, 1, ALICE, loss);
        goTo(1, IFLChain.Phase.Reveal);
        reveal(chain, 1, ALICE, loss); // in probation: accepted, mean score now -100 < 0
        vm.assertTrue(outcomeOf(chain, 1, ALICE) == IFLChain.RevealOutcome.Accepted, "probation");
        vm.assertFalse(chain.isEligible(ALICE, 2), "below threshold after probation");
        goTo(2, IFLChain.Phase.Commit);
        commit(chain, 2, ALICE, later);
        goTo(2, IFLChain.Phase.Reveal);
        reveal(chain, 2, ALICE, later);
        vm.assertTrue(outcomeOf(chain, 2, ALICE) == IFLChain.RevealOutcome.RejectedIneligible, "ineligible");
    }

    // ------------------------------------------------------------ attestation

    function _revealedRound0() internal {
        Update memory a = makeUpdate("a", 10);
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, a);
        goTo(0, IFLChain.Phase.Reveal);
        reveal(chain, 0, ALICE, a);
    }

    function _attest(address node, uint256 round, address[] memory penalised) internal returns (bytes32) {
        vm.prank(node);
        return chain.attest(round, mDigest, mCid, fCid, penalised);
    }

    function test_RoundNotClosed() public {
        _revealedRound0();
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.RoundNotClosed.selector, 0));
        chain.attest(0, mDigest, mCid, fCid, new address[](0));
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.RoundNotClosed.selector, 5));
        chain.attest(5, mDigest, mCid, fCid, new address[](0));
        vm.warp(T0 - 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.RoundNotClosed.selector, 0));
        chain.attest(0, mDigest, mCid, fCid, new address[](0));
    }

    function test_AlreadyAttested() public {
        _revealedRound0();
        goTo(0, IFLChain.Phase.Closed);
        _attest(ALICE, 0, new address[](0));
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.AlreadyAttested.selector, 0, ALICE));
        chain.attest(0, otherDigest, otherCid, fCid, new address[](0));
    }

    function test_AttestationOutOfOrder() public {
        goTo(3, IFLChain.Phase.Closed);
        _attest(ALICE, 2, new address[](0));
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.AttestationOutOfOrder.selector, 1, 2));
        chain.attest(1, mDigest, mCid, fCid, new address[](0));
        _attest(ALICE, 3, new address[](0)); // forward is fine
    }

    function test_TooManyPenalised() public {
        goTo(0, IFLChain.Phase.Closed);
        address[] memory list = new address[](65);
        for (uint256 i = 0; i < list.length; ++i) {
            list[i] = address(uint160(i + 1));
        }
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.TooManyPenalised.selector, 65, 64));
        chain.attest(0, mDigest, mCid, fCid, list);
    }

    function test_PenalisedNotSorted() public {
        goTo(0, IFLChain.Phase.Closed);
        address[] memory list = new address[](2);
        list[0] = ALICE;
        list[1] = BOB; // ALICE (0xA11CE) > BOB (0xB0B): descending
        vm.prank(ALICE);
        vm.expectRevert(IFLChain.PenalisedNotSorted.selector);
        chain.attest(0, mDigest, mCid, fCid, list);
        list[1] = ALICE; // a repeat is not strictly ascending either
        vm.prank(ALICE);
        vm.expectRevert(IFLChain.PenalisedNotSorted.selector);
        chain.attest(0, mDigest, mCid, fCid, list);
    }

    function test_dirtyAddressWordRevertsWithoutData() public {
        goTo(0, IFLChain.Phase.Closed);
        bytes memory data = abi.encodeCall(IFLChain.attest, (0, mDigest, mCid, fCid, new address[](1)));
        // the last word is the list's only element: set a bit above the address
        data[data.length - 32] = 0x01;
        vm.prank(ALICE);
        (bool ok, bytes memory ret) = address(chain).call(data);
        vm.assertFalse(ok, "dirty word accepted");
        vm.assertEq(ret.length, 0, "revert without data");
    }

    function test_NotPenalisable() public {
        _revealedRound0();
        goTo(0, IFLChain.Phase.Closed);
        address[] memory list = new address[](1);
        list[0] = BOB; // BOB never revealed
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotPenalisable.selector, 0, BOB));
        chain.attest(0, mDigest, mCid, fCid, list);
    }

    function test_CidDigestMismatch_andInvalidCid_atAttest() public {
        goTo(0, IFLChain.Phase.Closed);
        vm.prank(ALICE);
        vm.expectRevert(IFLChain.CidDigestMismatch.selector);
        chain.attest(0, mDigest, otherCid, fCid, new address[](0));
        vm.prank(ALICE);
        vm.expectRevert(IFLChain.InvalidCid.selector);
        chain.attest(0, mDigest, mCid, hex"01", new address[](0));
    }

    function test_conflictingResultsStayOnRecordAndQuorumDecides() public {
        IFLChain.Rules memory rules = defaultRules();
        rules.quorum = 2;
        chain = deploy(rules);
        register(chain, ALICE);
        register(chain, BOB);
        register(chain, CAROL);
        goTo(0, IFLChain.Phase.Closed);
        bytes32 x = _attest(ALICE, 0, new address[](0));
        vm.prank(BOB);
        bytes32 y = chain.attest(0, otherDigest, otherCid, fCid, new address[](0));
        vm.assertEq(chain.votesFor(0, x), 1, "x");
        vm.assertEq(chain.votesFor(0, y), 1, "y");
        _attest(CAROL, 0, new address[](0));
        (bool isFinal, bytes32 digest,,,,) = chain.finalized(0);
        vm.assertTrue(isFinal, "x final");
        vm.assertEq(digest, mDigest, "x's model");
        vm.assertEq(chain.votesFor(0, y), 1, "y stays on record");
    }

    // ------------------------------------------------------------ governance

    function test_NotGovernor() public {
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotGovernor.selector, ALICE));
        chain.scheduleRules(defaultRules());
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotGovernor.selector, ALICE));
        chain.transferGovernance(ALICE);
    }

    function test_ZeroAddress() public {
        vm.expectRevert(IFLChain.ZeroAddress.selector);
        chain.transferGovernance(address(0));
    }

    function test_governanceTransfer() public {
        chain.transferGovernance(ALICE);
        vm.assertEq(chain.governor(), ALICE, "moved");
        vm.expectRevert(abi.encodeWithSelector(IFLChain.NotGovernor.selector, address(this)));
        chain.transferGovernance(address(this));
    }

    function test_RulesForOpenRound() public {
        IFLChain.Rules memory r = defaultRules();
        goTo(2, IFLChain.Phase.Closed); // round 2 is still the open round after its reveal window
        r.effectiveRound = 2;
        vm.expectRevert(abi.encodeWithSelector(IFLChain.RulesForOpenRound.selector, 2, 2));
        chain.scheduleRules(r);
        r.effectiveRound = 3;
        chain.scheduleRules(r);
    }

    function test_RulesOutOfOrder() public {
        IFLChain.Rules memory r = defaultRules();
        r.effectiveRound = 5;
        chain.scheduleRules(r);
        r.effectiveRound = 4;
        vm.expectRevert(abi.encodeWithSelector(IFLChain.RulesOutOfOrder.selector, 4, 5));
        chain.scheduleRules(r);
    }

    function test_rulesApplyFromTheirRoundAndAPendingVersionIsReplaced() public {
        IFLChain.Rules memory r = defaultRules();
        r.effectiveRound = 2;
        r.quorum = 5;
        chain.scheduleRules(r);
        r.quorum = 7;
        chain.scheduleRules(r); // same round: replaces the pending version
        vm.assertEq(chain.rulesVersionCount(), 2, "replacement is not a new version");
        vm.assertEq(uint256(chain.rulesForRound(1).quorum), 1, "round 1 keeps version 0");
        vm.assertEq(uint256(chain.rulesForRound(2).quorum), 7, "round 2 takes the replacement");
        vm.assertEq(uint256(chain.rulesForRound(1000).quorum), 7, "and every later round");
        vm.assertEq(uint256(chain.rulesVersion(0).quorum), 1, "version 0");
    }

    function test_RuleOutOfBounds_eachField() public {
        // one out-of-bounds value per field (the edges are fuzzed in FLChainFuzzTest)
        IFLChain.Rules memory r;
        bytes32[12] memory fields = [
            bytes32("roiMinBps"),
            "roiMaxBps",
            "eligibilityMinScoreBps",
            "maxParticipants",
            "similarityThresholdPpm",
            "clusterCapPpm",
            "similarityMetric",
            "aggregation",
            "trimPpm",
            "roiToleranceBps",
            "quorum",
            "feePpm"
        ];
        for (uint256 i = 0; i < fields.length; ++i) {
            r = defaultRules();
            r.effectiveRound = 1;
            if (i == 0) r.roiMinBps = -10_001;
            if (i == 1) r.roiMaxBps = 1_000_001;
            if (i == 2) r.eligibilityMinScoreBps = 1_000_001;
            if (i == 3) r.maxParticipants = 0;
            if (i == 4) r.similarityThresholdPpm = 1_000_001;
            if (i == 5) r.clusterCapPpm = 0;
            if (i == 6) r.similarityMetric = 2;
            if (i == 7) r.aggregation = 4;
            if (i == 8) r.trimPpm = 500_000;
            if (i == 9) r.roiToleranceBps = 10_001;
            if (i == 10) r.quorum = 0;
            if (i == 11) r.feePpm = 1_000_000;
            vm.expectRevert(abi.encodeWithSelector(IFLChain.RuleOutOfBounds.selector, fields[i]));
            chain.scheduleRules(r);
        }
    }

    // ------------------------------------------------------------ views

    function test_phaseAt() public view {
        (uint256 round, IFLChain.Phase phase) = chain.phaseAt(T0 - 1);
        vm.assertTrue(round == 0 && phase == IFLChain.Phase.NotStarted, "before T0");
        (round, phase) = chain.phaseAt(T0 + 3 * ROUND + COMMIT - 1);
        vm.assertTrue(round == 3 && phase == IFLChain.Phase.Commit, "last commit second");
        (round, phase) = chain.phaseAt(T0 + 3 * ROUND + COMMIT);
        vm.assertTrue(round == 3 && phase == IFLChain.Phase.Reveal, "first reveal second");
        (round, phase) = chain.phaseAt(T0 + 3 * ROUND + COMMIT + REVEAL);
        vm.assertTrue(round == 3 && phase == IFLChain.Phase.Closed, "closed");
    }

    function _tail(bytes memory b, uint256 from) private pure returns (bytes memory out) {
        out = new bytes(b.length - from);
        for (uint256 i = from; i < b.length; ++i) {
            out[i - from] = b[i];
        }
    }
}

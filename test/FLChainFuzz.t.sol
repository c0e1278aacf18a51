// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChain} from "../contracts/interfaces/IFLChain.sol";
import {FLChainTest, Update} from "./utils/FLChainTest.sol";
import {vm} from "./utils/Vm.sol";

/// @notice Fuzz tests: the commitment binds each of its nine fields, every rule field is
///         accepted exactly inside its bounds (the bounds are written here as literals, the
///         spec, independently of RulesLib), reveal outcomes follow a reference model of the
///         filter, and the phase arithmetic matches a reference on any schedule.
contract FLChainFuzzTest is FLChainTest {
    IFLChain internal chain;
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);

    function setUp() public {
        chain = deploy(defaultRules());
        register(chain, ALICE);
        register(chain, BOB);
    }

    // ------------------------------------------------------------ commitment binding

    /// @dev A dag-pb CID, so that any update digest passes the CID check and the reveal reaches
    ///      the commitment check.
    function _update(bytes32 digest, bytes32 cidDigest, bytes32 base, int32 roi, bytes32 salt)
        internal
        pure
        returns (Update memory u)
    {
        u = Update(digest, dagPbCid(cidDigest), base, roi, salt);
    }

    /// @notice Revealing anything but the committed fields fails, whichever field differs and
    ///         by whatever amount; the committed fields still reveal afterwards.
    function testFuzz_revealOfAnyOtherFieldValueFails(
        bytes32 digest,
        bytes32 cidDigest,
        bytes32 base,
        int32 roi,
        bytes32 salt,
        uint8 field,
        bytes32 noise
    ) public {
        vm.assume(noise != bytes32(0));
        Update memory u = _update(digest, cidDigest, base, roi, salt);
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, u);
        goTo(0, IFLChain.Phase.Reveal);

        Update memory v = _update(digest, cidDigest, base, roi, salt);
        field %= 5;
        if (field == 0) v.updateDigest ^= noise;
        if (field == 1) v.cid = dagPbCid(cidDigest ^ noise);
        if (field == 2) v.baseDigest ^= noise;
        if (field == 3) v.roiBps = roi ^ int32(uint32(uint256(noise)) | 1);
        if (field == 4) v.salt ^= noise;
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.CommitmentMismatch.selector, 0, ALICE));
        chain.reveal(0, v.updateDigest, v.cid, v.baseDigest, v.roiBps, v.salt);

        reveal(chain, 0, ALICE, u);
        (, bool revealed,) = chain.commitmentOf(0, ALICE);
        vm.assertTrue(revealed, "the committed fields reveal");
    }

    /// @notice A commitment is bound to its node: another node posting the same value cannot
    ///         reveal the original's update (no copying after seeing a commitment).
    function testFuzz_commitmentIsBoundToTheNode(bytes32 digest, bytes32 salt) public {
        Update memory u = _update(digest, digest, digest, 7, salt);
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, u);
        vm.prank(BOB);
        chain.commit(0, commitmentFor(chain, 0, ALICE, u)); // BOB copies ALICE's commitment
        goTo(0, IFLChain.Phase.Reveal);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.CommitmentMismatch.selector, 0, BOB));
        chain.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
    }

    /// @notice A commitment is bound to its round: one made for another round does not reveal.
    function testFuzz_commitmentIsBoundToTheRound(bytes32 salt, uint256 otherRound) public {
        vm.assume(otherRound != 0);
        Update memory u = _update(salt, salt, salt, 7, salt);
        goTo(0, IFLChain.Phase.Commit);
        vm.prank(ALICE);
        chain.commit(0, commitmentFor(chain, otherRound, ALICE, u));
        goTo(0, IFLChain.Phase.Reveal);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.CommitmentMismatch.selector, 0, ALICE));
        chain.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
    }

    /// @notice A commitment is bound to the contract and the chain: replayed on another
    ///         deployment, or revealed after the chain id changed (a fork), it fails.
    function testFuzz_commitmentIsBoundToContractAndChain(bytes32 salt, uint64 newChainId) public {
        vm.assume(newChainId != block.chainid && newChainId != 0);
        Update memory u = _update(salt, salt, salt, 7, salt);
        IFLChain other = deploy(defaultRules());
        register(other, ALICE);
        goTo(0, IFLChain.Phase.Commit);
        commit(chain, 0, ALICE, u);
        vm.prank(ALICE);
        other.commit(0, commitmentFor(chain, 0, ALICE, u)); // replayed on `other`
        goTo(0, IFLChain.Phase.Reveal);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.CommitmentMismatch.selector, 0, ALICE));
        other.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
        vm.chainId(newChainId);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IFLChain.CommitmentMismatch.selector, 0, ALICE));
        chain.reveal(0, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
    }

    // ------------------------------------------------------------ rule bounds

    /// @notice The first field (in check order) outside its bounds, or "" if all are inside.
    ///         The bounds are the specification: literals, not RulesLib's constants.
    function expectedViolation(IFLChain.Rules memory r) internal pure returns (bytes32) {
        if (r.roiMinBps < -10_000 || r.roiMinBps > r.roiMaxBps) return "roiMinBps";
        if (r.roiMaxBps > 1_000_000) return "roiMaxBps";
        if (r.eligibilityMinScoreBps < -1_000_000 || r.eligibilityMinScoreBps > 1_000_000) {
            return "eligibilityMinScoreBps";
        }
        if (r.maxParticipants < 1) return "maxParticipants";
        if (r.similarityThresholdPpm > 1_000_000) return "similarityThresholdPpm";
        if (r.clusterCapPpm < 1 || r.clusterCapPpm > 1_000_000) return "clusterCapPpm";
        if (r.similarityMetric > 1) return "similarityMetric";
        if (r.aggregation > 3) return "aggregation";
        if (r.trimPpm >= 500_000) return "trimPpm";
        if (r.roiToleranceBps > 10_000) return "roiToleranceBps";
        if (r.quorum < 1) return "quorum";
        if (r.feePpm >= 1_000_000) return "feePpm";
        return "";
    }

    /// @notice Schedule `r` for round 1 and check it is accepted iff `expectedViolation` is
    ///         empty, else refused naming that field; a refused version changes nothing.
    function checkSchedule(IFLChain.Rules memory r) internal {
        r.effectiveRound = 1;
        bytes32 violation = expectedViolation(r);
        uint256 versions = chain.rulesVersionCount();
        bytes32 before = keccak256(abi.encode(chain.rulesForRound(1)));
        if (violation == bytes32(0)) {
            // a version already pending for round 1 is replaced, else one is added
            bool pending = chain.rulesVersion(versions - 1).effectiveRound == 1;
            chain.scheduleRules(r);
            vm.assertEq(chain.rulesVersionCount(), pending ? versions : versions + 1, "accepted");
            vm.assertEq(keccak256(abi.encode(chain.rulesForRound(1))), keccak256(abi.encode(r)), "stored as given");
        } else {
            vm.expectRevert(abi.encodeWithSelector(IFLChain.RuleOutOfBounds.selector, violation));
            chain.scheduleRules(r);
            vm.assertEq(chain.rulesVersionCount(), versions, "refused: no version added");
            vm.assertEq(keccak256(abi.encode(chain.rulesForRound(1))), before, "refused: nothing replaced");
        }
    }

    function _at(int256 v) private pure returns (int32) {
        return int32(v);
    }

    /// @notice Every field at each edge of its bounds, one outside and one inside, and at the
    ///         extremes of its type (the other fields at their defaults).
    function test_everyRuleFieldAtEveryEdge() public {
        IFLChain.Rules memory r;
        int32[6] memory roiMin = [type(int32).min, -10_001, -10_000, 20_000, 20_001, type(int32).max];
        for (uint256 i = 0; i < roiMin.length; ++i) {
            r = defaultRules();
            r.roiMinBps = roiMin[i];
            checkSchedule(r);
        }
        int32[7] memory roiMax = [type(int32).min, -5_001, -5_000, 999_999, 1_000_000, 1_000_001, type(int32).max];
        for (uint256 i = 0; i < roiMax.length; ++i) {
            r = defaultRules();
            r.roiMaxBps = roiMax[i];
            checkSchedule(r);
        }
        int32[6] memory score = [type(int32).min, -1_000_001, -1_000_000, 1_000_000, 1_000_001, type(int32).max];
        for (uint256 i = 0; i < score.length; ++i) {
            r = defaultRules();
            r.eligibilityMinScoreBps = score[i];
            checkSchedule(r);
        }
        uint256[3] memory u16 = [uint256(0), 1, type(uint16).max];
        for (uint256 i = 0; i < u16.length; ++i) {
            r = defaultRules();
            r.maxParticipants = uint16(u16[i]);
            checkSchedule(r);
            r = defaultRules();
            r.quorum = uint16(u16[i]);
            checkSchedule(r);
            r = defaultRules();
            r.probationRounds = uint16(u16[i]); // unbounded
            checkSchedule(r);
        }
        uint256[7] memory ppm = [uint256(0), 1, 499_999, 500_000, 999_999, 1_000_000, 1_000_001];
        for (uint256 i = 0; i < ppm.length; ++i) {
            uint32 v = uint32(ppm[i]);
            r = defaultRules();
            r.similarityThresholdPpm = v;
            checkSchedule(r);
            r = defaultRules();
            r.clusterCapPpm = v;
            checkSchedule(r);
            r = defaultRules();
            r.trimPpm = v;
            checkSchedule(r);
            r = defaultRules();
            r.feePpm = v;
            checkSchedule(r);
        }
        r = defaultRules();
        r.similarityThresholdPpm = type(uint32).max;
        checkSchedule(r);
        uint256[4] memory tol = [uint256(0), 10_000, 10_001, type(uint32).max];
        for (uint256 i = 0; i < tol.length; ++i) {
            r = defaultRules();
            r.roiToleranceBps = uint32(tol[i]);
            checkSchedule(r);
        }
        for (uint256 v = 0; v < 256; v += (v < 5 ? 1 : 250)) {
            r = defaultRules();
            r.similarityMetric = uint8(v);
            checkSchedule(r);
            r = defaultRules();
            r.aggregation = uint8(v);
            checkSchedule(r);
        }
        r = defaultRules();
        r.normBoundMicro = type(uint64).max; // unbounded
        r.benchmarkId = bytes32(type(uint256).max);
        checkSchedule(r);
    }

    /// @notice Any combination of fields: accepted iff every field is inside its bounds, and
    ///         a refusal names the first field out of bounds in check order.
    function testFuzz_anyRules(IFLChain.Rules memory r) public {
        checkSchedule(r);
    }

    /// @notice The same near the bounds, where a uniform draw over the whole type rarely lands.
    function testFuzz_rulesNearTheBounds(int256[3] memory signedSeeds, uint256[9] memory seeds) public {
        IFLChain.Rules memory r = defaultRules();
        r.roiMinBps = _at(boundInt(signedSeeds[0], -10_002, 20_001));
        r.roiMaxBps = _at(boundInt(signedSeeds[1], -5_001, 1_000_001));
        r.eligibilityMinScoreBps = _at(boundInt(signedSeeds[2], -1_000_001, 1_000_001));
        r.maxParticipants = uint16(bound(seeds[0], 0, 2));
        r.similarityThresholdPpm = uint32(bound(seeds[1], 999_990, 1_000_001));
        r.clusterCapPpm = uint32(seeds[2] % 2 == 0 ? bound(seeds[2], 0, 2) : bound(seeds[2], 999_999, 1_000_001));
        r.similarityMetric = uint8(bound(seeds[3], 0, 2));
        r.aggregation = uint8(bound(seeds[4], 2, 4));
        r.trimPpm = uint32(bound(seeds[5], 499_990, 500_001));
        r.roiToleranceBps = uint32(bound(seeds[6], 9_990, 10_001));
        r.quorum = uint16(bound(seeds[7], 0, 2));
        r.feePpm = uint32(bound(seeds[8], 999_990, 1_000_001));
        checkSchedule(r);
    }

    // ------------------------------------------------------------ the filter, against a model

    /// @notice Four rounds of reveals by one node: each outcome, and the record, match a
    ///         reference model of the on-chain filter (ROI band, then eligibility after
    ///         probation: roiSum − 10 000·penalties ≥ minScore·accepted).
    function testFuzz_revealOutcomesFollowTheFilter(int32[4] memory rois, uint8 probation, int32 minScore) public {
        IFLChain.Rules memory rules = defaultRules();
        rules.probationRounds = uint16(bound(probation, 0, 4));
        rules.eligibilityMinScoreBps = _at(boundInt(minScore, -1_000, 1_000));
        chain = deploy(rules);
        register(chain, ALICE);
        int64 sum;
        uint32 accepted;
        for (uint256 round = 0; round < rois.length; ++round) {
            int32 roi = _at(boundInt(rois[round], -6_000, 21_000)); // around the band [-5000, 20000]
            Update memory u = makeUpdate(abi.encode(round), roi);
            goTo(round, IFLChain.Phase.Commit);
            commit(chain, round, ALICE, u);
            goTo(round, IFLChain.Phase.Reveal);
            reveal(chain, round, ALICE, u);

            IFLChain.RevealOutcome expected;
            if (roi < rules.roiMinBps || roi > rules.roiMaxBps) {
                expected = IFLChain.RevealOutcome.RejectedAbnormalRoi;
            } else if (accepted >= rules.probationRounds && sum < int64(rules.eligibilityMinScoreBps) * int64(uint64(accepted))) {
                expected = IFLChain.RevealOutcome.RejectedIneligible;
            } else {
                expected = IFLChain.RevealOutcome.Accepted;
                accepted += 1;
                sum += roi;
            }
            vm.assertEq(uint256(outcomeOf(chain, round, ALICE)), uint256(expected), "outcome");
            (IFLChain.NodeRecord memory rec,) = chain.nodeRecord(ALICE);
            vm.assertEq(uint256(rec.acceptedReveals), accepted, "accepted");
            vm.assertEq(int256(rec.roiSumBps), sum, "roi sum");
        }
    }

    // ------------------------------------------------------------ schedule arithmetic

    /// @notice phaseAt on any valid schedule and any timestamp matches the reference: round
    ///         r = ⌊(ts − T0)/L⌋, commit for the first c seconds, reveal for the next v.
    function testFuzz_phaseAt(uint64 length, uint64 commitLen, uint64 revealLen, uint256 ts) public {
        length = uint64(bound(length, 2, type(uint64).max));
        commitLen = uint64(bound(commitLen, 1, length - 1));
        revealLen = uint64(bound(revealLen, 1, length - commitLen));
        IFLChain c =
            deployWith(T0, length, commitLen, revealLen, 0, sha256(GENESIS), rawCid(GENESIS), defaultRules());
        (uint256 round, IFLChain.Phase phase) = c.phaseAt(ts);
        if (ts < T0) {
            vm.assertTrue(round == 0 && phase == IFLChain.Phase.NotStarted, "not started");
            return;
        }
        vm.assertEq(round, (ts - T0) / length, "round");
        uint256 offset = (ts - T0) % length;
        IFLChain.Phase expected = offset < commitLen
            ? IFLChain.Phase.Commit
            : offset < uint256(commitLen) + revealLen ? IFLChain.Phase.Reveal : IFLChain.Phase.Closed;
        vm.assertEq(uint256(phase), uint256(expected), "phase");
    }
}

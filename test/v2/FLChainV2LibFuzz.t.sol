// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../contracts/interfaces/IFLChainV2.sol";
import {Accumulator, AccumulatorLibrary} from "../../contracts/libraries/Accumulator.sol";
import {CidLibV2} from "../../contracts/libraries/CidLibV2.sol";
import {Clock} from "../../contracts/libraries/Clock.sol";
import {DigestsV2} from "../../contracts/libraries/DigestsV2.sol";
import {CommitmentSlotV2, CommitmentSlotV2Library} from "../../contracts/libraries/CommitmentSlotV2.sol";
import {NodeCore} from "../../contracts/libraries/NodeCore.sol";
import {RulesGate, RulesGateLibrary} from "../../contracts/libraries/RulesGate.sol";
import {SettlementProof} from "../../contracts/libraries/SettlementProof.sol";
import {Checkpoint, StakeCheckpoint} from "../../contracts/libraries/StakeCheckpoint.sol";
import {vm} from "../utils/Vm.sol";
import {V2Test} from "./utils/V2Test.sol";

/// @notice The libraries' internal functions behind external ones, so that a revert is a call's
///         (expectRevert sees it) and CIDs arrive in calldata as they do on-chain.
contract LibHarness {
    IFLChainV2.Rules internal _stored;

    function parse(bytes calldata cid) external pure returns (uint8, bytes32) {
        return CidLibV2.parse(cid);
    }

    function parseMemory(bytes memory cid) external pure returns (uint8, bytes32) {
        return CidLibV2.parseMemory(cid);
    }

    function validate(bytes calldata cid) external pure {
        CidLibV2.validate(cid);
    }

    function validateModel(bytes calldata cid, bytes32 digest) external pure {
        CidLibV2.validateModel(cid, digest);
    }

    function write(uint256 c, uint256 from, uint256 value) external pure returns (uint256) {
        return Checkpoint.unwrap(Checkpoint.wrap(c).write(from, value));
    }

    function pack(uint256 from, uint256 value, uint256 previous) external pure returns (uint256) {
        return Checkpoint.unwrap(StakeCheckpoint.pack(from, value, previous));
    }

    /// @dev Setter `which` of NodeCore applied to `word` with `value`.
    function setCore(uint256 word, uint256 which, uint256 value) external pure returns (uint256) {
        NodeCore c = NodeCore.wrap(word);
        if (which == 0) c = c.setStatus(IFLChainV2.Status(value % 4));
        else if (which == 1) c = c.setStake(value, value & 1 == 1, value & 2 == 2);
        else if (which == 2) c = c.setVotePending(value & 1 == 1);
        else if (which == 3) c = c.setUnrevealed(value);
        else if (which == 4) c = c.setLastParticipatedRound(value);
        else if (which == 5) c = c.setSettledRound(value);
        else if (which == 6) c = c.setLastAttestedRound(value);
        else if (which == 7) c = c.recordAccepted(value);
        else c = c.setLeafIndex(value);
        return NodeCore.unwrap(c);
    }

    function setClock(uint256 word, uint256 which, uint256 a, uint256 b) external pure returns (uint256) {
        Clock c = Clock.wrap(word);
        if (which == 0) c = c.setNodeCount(a);
        else if (which == 1) c = c.setPause(a, b);
        else c = c.setLatest(a, uint8(b), uint8(b >> 8));
        return Clock.unwrap(c);
    }

    function gateOf(IFLChainV2.Rules calldata rules) external returns (RulesGate) {
        _stored = rules;
        return RulesGateLibrary.read(_stored);
    }

    function leafHashCalldata(IFLChainV2.Leaf calldata leaf) external view returns (bytes32) {
        return DigestsV2.leafHashCalldata(address(this), leaf);
    }

    function verify(bytes32 root, uint256 index, bytes32 leaf, bytes32[16] calldata proof)
        external
        pure
        returns (bool)
    {
        return SettlementProof.verify(root, index, leaf, proof);
    }
}

/// @notice Fuzz tests of the parsing and packed-type libraries: CIDs (every prefix, both parsers
///         agree, format inverts parse), commitment slots, stake checkpoints against a
///         two-value model, NodeCore and Clock fields (a setter touches its field only and
///         refuses what does not fit), the accumulator's counters and chain, the rules gate
///         against the stored struct, and settlement proofs (a proof verifies at its index only).
contract FLChainV2LibFuzzTest is V2Test {
    LibHarness internal h;

    function setUp() public {
        h = new LibHarness();
    }

    // ------------------------------------------------------------ CidLibV2

    function testFuzz_cid_prefix(bytes4 prefix, bytes32 digest) public view {
        // a third of the runs on a valid prefix, the rest on one byte changed or none
        uint256 pick = uint256(digest) % 3;
        if (pick == 0) {
            prefix = bytes4(0x01551220);
        } else if (pick == 1) {
            prefix = bytes4(uint32(0x01701220) ^ (uint32(uint8(prefix[0])) << (8 * (uint8(prefix[1]) % 4))));
        }
        bytes memory cid = abi.encodePacked(prefix, digest);
        bool valid =
            prefix[0] == 0x01 && (prefix[1] == 0x55 || prefix[1] == 0x70) && prefix[2] == 0x12 && prefix[3] == 0x20;
        (bool ok, bytes memory out) = address(h).staticcall(abi.encodeCall(LibHarness.parse, (cid)));
        (bool okMemory, bytes memory outMemory) = address(h).staticcall(abi.encodeCall(LibHarness.parseMemory, (cid)));
        (bool okValidate,) = address(h).staticcall(abi.encodeCall(LibHarness.validate, (cid)));
        vm.assertEq(ok ? 1 : 0, valid ? 1 : 0, "parse accepts exactly the valid prefixes");
        vm.assertEq(okMemory ? 1 : 0, valid ? 1 : 0, "parseMemory agrees");
        vm.assertEq(okValidate ? 1 : 0, valid ? 1 : 0, "validate agrees");
        if (!valid) {
            vm.assertEq(out, abi.encodeWithSelector(IFLChainV2.InvalidCid.selector), "InvalidCid");
            return;
        }
        vm.assertEq(out, outMemory, "the same codec and digest");
        (uint8 codec, bytes32 d) = abi.decode(out, (uint8, bytes32));
        vm.assertEq(d, digest, "the digest");
        vm.assertEq(CidLibV2.format(codec, d), cid, "format inverts parse");
    }

    function testFuzz_cid_length(bytes calldata cid) public view {
        (bool ok,) = address(h).staticcall(abi.encodeCall(LibHarness.parse, (cid)));
        (bool okMemory,) = address(h).staticcall(abi.encodeCall(LibHarness.parseMemory, (cid)));
        vm.assertEq(ok ? 1 : 0, okMemory ? 1 : 0, "both parsers agree");
        if (cid.length != 36) vm.assertFalse(ok, "only 36 bytes parse");
    }

    function testFuzz_cid_validateModel(bool raw, bytes32 digest, bytes32 claimed) public view {
        if (uint256(claimed) % 2 == 0) claimed = digest;
        bytes memory cid = abi.encodePacked(raw ? bytes4(0x01551220) : bytes4(0x01701220), digest);
        (bool ok, bytes memory out) = address(h).staticcall(abi.encodeCall(LibHarness.validateModel, (cid, claimed)));
        bool expected = !raw || claimed == digest;
        vm.assertEq(ok ? 1 : 0, expected ? 1 : 0, "a raw CID must carry the model's digest");
        if (!ok) vm.assertEq(out, abi.encodeWithSelector(IFLChainV2.CidDigestMismatch.selector), "CidDigestMismatch");
    }

    // ------------------------------------------------------------ CommitmentSlotV2

    function testFuzz_commitment_slot_forms(bytes32 value, uint8 outcomeSeed) public pure {
        IFLChainV2.RevealOutcome o =
            IFLChainV2.RevealOutcome(outcomeSeed % (uint8(type(IFLChainV2.RevealOutcome).max) + 1));
        bool valid = CommitmentSlotV2Library.isValidCommitment(value);
        vm.assertEq(valid ? 1 : 0, uint256(value) >= 1 << 16 ? 1 : 0, "valid from 2**16");
        CommitmentSlotV2 revealed = CommitmentSlotV2Library.fromOutcome(o);
        vm.assertEq(uint256(revealed.state()), uint256(IFLChainV2.CommitState.Revealed), "revealed");
        vm.assertEq(uint256(revealed.outcome()), uint256(o), "its outcome");
        vm.assertFalse(revealed.isCommitted() || revealed.isEmpty(), "neither committed nor empty");
        vm.assertEq(revealed.commitment(), bytes32(0), "no commitment once revealed");
        CommitmentSlotV2 slashed = CommitmentSlotV2Library.slashedMark();
        vm.assertEq(uint256(slashed.state()), uint256(IFLChainV2.CommitState.Slashed), "slashed");
        if (!valid) return;
        CommitmentSlotV2 c = CommitmentSlotV2Library.fromCommitment(value);
        vm.assertEq(uint256(c.state()), uint256(IFLChainV2.CommitState.Committed), "committed");
        vm.assertTrue(c.isCommitted() && !c.isEmpty(), "committed, not empty");
        vm.assertEq(c.commitment(), value, "the commitment");
        vm.assertEq(uint256(c.outcome()), uint256(IFLChainV2.RevealOutcome.Accepted), "the view's default");
    }

    // ------------------------------------------------------------ StakeCheckpoint

    /// @dev Three writes at non-decreasing rounds (effective(now) never goes back), read for
    ///      the round before each write and from it on, against a model that keeps the value
    ///      of the rounds before `from` and of the rounds from it.
    function testFuzz_checkpoint_keeps_the_round_before_each_write(
        uint32[3] memory gaps,
        uint112[3] memory values,
        uint112 initial
    ) public view {
        uint256 c = h.write(0, 0, initial);
        (uint256 from, uint256 current, uint256 previous) = (0, initial, 0);
        for (uint256 i = 0; i < 3; ++i) {
            uint256 newFrom = from + gaps[i] % 4; // 0: the same round again
            if (newFrom > from) (previous, from) = (current, newFrom);
            current = values[i];
            c = h.write(c, newFrom, values[i]);
            vm.assertEq(Checkpoint.wrap(c).valueAt(newFrom), current, "the new value from newFrom");
            vm.assertEq(Checkpoint.wrap(c).valueAt(newFrom + 9), current, "and after");
            if (newFrom > 0) {
                vm.assertEq(Checkpoint.wrap(c).valueAt(newFrom - 1), previous, "the round before keeps its value");
            }
        }
    }

    function testFuzz_checkpoint_pack_refuses_what_does_not_fit(uint256 from, uint256 value, uint256 previous) public {
        bool fits = from <= type(uint32).max && value <= type(uint112).max && previous <= type(uint112).max;
        if (!fits) {
            vm.expectRevert();
            h.pack(from, value, previous);
            return;
        }
        Checkpoint c = Checkpoint.wrap(h.pack(from, value, previous));
        vm.assertEq(c.fromRound(), from, "fromRound");
        vm.assertEq(c.value(), value, "value");
        vm.assertEq(c.previous(), previous, "previous");
    }

    // ------------------------------------------------------------ NodeCore, Clock

    function _fields(uint256 word) internal pure returns (uint256[12] memory f) {
        NodeCore c = NodeCore.wrap(word % 4 | (word & ~uint256(0xff))); // a valid status
        f[0] = uint256(c.status());
        f[1] = c.staked() ? 1 : 0;
        f[2] = c.previousStaked() ? 1 : 0;
        f[3] = c.votePending() ? 1 : 0;
        f[4] = c.stakeFrom();
        f[5] = c.unrevealed();
        f[6] = c.lastParticipatedRound();
        f[7] = c.settledRound();
        f[8] = c.lastAttestedRound();
        f[9] = c.lastAcceptedRound();
        f[10] = c.acceptedReveals();
        f[11] = c.leafIndex();
    }

    function testFuzz_nodeCore_setters_touch_their_fields_only(uint256 word, uint8 whichSeed, uint256 value) public {
        word = word % 4 | (word & ~uint256(0xff));
        uint256 which = whichSeed % 9;
        // ¾ of the runs with a value that fits, the rest anything
        if (value % 4 != 0) value = value >> 224;
        if (which == 7 && ((word >> 224) == type(uint32).max || value > type(uint32).max)) {
            vm.expectRevert();
            h.setCore(word, which, value);
            return;
        }
        if (which == 8 && value > type(uint16).max) {
            vm.expectRevert();
            h.setCore(word, which, value);
            return;
        }
        if (which >= 3 && which < 7 && value > type(uint32).max || which == 1 && value > type(uint32).max) {
            vm.expectRevert();
            h.setCore(word, which, value);
            return;
        }
        uint256[12] memory before = _fields(word);
        uint256[12] memory expected = before;
        if (which == 0) expected[0] = value % 4;
        else if (which == 1) (expected[4], expected[1], expected[2]) = (value, value & 1, (value >> 1) & 1);
        else if (which == 2) expected[3] = value & 1;
        else if (which == 7) (expected[9], expected[10]) = (value, before[10] + 1);
        else if (which == 8) expected[11] = value;
        else expected[which + 2] = value;
        uint256[12] memory afterwards = _fields(h.setCore(word, which, value));
        for (uint256 i = 0; i < 12; ++i) {
            vm.assertEq(afterwards[i], expected[i], "each field as set, the others unchanged");
        }
    }

    function testFuzz_clock_setters_touch_their_fields_only(uint256 word, uint8 whichSeed, uint256 a, uint256 b)
        public
    {
        uint256 which = whichSeed % 3;
        if (a % 4 != 0) a = a >> 192; // mostly a value that fits
        if (b % 4 != 0) b = b >> 192;
        bool fits = which == 0
            ? a <= type(uint32).max
            : which == 1 ? a <= type(uint64).max && b <= type(uint64).max : a <= type(uint32).max;
        if (!fits) {
            vm.expectRevert();
            h.setClock(word, which, a, b);
            return;
        }
        Clock c = Clock.wrap(word);
        Clock n = Clock.wrap(h.setClock(word, which, a, b));
        vm.assertEq(n.latestRoundPlusOne(), which == 2 ? a : c.latestRoundPlusOne(), "latestRoundPlusOne");
        vm.assertEq(n.nodeCount(), which == 0 ? a : c.nodeCount(), "nodeCount");
        vm.assertEq(n.pauseFrom(), which == 1 ? a : c.pauseFrom(), "pauseFrom");
        vm.assertEq(n.pauseUntil(), which == 1 ? b : c.pauseUntil(), "pauseUntil");
        vm.assertEq(n.mergedCodec(), which == 2 ? uint8(b) : c.mergedCodec(), "mergedCodec");
        vm.assertEq(n.manifestCodec(), which == 2 ? uint8(b >> 8) : c.manifestCodec(), "manifestCodec");
        vm.assertEq(Clock.unwrap(n) >> 208, Clock.unwrap(c) >> 208, "the unused bits");
        if (which == 1) {
            uint256 start = uint256(keccak256(abi.encode(word))) % (1 << 65);
            vm.assertEq(n.pauses(start) ? 1 : 0, a <= start && start < b ? 1 : 0, "pauses: [from, until)");
        }
    }

    // ------------------------------------------------------------ Accumulator

    function testFuzz_accumulator_counts_and_chains(bytes32[] memory entries, uint256 kinds, uint256 openAt)
        public
        pure
    {
        Accumulator acc = Accumulator.wrap(0);
        openAt %= 42; // ≥ 41: never opened
        bytes20 chain_ = 0;
        uint256[3] memory counts;
        for (uint256 i = 0; i < entries.length && i < 40; ++i) {
            if (i == openAt) acc = acc.markOpened(); // openRound may come after entries
            uint256 kind = (kinds >> (2 * i)) % 3;
            if (kind == 0) acc = acc.pushReveal(entries[i]);
            else if (kind == 1) acc = acc.pushAttestation(entries[i]);
            else acc = acc.pushOther(entries[i]);
            counts[kind] += 1;
            chain_ = bytes20(keccak256(abi.encode(chain_, entries[i])));
        }
        vm.assertEq(acc.reveals(), counts[0], "reveals");
        vm.assertEq(acc.attestations(), counts[1], "attestations");
        vm.assertEq(acc.others(), counts[2], "others");
        vm.assertEq(bytes32(acc.chain()), bytes32(chain_), "the chain");
        bool opened = openAt < entries.length && openAt < 40;
        uint256 mark = uint256(Accumulator.unwrap(acc)) & AccumulatorLibrary.OPENED_MARK;
        vm.assertTrue((mark != 0) == opened, "the opened mark, and nothing but openRound sets it");
        if (!opened) {
            acc = acc.markOpened();
            vm.assertEq(acc.others(), counts[2], "the mark is no count");
            vm.assertEq(bytes32(acc.chain()), bytes32(chain_), "nor a chain step");
        }
        vm.assertEq(bytes32(AccumulatorLibrary.step(0, bytes32(0))), bytes32(bytes20(keccak256(new bytes(64)))), "step");
    }

    // ------------------------------------------------------------ RulesGate

    function testFuzz_rulesGate_reads_the_stored_first_word(IFLChainV2.Rules memory r) public {
        RulesGate g = h.gateOf(r);
        vm.assertEq(g.effectiveRound(), r.effectiveRound, "effectiveRound");
        vm.assertEq(g.roiMinBps(), r.roiMinBps, "roiMinBps");
        vm.assertEq(g.roiMaxBps(), r.roiMaxBps, "roiMaxBps");
        vm.assertEq(g.eligibilityMinScoreBps(), r.eligibilityMinScoreBps, "eligibilityMinScoreBps");
        vm.assertEq(g.probationRounds(), r.probationRounds, "probationRounds");
        vm.assertEq(g.penaltyCooldownRounds(), r.penaltyCooldownRounds, "penaltyCooldownRounds");
        vm.assertEq(g.noticeRounds(), r.noticeRounds, "noticeRounds");
        vm.assertEq(g.finalityPpm(), r.finalityPpm, "finalityPpm");
        vm.assertEq(g.maxPayloadBytes(), r.maxPayloadBytes, "maxPayloadBytes");
    }

    // ------------------------------------------------------------ SettlementProof

    function testFuzz_leafHashCalldata_is_leafHash_on_clean_words_only(
        IFLChainV2.Leaf memory l,
        uint8 wordSeed,
        uint8 bitSeed
    ) public view {
        bytes32 clean = leafHash(IFLChainV2(address(h)), l);
        vm.assertEq(h.leafHashCalldata(l), clean, "the seven words in place hash as leafHash");
        // a bit above a field's width in one of its words: what no ABI encoder sends
        uint256 word = wordSeed % 7;
        uint256[7] memory widths = [uint256(160), 32, 128, 32, 32, 32, 32];
        uint256 bit = widths[word] + bitSeed % (256 - widths[word]);
        bytes memory data = abi.encodeCall(LibHarness.leafHashCalldata, (l));
        uint256 at = 4 + 32 * word;
        bytes32 dirty;
        assembly {
            let p := add(add(data, 0x20), at)
            dirty := mload(p)
        }
        // flipped, not set: a negative scoreBps is sign-extended, its high bits already 1
        dirty ^= bytes32(uint256(1) << bit);
        assembly {
            mstore(add(add(data, 0x20), at), dirty)
        }
        (bool ok, bytes memory ret) = address(h).staticcall(data);
        if (ok) vm.assertTrue(abi.decode(ret, (bytes32)) != clean, "a dirty word hashes otherwise");
    }

    function testFuzz_a_proof_verifies_at_its_index_only(bytes32 seed, uint8 countSeed, uint8 indexSeed, uint8 flip)
        public
        view
    {
        uint256 n = 1 + countSeed % 40;
        uint256 index = indexSeed % n;
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            leaves[i] = keccak256(abi.encode(seed, i));
        }
        bytes32[][] memory tree = treeLevels(leaves);
        bytes32 root = rootOf(tree);
        bytes32[16] memory proof = proofOf(tree, index);
        vm.assertTrue(h.verify(root, index, leaves[index], proof), "verifies at its index");
        uint256 other = (index + 1 + flip) % n;
        if (other != index) vm.assertFalse(h.verify(root, other, leaves[index], proof), "not at another index");
        vm.assertFalse(h.verify(root, index + (1 << 16), leaves[index], proof), "an index beyond the tree");
        vm.assertFalse(h.verify(root, index, keccak256(abi.encode(leaves[index])), proof), "not another leaf");
        proof[flip % 16] ^= bytes32(uint256(1) << (flip % 256));
        vm.assertFalse(h.verify(root, index, leaves[index], proof), "not a bent proof");
    }
}

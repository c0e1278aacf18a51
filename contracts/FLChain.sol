// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChain} from "./interfaces/IFLChain.sol";
import {CidLib} from "./libraries/CidLib.sol";
import {CommitmentSlot, CommitmentSlotLibrary} from "./libraries/CommitmentSlot.sol";
import {RulesLib} from "./libraries/RulesLib.sol";

/// @title FLChain — protocol v1 ledger of an auditable federation for trading models
/// @notice Registration with a bond, a fixed daily round schedule, commit–reveal of model updates
///         with on-chain filtering (ROI band, eligibility), scheduled rule changes, and merge
///         attestations finalized by a quorum of distinct registered nodes. Every fact an auditor
///         needs to rebuild a round is emitted as an event; no transaction loops over an
///         unbounded set (the penalised list is capped at MAX_PENALISED, rule lookup is a binary
///         search). Types, events, errors and the function docs are in `IFLChain`.
/// @dev Gas layout, measured by bench/gas.py: commit writes one new slot (the commitment);
///      reveal rewrites that slot (it then holds the outcome, see `CommitmentSlot`) and the node
///      record; CID, digests and salt live only in calldata and events. A non-finalizing
///      attestation writes one vote slot and only checks the penalised list's bound and order
///      (calldata, no storage); the finalizing one stores three slots (four if the merged
///      model's CID is a dag-pb root) and is the only one that reads and writes the listed
///      nodes' storage.
contract FLChain is IFLChain {
    // ---------------------------------------------------------------- internal types

    /// @notice The rule fields a reveal and an attestation read, for one version.
    /// @dev One slot. The stored copy (`_gate`) is the newest version's and also carries the
    ///      effective round and quorum of the version before it, so that an attestation reads
    ///      one slot of rules even while a change is pending; elsewhere those two are zero.
    struct Gate {
        uint32 effectiveRound;
        int32 roiMinBps;
        int32 roiMaxBps;
        int32 eligibilityMinScoreBps;
        uint16 probationRounds;
        uint16 quorum;
        uint32 previousEffectiveRound;
        uint16 previousQuorum;
    }

    /// @notice A finalized round's global model as stored.
    /// @dev Three slots (four for a dag-pb merged CID). The packed slot holds the first 160 bits
    ///      of the finalized result hash, so later attestations of the same result are counted
    ///      here and finalization never writes a separate vote slot (a 160-bit second preimage
    ///      is out of reach).
    struct Final {
        bytes32 mergedDigest;
        bytes32 manifestCidDigest;
        bytes20 resultTag; // non-zero iff finalized
        uint64 finalizedAt;
        uint8 mergedCodec;
        uint8 manifestCodec;
        uint16 votes; // attestations of the finalized result
        bytes32 mergedCidDigest; // only stored for dag-pb roots; raw CIDs carry mergedDigest
    }

    // ---------------------------------------------------------------- constants

    /// @inheritdoc IFLChain
    int64 public constant PENALTY_BPS = 10_000;
    /// @inheritdoc IFLChain
    uint256 public constant MAX_PENALISED = 64;
    /// @inheritdoc IFLChain
    uint8 public constant CODEC_RAW = CidLib.CODEC_RAW;
    /// @inheritdoc IFLChain
    uint8 public constant CODEC_DAG_PB = CidLib.CODEC_DAG_PB;

    // ---------------------------------------------------------------- immutables

    /// @inheritdoc IFLChain
    // slither-disable-next-line naming-convention (v1's ABI name: renaming changes the selector)
    uint64 public immutable T0;
    /// @inheritdoc IFLChain
    uint64 public immutable roundLength;
    /// @inheritdoc IFLChain
    uint64 public immutable commitWindow;
    /// @inheritdoc IFLChain
    uint64 public immutable revealWindow;
    /// @inheritdoc IFLChain
    uint256 public immutable minBond;
    /// @inheritdoc IFLChain
    uint64 public immutable exitDelay;
    /// @inheritdoc IFLChain
    bytes32 public immutable genesisDigest;
    bytes32 private immutable _genesisCidDigest;
    uint8 private immutable _genesisCidCodec;

    // ---------------------------------------------------------------- storage

    /// @inheritdoc IFLChain
    address public governor;
    /// @inheritdoc IFLChain
    uint32 public nodeCount;

    Rules[] private _rules;
    // The newest version's gate (see `Gate`): a reveal or an attestation under the newest rules,
    // and an attestation under the previous ones, read this slot instead of searching `_rules`.
    Gate private _gate;
    mapping(address => NodeRecord) private _nodes;
    mapping(address => uint256) private _bonds;
    mapping(uint256 => mapping(address => CommitmentSlot)) private _commitments;
    mapping(uint256 => mapping(bytes32 => uint256)) private _votes;
    mapping(uint256 => Final) private _finals;

    // ---------------------------------------------------------------- modifiers

    modifier onlyGovernor() {
        if (msg.sender != governor) revert NotGovernor(msg.sender);
        _;
    }

    // ---------------------------------------------------------------- construction

    /// @notice Fix the round schedule, bond, exit delay, genesis model and first rules.
    /// @param t0 genesis time (unix seconds)
    /// @param roundLength_ L, seconds
    /// @param commitWindow_ commit window length, > 0
    /// @param revealWindow_ reveal window length, > 0; commit + reveal ≤ L
    /// @param minBond_ smallest bond in wei (0 allowed)
    /// @param exitDelay_ seconds from exit request to withdrawal
    /// @param genesisDigest_ sha256 of the genesis model's canonical safetensors bytes
    /// @param genesisCid_ binary CIDv1 of the genesis model
    /// @param rules_ rules in force from round 0 (`effectiveRound` must be 0)
    constructor(
        uint64 t0,
        uint64 roundLength_,
        uint64 commitWindow_,
        uint64 revealWindow_,
        uint256 minBond_,
        uint64 exitDelay_,
        bytes32 genesisDigest_,
        bytes memory genesisCid_,
        Rules memory rules_
    ) {
        if (
            roundLength_ == 0 || commitWindow_ == 0 || revealWindow_ == 0
                || uint256(commitWindow_) + revealWindow_ > roundLength_ || genesisDigest_ == bytes32(0)
        ) revert InvalidSchedule();
        if (rules_.effectiveRound != 0) revert RulesOutOfOrder(rules_.effectiveRound, 0);
        (uint8 codec, bytes32 cidDigest) = CidLib.parseMemory(genesisCid_);
        if (codec == CODEC_RAW && cidDigest != genesisDigest_) revert CidDigestMismatch();
        T0 = t0;
        roundLength = roundLength_;
        commitWindow = commitWindow_;
        revealWindow = revealWindow_;
        minBond = minBond_;
        exitDelay = exitDelay_;
        genesisDigest = genesisDigest_;
        _genesisCidDigest = cidDigest;
        _genesisCidCodec = codec;
        governor = msg.sender;
        emit GovernanceTransferred(address(0), msg.sender);
        emit Genesis(genesisDigest_, genesisCid_, t0, roundLength_, commitWindow_, revealWindow_);
        _pushRules(rules_);
    }

    // ---------------------------------------------------------------- identity

    /// @inheritdoc IFLChain
    function register() external payable {
        NodeRecord storage rec = _nodes[msg.sender];
        if (rec.status != Status.None) revert AlreadyRegistered(msg.sender);
        if (msg.value < minBond) revert BondTooSmall(msg.value, minBond);
        uint32 index = nodeCount;
        nodeCount = index + 1;
        rec.status = Status.Active;
        rec.index = index;
        _bonds[msg.sender] = msg.value;
        emit Registered(msg.sender, msg.value, index);
    }

    /// @inheritdoc IFLChain
    function requestExit() external {
        NodeRecord storage rec = _nodes[msg.sender];
        if (rec.status != Status.Active) revert NotActive(msg.sender);
        uint64 readyAt = uint64(block.timestamp) + exitDelay;
        rec.status = Status.Exiting;
        rec.withdrawableAt = readyAt;
        emit ExitRequested(msg.sender, readyAt);
    }

    /// @inheritdoc IFLChain
    /// @dev Checks, effects, then the transfer.
    function withdraw() external {
        NodeRecord storage rec = _nodes[msg.sender];
        if (rec.status != Status.Exiting) revert NotExiting(msg.sender);
        if (block.timestamp < rec.withdrawableAt) revert WithdrawalTooEarly(rec.withdrawableAt);
        uint256 amount = _bonds[msg.sender];
        rec.status = Status.Withdrawn;
        _bonds[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        // The way to send ether to any wallet, a contract one included (`transfer`'s 2300-gas
        // stipend fails for many); every state change is done by now.
        // slither-disable-next-line low-level-calls
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---------------------------------------------------------------- commit–reveal

    /// @inheritdoc IFLChain
    function commit(uint256 round, bytes32 commitment) external {
        if (_nodes[msg.sender].status != Status.Active) revert Unregistered(msg.sender);
        (uint256 open, Phase phase) = _phaseAt(block.timestamp);
        if (phase != Phase.Commit || open != round) revert NotInCommitWindow(round);
        if (!_commitments[round][msg.sender].isEmpty()) revert AlreadyCommitted(round, msg.sender);
        if (!CommitmentSlotLibrary.isValidCommitment(commitment)) revert CommitmentMismatch(round, msg.sender);
        _commitments[round][msg.sender] = CommitmentSlotLibrary.fromCommitment(commitment);
        emit Committed(round, msg.sender, commitment);
    }

    /// @inheritdoc IFLChain
    function reveal(
        uint256 round,
        bytes32 updateDigest,
        bytes calldata cid,
        bytes32 baseDigest,
        int32 roiBps,
        bytes32 salt
    ) external {
        NodeRecord storage rec = _nodes[msg.sender];
        Status status = rec.status;
        if (status == Status.None || status == Status.Withdrawn) revert Unregistered(msg.sender);
        (uint256 open, Phase phase) = _phaseAt(block.timestamp);
        if (phase != Phase.Reveal || open != round) revert NotInRevealWindow(round);
        CommitmentSlot stored = _commitments[round][msg.sender];
        if (stored.isEmpty()) revert NoCommitment(round, msg.sender);
        if (stored.isRevealed()) revert AlreadyRevealed(round, msg.sender);
        CidLib.validateModel(cid, updateDigest);
        bytes32 expected = keccak256(
            abi.encode(
                block.chainid, address(this), round, msg.sender, updateDigest, keccak256(cid), baseDigest, roiBps, salt
            )
        );
        if (expected != stored.commitment()) revert CommitmentMismatch(round, msg.sender);

        Gate memory gate = _gateFor(round);
        uint32 accepted = rec.acceptedReveals;
        RevealOutcome outcome;
        if (roiBps < gate.roiMinBps || roiBps > gate.roiMaxBps) {
            outcome = RevealOutcome.RejectedAbnormalRoi;
        } else if (!_eligible(accepted, rec.penalties, rec.roiSumBps, gate)) {
            outcome = RevealOutcome.RejectedIneligible;
        } else {
            outcome = RevealOutcome.Accepted;
            rec.acceptedReveals = accepted + 1;
            rec.roiSumBps += roiBps;
        }
        _commitments[round][msg.sender] = CommitmentSlotLibrary.fromOutcome(outcome);
        emit Revealed(round, msg.sender, updateDigest, cid, baseDigest, roiBps, salt, outcome);
    }

    // ---------------------------------------------------------------- attestation

    /// @inheritdoc IFLChain
    /// @dev Attestations go forward in rounds so that the duplicate check stays in the node's
    ///      own record slot.
    function attest(
        uint256 round,
        bytes32 mergedDigest,
        bytes calldata mergedCid,
        bytes calldata manifestCid,
        address[] calldata penalised
    ) external returns (bytes32 resultHash) {
        NodeRecord storage rec = _nodes[msg.sender];
        if (rec.status != Status.Active) revert Unregistered(msg.sender);
        if (!_closed(round)) revert RoundNotClosed(round);
        uint32 last = rec.lastAttestedRound;
        if (last == round + 1) revert AlreadyAttested(round, msg.sender);
        if (last > round) revert AttestationOutOfOrder(round, uint256(last) - 1);
        rec.lastAttestedRound = uint32(round + 1);

        CidLib.validateModel(mergedCid, mergedDigest);
        CidLib.validate(manifestCid);
        _checkPenalisedList(penalised);

        resultHash = _resultHash(round, mergedDigest, keccak256(mergedCid), keccak256(manifestCid), penalised);
        Final storage fin = _finals[round];
        bytes20 tag = fin.resultTag;
        uint256 votes;
        bool finalizing = false;
        if (tag == bytes20(0)) {
            votes = _votes[round][resultHash] + 1;
            if (votes >= _quorumFor(round)) {
                _checkPenalisable(round, penalised);
                _storeFinal(fin, resultHash, mergedDigest, mergedCid, manifestCid, votes);
                finalizing = true;
            } else {
                _votes[round][resultHash] = votes;
            }
        } else if (tag == bytes20(resultHash)) {
            votes = uint256(fin.votes) + 1;
            if (votes <= type(uint16).max) fin.votes = uint16(votes); // saturates: only a count
        } else {
            votes = _votes[round][resultHash] + 1;
            _votes[round][resultHash] = votes;
        }
        emit Attested(round, msg.sender, resultHash, mergedDigest, mergedCid, manifestCid, penalised, votes);
        if (finalizing) {
            emit RoundFinalized(round, resultHash, votes);
            _penalise(round, penalised);
        }
    }

    /// @dev Finalization writes the Final record instead of a vote slot (see `Final`).
    function _storeFinal(
        Final storage fin,
        bytes32 resultHash,
        bytes32 mergedDigest,
        bytes calldata mergedCid,
        bytes calldata manifestCid,
        uint256 votes
    ) private {
        (uint8 mergedCodec, bytes32 mergedCidDigest) = CidLib.parse(mergedCid);
        (uint8 manifestCodec, bytes32 manifestCidDigest) = CidLib.parse(manifestCid);
        fin.mergedDigest = mergedDigest;
        fin.manifestCidDigest = manifestCidDigest;
        fin.resultTag = bytes20(resultHash);
        fin.finalizedAt = uint64(block.timestamp);
        fin.mergedCodec = mergedCodec;
        fin.manifestCodec = manifestCodec;
        fin.votes = uint16(votes);
        if (mergedCodec != CODEC_RAW) fin.mergedCidDigest = mergedCidDigest;
    }

    /// @dev keccak256(abi.encode(round, mergedDigest, mergedCidHash, manifestCidHash, penalised)),
    ///      with the list's words hashed straight from calldata rather than re-encoded one by one:
    ///      `_checkPenalisedList` has checked that every word is a clean address, so those words
    ///      are exactly the list's ABI encoding.
    function _resultHash(
        uint256 round,
        bytes32 mergedDigest,
        bytes32 mergedCidHash,
        bytes32 manifestCidHash,
        address[] calldata penalised
    ) private pure returns (bytes32 h) {
        // slither-disable-next-line assembly (hashes the list in place, see @dev above)
        assembly ("memory-safe") {
            let p := mload(0x40) // scratch above the free memory pointer, left unallocated
            mstore(p, round)
            mstore(add(p, 0x20), mergedDigest)
            mstore(add(p, 0x40), mergedCidHash)
            mstore(add(p, 0x60), manifestCidHash)
            mstore(add(p, 0x80), 0xa0) // offset of the dynamic array in the head
            mstore(add(p, 0xa0), penalised.length)
            let words := shl(5, penalised.length)
            calldatacopy(add(p, 0xc0), penalised.offset, words)
            h := keccak256(p, add(0xc0, words))
        }
    }

    /// @dev Runs after `_checkPenalisable` accepted the whole list.
    function _penalise(uint256 round, address[] calldata penalised) private {
        for (uint256 i = 0; i < penalised.length; ++i) {
            NodeRecord storage p = _nodes[penalised[i]];
            uint32 n = p.penalties + 1;
            p.penalties = n;
            emit NodePenalised(round, penalised[i], n);
        }
    }

    // ---------------------------------------------------------------- rules

    /// @inheritdoc IFLChain
    function scheduleRules(Rules calldata rules) external onlyGovernor {
        uint256 effective = rules.effectiveRound;
        if (block.timestamp >= T0) {
            uint256 open = (block.timestamp - T0) / roundLength;
            if (effective <= open) revert RulesForOpenRound(effective, open);
        }
        uint256 n = _rules.length;
        uint256 lastEffective = _rules[n - 1].effectiveRound;
        if (effective < lastEffective) revert RulesOutOfOrder(effective, lastEffective);
        if (effective == lastEffective) {
            RulesLib.check(rules);
            _rules[n - 1] = rules;
            _storeGate(_rules[n - 1], _gate); // the version before the replaced one is unchanged
            emit RulesScheduled(effective, n - 1, rules);
        } else {
            _pushRules(rules);
        }
    }

    /// @inheritdoc IFLChain
    function transferGovernance(address newGovernor) external onlyGovernor {
        if (newGovernor == address(0)) revert ZeroAddress();
        emit GovernanceTransferred(governor, newGovernor);
        governor = newGovernor;
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IFLChain
    function phaseAt(uint256 ts) external view returns (uint256 round, Phase phase) {
        return _phaseAt(ts);
    }

    /// @inheritdoc IFLChain
    function currentPhase() external view returns (uint256 round, Phase phase) {
        return _phaseAt(block.timestamp);
    }

    /// @inheritdoc IFLChain
    function rulesForRound(uint256 round) external view returns (Rules memory) {
        return _rules[_rulesIndex(round)];
    }

    /// @inheritdoc IFLChain
    function rulesVersionCount() external view returns (uint256) {
        return _rules.length;
    }

    /// @inheritdoc IFLChain
    function rulesVersion(uint256 version) external view returns (Rules memory) {
        return _rules[version];
    }

    /// @inheritdoc IFLChain
    function nodeRecord(address node) external view returns (NodeRecord memory record, uint256 bond) {
        return (_nodes[node], _bonds[node]);
    }

    /// @inheritdoc IFLChain
    function isEligible(address node, uint256 round) external view returns (bool) {
        NodeRecord storage rec = _nodes[node];
        if (rec.status == Status.None || rec.status == Status.Withdrawn) return false;
        return _eligible(rec.acceptedReveals, rec.penalties, rec.roiSumBps, _gateFor(round));
    }

    /// @inheritdoc IFLChain
    function commitmentOf(uint256 round, address node)
        external
        view
        returns (bytes32 commitment, bool revealed, RevealOutcome outcome)
    {
        CommitmentSlot slot = _commitments[round][node];
        if (slot.isRevealed()) return (bytes32(0), true, slot.outcome());
        return (slot.commitment(), false, RevealOutcome.Accepted);
    }

    /// @inheritdoc IFLChain
    function votesFor(uint256 round, bytes32 resultHash) external view returns (uint256) {
        Final storage fin = _finals[round];
        if (fin.resultTag != bytes20(0) && fin.resultTag == bytes20(resultHash)) return fin.votes;
        return _votes[round][resultHash];
    }

    /// @inheritdoc IFLChain
    function finalized(uint256 round)
        external
        view
        returns (
            bool isFinal,
            bytes32 mergedDigest,
            bytes memory mergedCid,
            bytes memory manifestCid,
            uint64 finalizedAt,
            uint16 votes
        )
    {
        Final storage fin = _finals[round];
        if (fin.resultTag == bytes20(0)) return (false, bytes32(0), "", "", 0, 0);
        bytes32 mergedCidDigest = fin.mergedCodec == CODEC_RAW ? fin.mergedDigest : fin.mergedCidDigest;
        return (
            true,
            fin.mergedDigest,
            CidLib.format(fin.mergedCodec, mergedCidDigest),
            CidLib.format(fin.manifestCodec, fin.manifestCidDigest),
            fin.finalizedAt,
            fin.votes
        );
    }

    /// @inheritdoc IFLChain
    function genesis() external view returns (bytes32 digest, bytes memory cid) {
        return (genesisDigest, CidLib.format(_genesisCidCodec, _genesisCidDigest));
    }

    // ---------------------------------------------------------------- internals

    function _phaseAt(uint256 ts) private view returns (uint256 round, Phase phase) {
        if (ts < T0) return (0, Phase.NotStarted);
        uint256 elapsed = ts - T0;
        round = elapsed / roundLength;
        // slither-disable-next-line weak-prng (schedule arithmetic: the offset into the round)
        uint256 offset = elapsed % roundLength;
        if (offset < commitWindow) phase = Phase.Commit;
        else if (offset < uint256(commitWindow) + revealWindow) phase = Phase.Reveal;
        else phase = Phase.Closed;
    }

    /// @dev True once the reveal window of `round` has ended (no overflow for huge rounds: a
    ///      round after the current one is never closed).
    function _closed(uint256 round) private view returns (bool) {
        if (block.timestamp < T0) return false;
        uint256 elapsed = block.timestamp - T0;
        uint256 current = elapsed / roundLength;
        if (round != current) return round < current;
        // slither-disable-next-line weak-prng (schedule arithmetic: the offset into the round)
        return elapsed % roundLength >= uint256(commitWindow) + revealWindow;
    }

    function _eligible(uint32 acceptedReveals, uint32 penalties, int64 roiSumBps, Gate memory gate)
        private
        pure
        returns (bool)
    {
        if (acceptedReveals < gate.probationRounds) return true;
        int256 score = int256(roiSumBps) - int256(PENALTY_BPS) * int256(uint256(penalties));
        return score >= int256(gate.eligibilityMinScoreBps) * int256(uint256(acceptedReveals));
    }

    /// @dev The gate fields of the rules frozen for `round`: the stored copy when the newest
    ///      version applies, else the version `_rulesIndex` finds.
    function _gateFor(uint256 round) private view returns (Gate memory gate) {
        gate = _gate;
        if (gate.effectiveRound <= round) return gate;
        Rules storage r = _rules[_rulesIndex(round)];
        gate = Gate(
            r.effectiveRound, r.roiMinBps, r.roiMaxBps, r.eligibilityMinScoreBps, r.probationRounds, r.quorum, 0, 0
        );
    }

    /// @dev The quorum frozen for `round`: one slot read under the newest or the previous version.
    function _quorumFor(uint256 round) private view returns (uint256) {
        Gate memory gate = _gate;
        if (gate.effectiveRound <= round) return gate.quorum;
        if (gate.previousEffectiveRound <= round) return gate.previousQuorum;
        return _rules[_rulesIndex(round)].quorum;
    }

    /// @dev `old` as the previous version of a newer one: its effective round and quorum.
    function _gateWithPrevious(Gate memory old) private pure returns (Gate memory gate) {
        gate.previousEffectiveRound = old.effectiveRound;
        gate.previousQuorum = old.quorum;
    }

    /// @dev Store version `r`'s gate fields, keeping `previous`'s previous-version fields.
    function _storeGate(Rules storage r, Gate memory previous) private {
        _gate = Gate(
            r.effectiveRound,
            r.roiMinBps,
            r.roiMaxBps,
            r.eligibilityMinScoreBps,
            r.probationRounds,
            r.quorum,
            previous.previousEffectiveRound,
            previous.previousQuorum
        );
    }

    /// @dev Index of the last version with effectiveRound ≤ round. Version 0 has round 0, so
    ///      one always exists. The newest version is tried first (the common case), then a
    ///      binary search: O(log versions) reads.
    function _rulesIndex(uint256 round) private view returns (uint256) {
        uint256 n = _rules.length;
        if (_rules[n - 1].effectiveRound <= round) return n - 1;
        uint256 lo = 0;
        uint256 hi = n - 1; // invariant: rules[lo].effectiveRound <= round < rules[hi].effectiveRound
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) / 2;
            if (_rules[mid].effectiveRound <= round) lo = mid;
            else hi = mid;
        }
        return lo;
    }

    function _pushRules(Rules memory rules) private {
        RulesLib.check(rules);
        _rules.push(rules);
        _storeGate(_rules[_rules.length - 1], _gateWithPrevious(_gate));
        emit RulesScheduled(rules.effectiveRound, _rules.length - 1, rules);
    }

    /// @dev The penalised list is bounded, strictly ascending (canonical order, no duplicates)
    ///      and every word is a clean address (the result hash is taken over the raw words; a
    ///      dirty word reverts without data, as the ABI decoder does). Calldata only: every
    ///      attestation pays this. The loop is assembly because checked element access costs
    ///      about five times as much per item, and a non-finalizing attestation is on a budget.
    function _checkPenalisedList(address[] calldata penalised) private pure {
        uint256 n = penalised.length;
        if (n > MAX_PENALISED) revert TooManyPenalised(n, MAX_PENALISED);
        bool clean = true;
        bool ascending = true;
        // slither-disable-next-line assembly (for gas, see @dev above)
        assembly ("memory-safe") {
            let prev := 0
            let end := add(penalised.offset, shl(5, n)) // the decoder checked it is in calldata
            for { let at := penalised.offset } lt(at, end) { at := add(at, 0x20) } {
                let p := calldataload(at)
                if shr(160, p) {
                    clean := 0
                    break
                }
                if iszero(gt(p, prev)) {
                    ascending := 0
                    break
                }
                prev := p
            }
        }
        if (!clean) revert();
        if (!ascending) revert PenalisedNotSorted();
    }

    /// @dev Every penalised node must have an Accepted reveal in `round`. One storage read per
    ///      listed node, so only the finalizing attestation pays it (see `attest`).
    function _checkPenalisable(uint256 round, address[] calldata penalised) private view {
        for (uint256 i = 0; i < penalised.length; ++i) {
            address p = penalised[i];
            if (!_commitments[round][p].hasOutcome(RevealOutcome.Accepted)) {
                revert NotPenalisable(round, p);
            }
        }
    }
}

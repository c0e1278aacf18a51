// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title FLChain — protocol v1 ledger of an auditable federation for trading models
/// @notice Registration with a bond, a fixed daily round schedule, commit–reveal of model updates
///         with on-chain filtering (ROI band, eligibility), scheduled rule changes, and merge
///         attestations finalized by a quorum of distinct registered nodes. Every fact an auditor
///         needs to rebuild a round is emitted as an event; no transaction loops over an
///         unbounded set (the penalised list is capped at MAX_PENALISED, rule lookup is a binary
///         search).
/// @dev Gas layout, measured by bench/gas.py: commit writes one new slot (the commitment);
///      reveal rewrites that slot (it then holds the outcome) and the node record; CID, digests
///      and salt live only in calldata and events. A non-finalizing attestation writes one vote
///      slot and only checks the penalised list's bound and order (calldata, no storage); the
///      finalizing one stores three slots (four if the merged model's CID is a dag-pb root) and
///      is the only one that reads and writes the listed nodes' storage.
contract FLChain {
    // ---------------------------------------------------------------- types

    /// @notice Outcome of a reveal (same numbering as flchain.protocol.RevealOutcome).
    enum RevealOutcome {
        Accepted,
        RejectedAbnormalRoi,
        RejectedIneligible
    }

    /// @notice Round phase at a timestamp.
    enum Phase {
        NotStarted,
        Commit,
        Reveal,
        Closed
    }

    /// @notice Node lifecycle.
    enum Status {
        None,
        Active,
        Exiting,
        Withdrawn
    }

    /// @notice Rule parameters, in force from round `effectiveRound` until the next version.
    /// @dev Field order is the storage packing: the first slot holds everything a reveal and an
    ///      attestation read, so those read one slot of rules.
    struct Rules {
        uint32 effectiveRound;
        int32 roiMinBps;
        int32 roiMaxBps;
        int32 eligibilityMinScoreBps;
        uint16 probationRounds;
        uint16 quorum;
        uint16 maxParticipants;
        uint32 similarityThresholdPpm;
        uint32 clusterCapPpm;
        uint8 similarityMetric;
        uint8 aggregation;
        // second slot
        uint32 trimPpm;
        uint32 roiToleranceBps;
        uint64 normBoundMicro;
        uint32 feePpm;
        // third slot
        bytes32 benchmarkId;
    }

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

    /// @notice A node's registration and performance record.
    /// @dev Two slots: the first holds everything commit, reveal and attest read or write;
    ///      `withdrawableAt` spills into the second, which only the exit path touches.
    struct NodeRecord {
        Status status;
        uint32 index; // registration order, 0-based
        uint32 acceptedReveals;
        uint32 penalties;
        int64 roiSumBps; // sum of accepted ROI claims
        uint32 lastAttestedRound; // round + 1 of the latest attestation, 0 = never
        uint64 withdrawableAt; // set by requestExit
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

    /// @notice Score subtracted from a node's ROI sum for each penalty (1.0 in bps).
    int64 public constant PENALTY_BPS = 10_000;
    /// @notice Most penalised nodes one attestation may list.
    uint256 public constant MAX_PENALISED = 64;
    /// @notice Multicodec of a raw leaf (single-block file).
    uint8 public constant CODEC_RAW = 0x55;
    /// @notice Multicodec of a dag-pb (UnixFS) root.
    uint8 public constant CODEC_DAG_PB = 0x70;

    // Commitment slot values once revealed: REVEALED_TAG | outcome. A keccak output equals one
    // of these with negligible probability.
    uint256 private constant REVEALED_TAG = 0x100;

    // ---------------------------------------------------------------- immutables

    /// @notice Genesis time: round r is [T0 + r·L, T0 + (r+1)·L).
    uint64 public immutable T0;
    /// @notice Round length L in seconds.
    uint64 public immutable roundLength;
    /// @notice Commit window length from the start of a round.
    uint64 public immutable commitWindow;
    /// @notice Reveal window length, right after the commit window.
    uint64 public immutable revealWindow;
    /// @notice Smallest bond accepted at registration (wei, may be 0).
    uint256 public immutable minBond;
    /// @notice Seconds between an exit request and the earliest withdrawal.
    uint64 public immutable exitDelay;
    /// @notice Digest of the genesis global model (round -1).
    bytes32 public immutable genesisDigest;
    bytes32 private immutable _genesisCidDigest;
    uint8 private immutable _genesisCidCodec;

    // ---------------------------------------------------------------- storage

    /// @notice Address allowed to schedule rule changes and hand the role over.
    address public governor;
    /// @notice Number of registrations so far.
    uint32 public nodeCount;

    Rules[] private _rules;
    // The newest version's gate (see `Gate`): a reveal or an attestation under the newest rules,
    // and an attestation under the previous ones, read this slot instead of searching `_rules`.
    Gate private _gate;
    mapping(address => NodeRecord) private _nodes;
    mapping(address => uint256) private _bonds;
    mapping(uint256 => mapping(address => bytes32)) private _commitments;
    mapping(uint256 => mapping(bytes32 => uint256)) private _votes;
    mapping(uint256 => Final) private _finals;

    // ---------------------------------------------------------------- events

    /// @notice The genesis global model (round -1) and the round schedule, at deployment.
    event Genesis(
        bytes32 digest, bytes cid, uint64 t0, uint64 roundLength, uint64 commitWindow, uint64 revealWindow
    );
    /// @notice A node registered with `bond` wei; `index` is its registration order.
    event Registered(address indexed node, uint256 bond, uint32 index);
    /// @notice A node asked to leave; it may withdraw from `withdrawableAt` on.
    event ExitRequested(address indexed node, uint64 withdrawableAt);
    /// @notice A node's bond was paid back.
    event Withdrawn(address indexed node, uint256 amount);
    /// @notice A node committed to an update for `round`.
    event Committed(uint256 indexed round, address indexed node, bytes32 commitment);
    /// @notice A node revealed its update; `outcome` is the on-chain filter decision.
    event Revealed(
        uint256 indexed round,
        address indexed node,
        bytes32 updateDigest,
        bytes cid,
        bytes32 baseDigest,
        int32 roiBps,
        bytes32 salt,
        RevealOutcome outcome
    );
    /// @notice Rule version `version` takes effect at round `rules.effectiveRound`.
    event RulesScheduled(uint256 indexed effectiveRound, uint256 version, Rules rules);
    /// @notice A registered node attested the merge result of `round`.
    event Attested(
        uint256 indexed round,
        address indexed attester,
        bytes32 indexed resultHash,
        bytes32 mergedDigest,
        bytes mergedCid,
        bytes manifestCid,
        address[] penalised,
        uint256 votes
    );
    /// @notice `round` is final: `votes` distinct attesters agreed on `resultHash`.
    event RoundFinalized(uint256 indexed round, bytes32 indexed resultHash, uint256 votes);
    /// @notice A node's record got a penalty from the finalized result of `round`.
    event NodePenalised(uint256 indexed round, address indexed node, uint32 penalties);
    /// @notice The governor role moved.
    event GovernanceTransferred(address indexed previousGovernor, address indexed newGovernor);

    // ---------------------------------------------------------------- errors

    error InvalidSchedule();
    error InvalidCid();
    error CidDigestMismatch();
    error BondTooSmall(uint256 bond, uint256 minBond);
    error AlreadyRegistered(address node);
    error Unregistered(address node);
    error NotActive(address node);
    error NotExiting(address node);
    error WithdrawalTooEarly(uint64 withdrawableAt);
    error TransferFailed();
    error RoundNotStarted();
    error NotInCommitWindow(uint256 round);
    error NotInRevealWindow(uint256 round);
    error AlreadyCommitted(uint256 round, address node);
    error NoCommitment(uint256 round, address node);
    error AlreadyRevealed(uint256 round, address node);
    error CommitmentMismatch(uint256 round, address node);
    error RoundNotClosed(uint256 round);
    error AlreadyAttested(uint256 round, address node);
    error AttestationOutOfOrder(uint256 round, uint256 lastAttestedRound);
    error TooManyPenalised(uint256 count, uint256 max);
    error PenalisedNotSorted();
    error NotPenalisable(uint256 round, address node);
    error NotGovernor(address caller);
    error ZeroAddress();
    error RulesForOpenRound(uint256 effectiveRound, uint256 openRound);
    error RulesOutOfOrder(uint256 effectiveRound, uint256 lastScheduled);
    /// @dev `field` is the parameter's name, left-aligned ASCII (bytes32 rather than string so that
    ///      every client, eth-tester included, hands back the raw revert data).
    error RuleOutOfBounds(bytes32 field);

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
        (uint8 codec, bytes32 cidDigest) = _parseCidMemory(genesisCid_);
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

    /// @notice Register the sender as a node, bonding `msg.value` (≥ minBond).
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

    /// @notice Ask to leave. The node can no longer commit or attest; it may still reveal a
    ///         commitment already made. The bond is withdrawable after `exitDelay` seconds.
    function requestExit() external {
        NodeRecord storage rec = _nodes[msg.sender];
        if (rec.status != Status.Active) revert NotActive(msg.sender);
        uint64 readyAt = uint64(block.timestamp) + exitDelay;
        rec.status = Status.Exiting;
        rec.withdrawableAt = readyAt;
        emit ExitRequested(msg.sender, readyAt);
    }

    /// @notice Pay the bond back after the exit delay (checks, effects, then the transfer).
    function withdraw() external {
        NodeRecord storage rec = _nodes[msg.sender];
        if (rec.status != Status.Exiting) revert NotExiting(msg.sender);
        if (block.timestamp < rec.withdrawableAt) revert WithdrawalTooEarly(rec.withdrawableAt);
        uint256 amount = _bonds[msg.sender];
        rec.status = Status.Withdrawn;
        _bonds[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---------------------------------------------------------------- commit–reveal

    /// @notice Commit to an update for the open round, once, inside its commit window.
    /// @param round the round being committed to (must be the open one)
    /// @param commitment keccak256(abi.encode(chainId, this, round, node, updateDigest,
    ///        keccak256(cid), baseDigest, roiBps, salt))
    function commit(uint256 round, bytes32 commitment) external {
        if (_nodes[msg.sender].status != Status.Active) revert Unregistered(msg.sender);
        (uint256 open, Phase phase) = _phaseAt(block.timestamp);
        if (phase != Phase.Commit || open != round) revert NotInCommitWindow(round);
        bytes32 slot = _commitments[round][msg.sender];
        if (slot != bytes32(0)) revert AlreadyCommitted(round, msg.sender);
        if (commitment == bytes32(0) || uint256(commitment) >> 9 == 0) revert CommitmentMismatch(round, msg.sender);
        _commitments[round][msg.sender] = commitment;
        emit Committed(round, msg.sender, commitment);
    }

    /// @notice Reveal the committed update inside the reveal window of `round`. The contract
    ///         checks the commitment, then applies the rules frozen for that round:
    ///         ROI claim outside [roiMinBps, roiMaxBps] → RejectedAbnormalRoi; node not
    ///         eligible (see isEligible) → RejectedIneligible; otherwise Accepted, and the
    ///         node's record counts the reveal and adds its claim to the ROI sum.
    /// @param updateDigest sha256 of the update's canonical safetensors bytes
    /// @param cid binary CIDv1 of the update (raw or dag-pb, sha2-256); a raw CID must carry
    ///        updateDigest
    /// @param baseDigest digest of the global model the update started from
    /// @param roiBps the node's ROI claim on the round's benchmark, basis points
    /// @param salt the secret that blinded the commitment
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
        bytes32 stored = _commitments[round][msg.sender];
        if (stored == bytes32(0)) revert NoCommitment(round, msg.sender);
        if (uint256(stored) >> 9 == 0) revert AlreadyRevealed(round, msg.sender);
        _checkModelCid(cid, updateDigest);
        bytes32 expected = keccak256(
            abi.encode(
                block.chainid, address(this), round, msg.sender, updateDigest, keccak256(cid), baseDigest, roiBps, salt
            )
        );
        if (expected != stored) revert CommitmentMismatch(round, msg.sender);

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
        _commitments[round][msg.sender] = bytes32(REVEALED_TAG | uint256(outcome));
        emit Revealed(round, msg.sender, updateDigest, cid, baseDigest, roiBps, salt, outcome);
    }

    // ---------------------------------------------------------------- attestation

    /// @notice Attest the merge result of `round` (after its reveal window closed). One
    ///         attestation per node per round, in increasing round order (a node that attested
    ///         round r can no longer attest an earlier round; this keeps the duplicate check in
    ///         the node's own record slot). When `quorum` distinct attesters (quorum from the
    ///         rules of `round`) agree on the same result hash the round is finalized: its model
    ///         is stored and every penalised node's record gets one penalty. Attestations that
    ///         disagree, or arrive after finalization, are recorded (event and vote count) and
    ///         change nothing else.
    ///         Every attestation checks that the penalised list is bounded and strictly
    ///         ascending. That each listed node had an Accepted reveal in `round` is checked
    ///         only by the attestation that would finalize (NotPenalisable otherwise): the
    ///         result hash binds the list, so all attesters of a result attested the same list,
    ///         and reveal outcomes no longer change once the round is closed. A result whose list
    ///         fails that check can collect votes but never finalize.
    /// @param mergedDigest sha256 of the merged model's canonical safetensors bytes
    /// @param mergedCid binary CIDv1 of the merged model
    /// @param manifestCid binary CIDv1 of the merge manifest
    /// @param penalised nodes whose accepted reveal the merge rejected as unreproducible or
    ///        invalid, strictly ascending by address, at most MAX_PENALISED
    /// @return resultHash keccak256(abi.encode(round, mergedDigest, keccak256(mergedCid),
    ///         keccak256(manifestCid), penalised))
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

        _checkModelCid(mergedCid, mergedDigest);
        _parseCid(manifestCid);
        _checkPenalisedList(penalised);

        resultHash = _resultHash(round, mergedDigest, keccak256(mergedCid), keccak256(manifestCid), penalised);
        Final storage fin = _finals[round];
        bytes20 tag = fin.resultTag;
        uint256 votes;
        bool finalizing;
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
        (uint8 mergedCodec, bytes32 mergedCidDigest) = _parseCid(mergedCid);
        (uint8 manifestCodec, bytes32 manifestCidDigest) = _parseCid(manifestCid);
        fin.mergedDigest = mergedDigest;
        fin.manifestCidDigest = manifestCidDigest;
        fin.resultTag = bytes20(resultHash);
        fin.finalizedAt = uint64(block.timestamp);
        fin.mergedCodec = mergedCodec;
        fin.manifestCodec = manifestCodec;
        fin.votes = uint16(votes);
        if (mergedCodec != CODEC_RAW) fin.mergedCidDigest = mergedCidDigest;
    }

    /// @dev A raw (single-block) CID's digest is the content's sha256, so it must equal the
    ///      model digest; a dag-pb root cannot be checked on-chain.
    function _checkModelCid(bytes calldata cid, bytes32 digest) private pure {
        (uint8 codec, bytes32 cidDigest) = _parseCid(cid);
        if (codec == CODEC_RAW && cidDigest != digest) revert CidDigestMismatch();
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

    /// @notice Schedule a rules version from round `rules.effectiveRound` on. Governor only;
    ///         the round must not be open yet (strictly after the current round, or ≥ 0 before
    ///         T0) and not before the latest scheduled version; scheduling the same round as
    ///         the latest pending version replaces it. Each parameter is bounds-checked.
    function scheduleRules(Rules calldata rules) external {
        if (msg.sender != governor) revert NotGovernor(msg.sender);
        uint256 effective = rules.effectiveRound;
        if (block.timestamp >= T0) {
            uint256 open = (block.timestamp - T0) / roundLength;
            if (effective <= open) revert RulesForOpenRound(effective, open);
        }
        uint256 n = _rules.length;
        uint256 lastEffective = _rules[n - 1].effectiveRound;
        if (effective < lastEffective) revert RulesOutOfOrder(effective, lastEffective);
        if (effective == lastEffective) {
            _checkRules(rules);
            _rules[n - 1] = rules;
            _storeGate(_rules[n - 1], _gate); // the version before the replaced one is unchanged
            emit RulesScheduled(effective, n - 1, rules);
        } else {
            _pushRules(rules);
        }
    }

    /// @notice Hand the governor role to `newGovernor` (governor only).
    function transferGovernance(address newGovernor) external {
        if (msg.sender != governor) revert NotGovernor(msg.sender);
        if (newGovernor == address(0)) revert ZeroAddress();
        emit GovernanceTransferred(governor, newGovernor);
        governor = newGovernor;
    }

    // ---------------------------------------------------------------- views

    /// @notice Round index and phase at timestamp `ts` (round 0 with NotStarted before T0).
    function phaseAt(uint256 ts) external view returns (uint256 round, Phase phase) {
        return _phaseAt(ts);
    }

    /// @notice Round index and phase now.
    function currentPhase() external view returns (uint256 round, Phase phase) {
        return _phaseAt(block.timestamp);
    }

    /// @notice The rules frozen for `round`.
    function rulesForRound(uint256 round) external view returns (Rules memory) {
        return _rules[_rulesIndex(round)];
    }

    /// @notice Number of rule versions ever scheduled (replacements do not count).
    function rulesVersionCount() external view returns (uint256) {
        return _rules.length;
    }

    /// @notice Rule version `version` (0 = the deployment rules).
    function rulesVersion(uint256 version) external view returns (Rules memory) {
        return _rules[version];
    }

    /// @notice A node's record and bond.
    function nodeRecord(address node) external view returns (NodeRecord memory record, uint256 bond) {
        return (_nodes[node], _bonds[node]);
    }

    /// @notice Whether `node` would pass the eligibility filter in `round`: eligible iff it is
    ///         registered and either still in probation (acceptedReveals < probationRounds) or
    ///         roiSumBps − PENALTY_BPS·penalties ≥ eligibilityMinScoreBps·acceptedReveals
    ///         (i.e. its mean score is at least the threshold; integers only, no division).
    function isEligible(address node, uint256 round) external view returns (bool) {
        NodeRecord storage rec = _nodes[node];
        if (rec.status == Status.None || rec.status == Status.Withdrawn) return false;
        return _eligible(rec.acceptedReveals, rec.penalties, rec.roiSumBps, _gateFor(round));
    }

    /// @notice Commitment state of `node` in `round`: the commitment while unrevealed, and
    ///         whether it was revealed with which outcome.
    function commitmentOf(uint256 round, address node)
        external
        view
        returns (bytes32 commitment, bool revealed, RevealOutcome outcome)
    {
        bytes32 v = _commitments[round][node];
        if (v != bytes32(0) && uint256(v) >> 9 == 0) {
            return (bytes32(0), true, RevealOutcome(uint256(v) & 0xff));
        }
        return (v, false, RevealOutcome.Accepted);
    }

    /// @notice Attestations so far for `resultHash` in `round`.
    function votesFor(uint256 round, bytes32 resultHash) external view returns (uint256) {
        Final storage fin = _finals[round];
        if (fin.resultTag != bytes20(0) && fin.resultTag == bytes20(resultHash)) return fin.votes;
        return _votes[round][resultHash];
    }

    /// @notice The finalized global model of `round`, if any.
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
            _formatCid(fin.mergedCodec, mergedCidDigest),
            _formatCid(fin.manifestCodec, fin.manifestCidDigest),
            fin.finalizedAt,
            fin.votes
        );
    }

    /// @notice The genesis global model (round -1).
    function genesis() external view returns (bytes32 digest, bytes memory cid) {
        return (genesisDigest, _formatCid(_genesisCidCodec, _genesisCidDigest));
    }

    // ---------------------------------------------------------------- internals

    function _phaseAt(uint256 ts) private view returns (uint256 round, Phase phase) {
        if (ts < T0) return (0, Phase.NotStarted);
        uint256 elapsed = ts - T0;
        round = elapsed / roundLength;
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
        _checkRules(rules);
        _rules.push(rules);
        _storeGate(_rules[_rules.length - 1], _gateWithPrevious(_gate));
        emit RulesScheduled(rules.effectiveRound, _rules.length - 1, rules);
    }

    function _checkRules(Rules memory r) private pure {
        if (r.roiMinBps < -10_000 || r.roiMinBps > r.roiMaxBps) revert RuleOutOfBounds("roiMinBps");
        if (r.roiMaxBps > 1_000_000) revert RuleOutOfBounds("roiMaxBps");
        if (r.eligibilityMinScoreBps < -1_000_000 || r.eligibilityMinScoreBps > 1_000_000) {
            revert RuleOutOfBounds("eligibilityMinScoreBps");
        }
        if (r.maxParticipants == 0) revert RuleOutOfBounds("maxParticipants");
        if (r.similarityThresholdPpm > 1_000_000) revert RuleOutOfBounds("similarityThresholdPpm");
        if (r.clusterCapPpm == 0 || r.clusterCapPpm > 1_000_000) revert RuleOutOfBounds("clusterCapPpm");
        if (r.similarityMetric > 1) revert RuleOutOfBounds("similarityMetric");
        if (r.aggregation > 3) revert RuleOutOfBounds("aggregation");
        if (r.trimPpm >= 500_000) revert RuleOutOfBounds("trimPpm");
        if (r.roiToleranceBps > 10_000) revert RuleOutOfBounds("roiToleranceBps");
        if (r.quorum == 0) revert RuleOutOfBounds("quorum");
        if (r.feePpm >= 1_000_000) revert RuleOutOfBounds("feePpm");
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
            if (_commitments[round][p] != bytes32(REVEALED_TAG | uint256(RevealOutcome.Accepted))) {
                revert NotPenalisable(round, p);
            }
        }
    }

    /// @dev Accepts exactly the CIDs `ipfs add --cid-version=1 --raw-leaves` produces:
    ///      0x01, codec raw (0x55) or dag-pb (0x70), sha2-256 (0x12), length 32, digest.
    ///      Read in place from calldata (transactions) or memory (the constructor).
    function _parseCid(bytes calldata cid) private pure returns (uint8 codec, bytes32 digest) {
        if (cid.length != 36) revert InvalidCid();
        codec = _cidCodec(bytes4(cid[:4]));
        digest = bytes32(cid[4:]);
    }

    function _parseCidMemory(bytes memory cid) private pure returns (uint8 codec, bytes32 digest) {
        if (cid.length != 36) revert InvalidCid();
        bytes4 prefix;
        assembly ("memory-safe") {
            prefix := and(mload(add(cid, 32)), shl(224, 0xffffffff))
            digest := mload(add(cid, 36))
        }
        codec = _cidCodec(prefix);
    }

    /// @dev The codec of a CID whose first four bytes are `prefix` (see `_parseCid`).
    function _cidCodec(bytes4 prefix) private pure returns (uint8 codec) {
        codec = uint8(prefix[1]);
        if (
            prefix[0] != 0x01 || prefix[2] != 0x12 || prefix[3] != 0x20
                || (codec != CODEC_RAW && codec != CODEC_DAG_PB)
        ) revert InvalidCid();
    }

    function _formatCid(uint8 codec, bytes32 digest) private pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x01), codec, uint8(0x12), uint8(0x20), digest);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "./interfaces/IFLChainV2.sol";
import {Accumulator} from "./libraries/Accumulator.sol";
import {CidLibV2} from "./libraries/CidLibV2.sol";
import {Clock} from "./libraries/Clock.sol";
import {CommitmentSlotV2, CommitmentSlotV2Library} from "./libraries/CommitmentSlotV2.sol";
import {DigestsV2} from "./libraries/DigestsV2.sol";
import {ForwardLib} from "./libraries/ForwardLib.sol";
import {FLChainV2Forward} from "./FLChainV2Forward.sol";
import {IFLChainV2Forward} from "./interfaces/IFLChainV2Forward.sol";
import {NodeCore} from "./libraries/NodeCore.sol";
import {RulesGate, RulesGateLibrary} from "./libraries/RulesGate.sol";
import {RulesV2Lib} from "./libraries/RulesV2Lib.sol";
import {RulesCheckV2} from "./RulesCheckV2.sol";
import {SettlementProof} from "./libraries/SettlementProof.sol";
import {Checkpoint, StakeCheckpoint} from "./libraries/StakeCheckpoint.sol";

/// @title FLChainV2 — protocol v2 ledger: frozen stake, payloads on-chain, stake-weighted finality,
///        settlement through cumulative Merkle leaves and slashing of checkable faults
/// @notice docs/protocol.md is the specification and `flchain.protocol.machine` its executable
///         form: every entry point runs the machine's checks in the machine's order (the same
///         custom errors with the same arguments), then its effects, then its events in the same
///         order, then its transfers. Types, events, errors and the function docs are in
///         `IFLChainV2`.
/// @dev Storage is shaped for the hot paths (gas: test/v2/FLChainV2Gas.t.sol): commit reads
///      one node word (`NodeCore`, whose stake flags answer "in the frozen set?" without the
///      amounts) and the `Clock` word, and writes one new slot (the commitment) and `NodeCore`;
///      reveal rewrites the commitment slot with its outcome, the node word and the round's
///      accumulator, and reads the node's settled record, the rules gate (`RulesGate`) and the
///      base. No function loops over nodes or rounds; the rule lookup for a round older than the
///      two newest versions is a binary search (O(log versions)), only for slashes of old rounds.
contract FLChainV2 is IFLChainV2 {
    // ---------------------------------------------------------------- internal types

    /// @notice The node's bond and the stake it had before `stakeFrom`.
    struct NodeFunds {
        uint112 bond;
        uint112 previousStake;
        uint32 penaltiesApplied; // here, not in the account: a penalty's settle rewrites this word anyway
    }

    /// @notice The node's settled record (§8, §9): reveal reads it for the eligibility gate.
    struct NodeRecord {
        uint128 cumEarned;
        uint32 cumPenalties;
        uint32 mergedRounds;
        uint32 lastPenaltyRound;
        int32 scoreBps;
    }

    /// @notice What collect paid the node so far and when its bond withdraws. settle never
    ///         reads or writes this word (§8: a settlement credits, collect pays), so what the
    ///         node can collect is record.cumEarned − claimed.
    struct NodeAccount {
        uint128 claimed;
        uint64 withdrawableAt;
    }

    struct Node {
        NodeCore core;
        NodeFunds funds;
        NodeRecord record;
        NodeAccount account;
        bytes32 voteHash; // the pending vote's result hash (stale once settled: see NodeCore)
    }

    /// @notice What the rest of a round stores besides its accumulator.
    struct Round {
        Accumulator accumulator; // first: the audit proves this word (§12)
        bool opened;
        uint128 reserved;
        bytes32 finalResult;
        mapping(address node => CommitmentSlotV2) slots;
        mapping(bytes32 resultHash => uint256) tallies;
        mapping(address node => bool) beaconPosted;
    }

    /// @notice The bonds and the pool in one word: a slash moves wei from the one to the other,
    ///         so it reads and rewrites one word, not two (5 000 gas). Amounts of the pool are
    ///         uint112 like stakes (5·10³³ wei); a pool beyond reverts fundPool.
    struct Holdings {
        uint128 bonds;
        uint112 pool;
    }

    /// @notice The rewards final rounds made claimable and the one pending reservation (§8),
    ///         with the round it is for (+ 1, 0 = none): finalize reads reserved(r) here rather
    ///         than in the round's storage. finalize clears `reserved` but keeps the round, so
    ///         the word is never zero again once a round was opened: finalize and collect rewrite
    ///         `claimable` in a non-zero word (5 000 gas) however often collects drain it to 0.
    ///         claimable ≤ the reservations made, each ≤ the pool: a uint112.
    struct Budget {
        uint112 claimable;
        uint112 reserved;
        uint32 reservedRoundPlusOne;
    }

    // ---------------------------------------------------------------- constants (§2.1)

    uint256 private constant PROTOCOL_VERSION = 2;
    uint256 private constant MAX_NODES = 1 << SettlementProof.TREE_DEPTH;
    uint256 private constant MAX_PAUSE = 7 days;
    uint256 private constant PAUSE_COOLDOWN = 7 days;
    uint256 private constant PPM = RulesV2Lib.PPM;
    uint256 private constant BEACON_SIGNATURE_BYTES = 96;
    uint256 private constant BEACON_KEY_BYTES = 48;
    bytes32 private constant VOTE_PLACEHOLDER = bytes32(uint256(1));
    uint64 private constant NOT_EXITING = type(uint64).max; // withdrawableAt's placeholder (register)
    /// @dev `_newestSlash`'s layout (least significant first): noRevealSlashWei and
    ///      wrongVoteSlashWei capped at 2¹⁰⁰ − 1, bountyPpm (24 bits), effectiveRound (32 bits).
    uint256 private constant SLASH_AMOUNT_CAP = (1 << 100) - 1;
    uint256 private constant SLASH_WRONG_SHIFT = 100;
    uint256 private constant SLASH_BOUNTY_SHIFT = 200;
    uint256 private constant SLASH_ROUND_SHIFT = 224;
    uint256 private constant WORD24 = (1 << 24) - 1;

    // ---------------------------------------------------------------- immutables (Deployment)

    uint64 private immutable _t0;
    uint64 private immutable _roundLength;
    uint64 private immutable _commitWindow;
    uint64 private immutable _revealWindow;
    uint64 private immutable _beaconWindow;
    uint64 private immutable _exitDelay;
    uint32 private immutable _minNoticeRounds;
    uint256 private immutable _minBond;
    bytes32 private immutable _genesisDigest;
    uint8 private immutable _genesisCidCodec;
    bytes32 private immutable _genesisCidDigest;
    uint64 private immutable _beaconGenesis;
    uint64 private immutable _beaconPeriod;
    uint64 private immutable _beaconDelay;
    bytes32 private immutable _beaconKeyHead; // the 48-byte key: bytes 0–31
    bytes16 private immutable _beaconKeyTail; // bytes 32–47
    uint256 private immutable _sourceChainId;
    address private immutable _sourceContract;
    uint64 private immutable _sourceRound;
    /// @dev The bounds of scheduled rules live in a contract of their own (RulesCheckV2).
    RulesCheckV2 private immutable _rulesCheck;
    /// @dev Forward windows and their votes (§15.2) live in a contract of their own.
    IFLChainV2Forward private immutable _forwardBox;

    // ---------------------------------------------------------------- storage

    Clock private _clock;
    address private _governor;
    address private _pendingGovernor;
    Rules[] private _rules;
    RulesGate private _newest; // gate of _rules[length − 1]
    Checkpoint private _totalStake;
    Holdings private _holdings;
    Budget private _budget;
    bytes32 private _latestDigest;
    bytes32 private _latestRoot;
    bytes32 private _latestManifestDigest;
    bytes32 private _latestMergedCidDigest; // only for a dag-pb merged CID
    mapping(address node => Node) private _nodes;
    mapping(uint256 index => address) private _nodeAt;
    mapping(uint256 round => Round) private _rounds;
    /// @dev The newest version's no-reveal and wrong-vote slash amounts, bounty and
    ///      effectiveRound in one word (`_slashTerms`): a slash of a round it applies to reads
    ///      one word of the rules, not four (6 200 gas).
    uint256 private _newestSlash;

    // ---------------------------------------------------------------- modifiers

    modifier onlyGovernor() {
        if (msg.sender != _governor) revert NotGovernor(msg.sender);
        _;
    }

    // ---------------------------------------------------------------- construction

    /// @notice Fix every immutable and the first rules; the sender governs.
    /// @dev Checks in docs/protocol.md §1's order, each `InvalidDeployment(field)`; then the
    ///      genesis CID; then the rules (effectiveRound 0, the bounds). Not payable.
    /// @param d the deployment (§2.1)
    /// @param rules the rules in force from round 0
    constructor(Deployment memory d, Rules memory rules) {
        _checkDeployment(d);
        (uint8 codec, bytes32 cidDigest) = CidLibV2.parseMemory(d.genesisCid);
        if (codec == CidLibV2.CODEC_RAW && cidDigest != d.genesisDigest) revert CidDigestMismatch();
        if (rules.effectiveRound != 0) revert RulesOutOfOrder(rules.effectiveRound, 0);
        RulesV2Lib.check(rules, d.minNoticeRounds, d.minBond);
        ForwardLib.check(rules, d.commitWindow, d.revealWindow, d.roundLength);

        _t0 = d.t0;
        _roundLength = d.roundLength;
        _commitWindow = d.commitWindow;
        _revealWindow = d.revealWindow;
        _beaconWindow = d.beaconWindow;
        _exitDelay = d.exitDelay;
        _minNoticeRounds = d.minNoticeRounds;
        _minBond = d.minBond;
        _genesisDigest = d.genesisDigest;
        _genesisCidCodec = codec;
        _genesisCidDigest = cidDigest;
        _beaconGenesis = d.beaconGenesis;
        _beaconPeriod = d.beaconPeriod;
        _beaconDelay = d.beaconDelay;
        (_beaconKeyHead, _beaconKeyTail) = _splitKey(d.beaconPublicKey);
        _sourceChainId = d.sourceChainId;
        _sourceContract = d.sourceContract;
        _sourceRound = d.sourceRound;
        _rulesCheck = new RulesCheckV2();
        _forwardBox = new FLChainV2Forward(d.t0, d.roundLength, d.commitWindow, d.revealWindow);

        _governor = msg.sender;
        _latestDigest = d.genesisDigest;
        _rules.push(rules);
        _adopt(_rules[0]);
        emit GovernanceTransferred(address(0), msg.sender);
        emit Genesis(d);
        emit RulesScheduled(0, 0, rules);
    }

    // ---------------------------------------------------------------- identity (§3)

    /// @inheritdoc IFLChainV2
    function register() external payable {
        Node storage n = _nodes[msg.sender];
        NodeCore c = n.core;
        if (c.status() == Status.Withdrawn) revert WalletRetired(msg.sender);
        if (c.status() != Status.None) revert AlreadyRegistered(msg.sender);
        if (msg.value < _minBond) revert BondTooSmall(msg.value, _minBond);
        Clock clock = _clock;
        uint32 index = clock.nodeCount();
        if (index >= MAX_NODES) revert RegistryFull();

        _clock = clock.setNodeCount(index + 1);
        _nodeAt[index] = msg.sender;
        // a placeholder (shown as 0 while no vote is pending), so that the node's first
        // attestation rewrites a word instead of creating one: 5 000 gas, not 22 100
        n.voteHash = VOTE_PLACEHOLDER;
        // likewise the account word, so that the first collect rewrites it (nodeView shows 0)
        n.account.withdrawableAt = NOT_EXITING;
        _holdings.bonds += _toUint128(msg.value);
        uint256 fromRound;
        (n.core, fromRound) = _restake(n, c.setStatus(Status.Active).setLeafIndex(index), 0, msg.value);
        emit Registered(msg.sender, index, msg.value, fromRound);
    }

    /// @inheritdoc IFLChainV2
    function addBond() external payable {
        Node storage n = _nodes[msg.sender];
        NodeCore c = n.core;
        if (c.status() != Status.Active) revert NotActive(msg.sender);
        uint256 oldBond = n.funds.bond;
        uint256 bond = oldBond + msg.value;
        _holdings.bonds += _toUint128(msg.value);
        uint256 fromRound;
        (n.core, fromRound) = _restake(n, c, _stakeValue(c, oldBond), bond);
        emit BondAdded(msg.sender, msg.value, bond, fromRound);
    }

    /// @inheritdoc IFLChainV2
    function requestExit() external {
        Node storage n = _nodes[msg.sender];
        NodeCore c = n.core;
        if (c.status() != Status.Active) revert NotActive(msg.sender);
        uint256 bond = n.funds.bond;
        uint64 withdrawableAt = _toUint64(block.timestamp + _exitDelay);
        n.account.withdrawableAt = withdrawableAt;
        uint256 fromRound;
        (n.core, fromRound) = _restake(n, c.setStatus(Status.Exiting), _stakeValue(c, bond), bond);
        emit ExitRequested(msg.sender, fromRound, withdrawableAt);
    }

    /// @inheritdoc IFLChainV2
    /// @dev A pending wrong vote is slashed first (no bounty: the node applies it itself).
    function withdraw() external {
        Node storage n = _nodes[msg.sender];
        NodeCore c = n.core;
        if (c.status() != Status.Exiting) revert NotExiting(msg.sender);
        uint64 withdrawableAt = n.account.withdrawableAt;
        if (block.timestamp < withdrawableAt) revert WithdrawalTooEarly(withdrawableAt);
        uint256 last = c.lastParticipatedRound();
        if (last != 0 && !_decided(last - 1)) revert RoundUndecided(last - 1);
        uint256 latestPlusOne = _clock.latestRoundPlusOne();
        if (_lags(c, latestPlusOne, _currentRound())) revert SettlementPending(msg.sender, latestPlusOne - 1);
        if (c.unrevealed() != 0) revert UnrevealedCommitment(c.unrevealed());

        (c,) = _settleVote(n, c, msg.sender, msg.sender);
        uint256 amount = n.funds.bond;
        n.core = c.setStatus(Status.Withdrawn);
        n.funds.bond = 0;
        _holdings.bonds -= uint128(amount); // a bond: a uint112
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IFLChainV2
    /// @dev Pays the caller only: its settled rewards are its own, and a wallet that cannot
    ///      take ether only blocks its own collect.
    function collect() external {
        Node storage n = _nodes[msg.sender];
        uint256 claimed = n.account.claimed;
        // claimed ≤ cumEarned: collect is the only writer of claimed and pays at most the difference
        uint256 due = uint256(n.record.cumEarned) - claimed;
        uint256 claimable = _budget.claimable;
        uint256 amount = due < claimable ? due : claimable;
        if (amount == 0) revert NothingOwed();
        n.account.claimed = uint128(claimed + amount); // ≤ cumEarned, a uint128
        _budget.claimable = uint112(claimable - amount); // ≤ claimable, a uint112
        emit Collected(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IFLChainV2
    function fundPool() external payable {
        _holdings.pool = StakeCheckpoint.toUint112(uint256(_holdings.pool) + msg.value);
        emit PoolFunded(msg.sender, msg.value);
    }

    // ---------------------------------------------------------------- a round (§4–§7)

    /// @inheritdoc IFLChainV2
    function openRound(uint256 round) external {
        if (block.timestamp < _t0 || _currentRound() != round || block.timestamp >= _revealEnd(round)) {
            revert NotOpenable(round);
        }
        if (_paused(round)) revert RoundPaused(round);
        Round storage rd = _rounds[round];
        if (rd.opened) revert RoundAlreadyOpen(round);

        Budget memory b = _budget;
        uint256 pool = uint256(_holdings.pool) + b.reserved; // a skipped round's reservation returns
        uint256 emission = _rules[_rulesIndex(round)].emissionWei;
        uint256 amount = emission < pool ? emission : pool;
        _holdings.pool = StakeCheckpoint.toUint112(pool - amount);
        // round is the current one: far below 2**32
        _budget = Budget({
            claimable: b.claimable,
            reserved: StakeCheckpoint.toUint112(amount),
            reservedRoundPlusOne: uint32(round + 1)
        });
        rd.opened = true;
        rd.reserved = uint128(amount);
        rd.accumulator = rd.accumulator.markOpened(); // the first reveal then rewrites the word
        emit RoundOpened(round, amount, _totalStake.valueAt(round));
    }

    /// @inheritdoc IFLChainV2
    function commit(uint48 round, bytes32 commitment) external {
        _commit(round, commitment);
    }

    function _commit(uint256 round, bytes32 commitment) private {
        if (!_inWindow(round, Phase.Commit)) revert NotInCommitWindow(round);
        Clock clock = _clock; // one load for the pause and the latest final round
        if (clock.pauses(_start(round))) revert RoundPaused(round);
        Node storage n = _nodes[msg.sender];
        NodeCore c = n.core;
        if (!_inFrozenSet(c, round)) revert NotInFrozenSet(round, msg.sender);
        Round storage rd = _rounds[round];
        if (!rd.slots[msg.sender].isEmpty()) revert AlreadyCommitted(round, msg.sender);
        if (!CommitmentSlotV2Library.isValidCommitment(commitment)) revert CommitmentMismatch(round, msg.sender);
        uint256 latestPlusOne = clock.latestRoundPlusOne();
        if (_lags(c, latestPlusOne, round)) revert SettlementPending(msg.sender, latestPlusOne - 1);

        (c,) = _settleVote(n, c, msg.sender, msg.sender);
        rd.slots[msg.sender] = CommitmentSlotV2Library.fromCommitment(commitment);
        n.core = c.setUnrevealed(uint256(c.unrevealed()) + 1).setLastParticipatedRound(round + 1);
        emit Committed(round, msg.sender, commitment);
    }

    /// @inheritdoc IFLChainV2
    function reveal(uint256 round, bytes calldata payload, bytes32 baseDigest, int32 roiBps, bytes32 salt)
        external
        returns (RevealOutcome outcome)
    {
        if (!_inWindow(round, Phase.Reveal)) revert NotInRevealWindow(round);
        Round storage rd = _rounds[round];
        CommitmentSlotV2 slot = rd.slots[msg.sender];
        if (slot.isEmpty()) revert NoCommitment(round, msg.sender);
        if (!slot.isCommitted()) revert AlreadyRevealed(round, msg.sender);
        RulesGate g = _gateFor(round);
        if (payload.length > g.maxPayloadBytes()) revert PayloadTooLarge(payload.length, g.maxPayloadBytes());
        bytes32 updateDigest = sha256(payload);
        bytes32 expected =
            DigestsV2.commitment(address(this), round, msg.sender, updateDigest, baseDigest, roiBps, salt);
        if (expected != slot.commitment()) revert CommitmentMismatch(round, msg.sender);

        Node storage n = _nodes[msg.sender];
        // During r's reveal window the latest final model is r's base: finalize(r − 1) closed
        // at S(r) and finalize(r) opens only at attestOpen(r).
        if (baseDigest != _latestDigest) {
            outcome = RevealOutcome.RejectedStaleBase;
        } else if (roiBps < g.roiMinBps() || roiBps > g.roiMaxBps()) {
            outcome = RevealOutcome.RejectedAbnormalRoi;
        } else if (!_eligible(n.record, round, g)) {
            outcome = RevealOutcome.RejectedIneligible;
        } else {
            // No duplicate rule here: a copy of an earlier update, the base or genesis is Accepted
            // and the merge penalises it (its metadata names another reveal), which also slashes
            // it; a seen-mark per digest would cost every reveal a new slot (22 100 gas).
            outcome = RevealOutcome.Accepted;
        }
        rd.slots[msg.sender] = CommitmentSlotV2Library.fromOutcome(outcome);
        NodeCore c = n.core;
        c = c.setUnrevealed(c.unrevealed() - 1);
        if (outcome == RevealOutcome.Accepted) c = c.recordAccepted(round + 1);
        n.core = c;
        uint32 length = uint32(payload.length); // ≤ maxPayloadBytes ≤ 16 KiB
        rd.accumulator = rd.accumulator.pushReveal(
            DigestsV2.revealedEntry(msg.sender, updateDigest, baseDigest, roiBps, salt, uint8(outcome), length)
        );
        emit Revealed(round, msg.sender, updateDigest, baseDigest, roiBps, salt, outcome, length);
    }

    /// @inheritdoc IFLChainV2
    function postBeacon(uint256 round, bytes calldata signature) external {
        if (!_inWindow(round, Phase.Beacon)) revert NotInBeaconWindow(round);
        if (!_inFrozenSet(_nodes[msg.sender].core, round)) revert NotInFrozenSet(round, msg.sender);
        Round storage rd = _rounds[round];
        if (rd.beaconPosted[msg.sender]) revert BeaconAlreadyPosted(round, msg.sender);
        if (signature.length != BEACON_SIGNATURE_BYTES) revert InvalidBeaconSignature(signature.length);

        rd.accumulator = rd.accumulator.pushOther(DigestsV2.beaconEntry(msg.sender, keccak256(signature)));
        rd.beaconPosted[msg.sender] = true;
        emit BeaconPosted(round, _beaconRound(round), msg.sender, signature);
    }

    /// @inheritdoc IFLChainV2
    function attest(uint256 round, Result calldata result) external returns (bytes32 resultHash) {
        if (!_inWindow(round, Phase.Attest)) revert NotInAttestWindow(round);
        Node storage n = _nodes[msg.sender];
        NodeCore c = n.core;
        if (!_inFrozenSet(c, round)) revert NotInFrozenSet(round, msg.sender);
        if (c.lastAttestedRound() == round + 1) revert AlreadyAttested(round, msg.sender);
        uint256 latestPlusOne = _clock.latestRoundPlusOne();
        if (_lags(c, latestPlusOne, round)) revert SettlementPending(msg.sender, latestPlusOne - 1);
        CidLibV2.validateModel(result.mergedCid, result.mergedDigest);
        CidLibV2.validate(result.manifestCid);

        uint256 weight = _stakeAmount(c, n.funds, round);
        (c,) = _settleVote(n, c, msg.sender, msg.sender);
        resultHash = _resultHash(round, result);
        Round storage rd = _rounds[round];
        rd.accumulator = rd.accumulator.pushAttestation(DigestsV2.attestedEntry(msg.sender, resultHash, weight));
        rd.tallies[resultHash] += weight;
        n.core = c.setLastAttestedRound(round + 1).setLastParticipatedRound(round + 1).setVotePending(true);
        n.voteHash = resultHash;
        emit Attested(
            round,
            msg.sender,
            resultHash,
            weight,
            result.mergedDigest,
            result.mergedCid,
            result.manifestCid,
            result.settlementRoot,
            result.roundEarned
        );
    }

    /// @inheritdoc IFLChainV2
    /// @dev A result with a positive tally was attested, so its CIDs passed attest's checks and
    ///      parse here.
    function finalize(uint256 round, Result calldata result) external {
        if (!_inWindow(round, Phase.Attest)) revert NotInAttestWindow(round);
        Round storage rd = _rounds[round];
        if (rd.finalResult != bytes32(0)) revert AlreadyFinal(round);
        bytes32 resultHash = _resultHash(round, result);
        uint256 tally = rd.tallies[resultHash];
        uint256 total = _totalStake.valueAt(round);
        uint256 needed = _finalityNeeded(total, _gateFor(round).finalityPpm());
        if (tally < needed) revert BelowFinality(tally, needed);
        // reserved(round): the pending reservation if it is this round's (only the round in
        // progress can be opened, so nothing replaced it since), else 0 (never opened)
        Budget memory b = _budget;
        uint256 reserved = b.reservedRoundPlusOne == round + 1 ? b.reserved : 0;
        if (result.roundEarned > reserved) revert OverBudget(result.roundEarned, reserved);

        rd.accumulator = rd.accumulator.pushOther(DigestsV2.finalizedEntry(resultHash, tally, total));
        rd.finalResult = resultHash;
        // attest validated both CIDs (36 bytes each): the codec is byte 1, the digest bytes 4–35
        uint8 mergedCodec = uint8(result.mergedCid[1]);
        _clock = _clock.setLatest(round + 1, mergedCodec, uint8(result.manifestCid[1]));
        _latestDigest = result.mergedDigest;
        _latestRoot = result.settlementRoot;
        _latestManifestDigest = bytes32(result.manifestCid[4:]);
        if (mergedCodec != CidLibV2.CODEC_RAW) _latestMergedCidDigest = bytes32(result.mergedCid[4:]);
        if (reserved != 0) {
            // the dust returns to the pool; roundEarned ≤ reserved, a uint112
            _holdings.pool += uint112(reserved - result.roundEarned);
            _budget.reserved = 0;
        }
        _budget.claimable += uint112(result.roundEarned);
        emit Finalized(round, resultHash, tally, total);
    }

    /// @inheritdoc IFLChainV2
    function settle(Leaf calldata leaf, bytes32[16] calldata proof) external {
        uint256 latestPlusOne = _clock.latestRoundPlusOne();
        Node storage n = _nodes[leaf.node];
        NodeCore c = n.core;
        if (c.status() == Status.None || c.settledRound() >= latestPlusOne) revert AlreadySettled(leaf.node);
        if (
            leaf.index != c.leafIndex()
                || !SettlementProof.verify(_latestRoot, leaf.index, DigestsV2.leafHashCalldata(address(this), leaf), proof)
        ) revert InvalidProof();
        NodeRecord memory rec = n.record;
        if (leaf.cumEarned < rec.cumEarned || leaf.cumPenalties < rec.cumPenalties) revert LeafRegressed(leaf.node);

        uint256 latestRound = latestPlusOne - 1;
        // The penalty needs an accepted reveal in a round this root covers and no earlier applied
        // root did (§8): each accepted reveal is penalised at most once.
        uint256 lastAccepted = c.lastAcceptedRound();
        bool penaltyDue =
            leaf.cumPenalties > rec.cumPenalties && c.settledRound() < lastAccepted && lastAccepted <= latestPlusOne;
        uint256 bounty;
        (c, bounty) = _settleVote(n, c, leaf.node, msg.sender);
        uint256 slashed = 0;
        if (penaltyDue) {
            Rules storage rules = _rules[_rulesIndex(latestRound)];
            uint256 penaltyBounty;
            (c, slashed, penaltyBounty) =
                _slash(n, c, leaf.node, latestRound, Fault.Penalty, rules.penaltySlashWei, msg.sender, rules.bountyPpm);
            bounty += penaltyBounty;
            n.funds.penaltiesApplied += 1;
        }
        _storeRecord(n.record, leaf);
        n.core = c.setSettledRound(latestPlusOne);
        emit Settled(leaf.node, latestRound, leaf.cumEarned, leaf.cumPenalties, slashed);
        _send(msg.sender, bounty);
    }

    /// @inheritdoc IFLChainV2
    function slashNoReveal(uint256 round, address node) external {
        Round storage rd = _rounds[round];
        // a committed slot is of a round already started, so revealEnd(round) cannot overflow
        if (!rd.slots[node].isCommitted() || block.timestamp < _revealEnd(round)) revert NotSlashable(round, node);

        Node storage n = _nodes[node];
        (uint256 wanted,, uint256 bountyPpm) = _slashTerms(round);
        (NodeCore c, uint256 amount, uint256 bounty) =
            _slash(n, n.core, node, round, Fault.NoReveal, wanted, msg.sender, bountyPpm);
        rd.slots[node] = CommitmentSlotV2Library.slashedMark();
        n.core = c.setUnrevealed(c.unrevealed() - 1);
        rd.accumulator = rd.accumulator.pushOther(DigestsV2.noRevealEntry(node, amount, bounty, msg.sender));
        _send(msg.sender, bounty);
    }

    // ---------------------------------------------------------------- governance (§10)

    /// @inheritdoc IFLChainV2
    function scheduleRules(Rules calldata rules) external onlyGovernor {
        Rules memory r = rules; // decoded once: the checks, the copy and the event read memory
        uint256 earliest = _noticeEarliest();
        if (r.effectiveRound < earliest) revert NoticeTooShort(r.effectiveRound, earliest);
        uint256 last = _newest.effectiveRound();
        if (r.effectiveRound <= last) revert RulesOutOfOrder(r.effectiveRound, last);
        bytes32 field =
            _rulesCheck.firstOutOfBounds(r, _minNoticeRounds, _minBond, _commitWindow, _revealWindow, _roundLength);
        if (field != bytes32(0)) revert RuleOutOfBounds(field);

        uint256 version = _rules.length;
        _rules.push(r);
        _adopt(_rules[version]);
        emit RulesScheduled(r.effectiveRound, version, r);
    }

    /// @inheritdoc IFLChainV2
    function cancelRules() external onlyGovernor {
        uint256 count = _rules.length;
        if (count == 1) revert NothingToCancel();
        uint256 version = count - 1;
        uint256 effective = _newest.effectiveRound();
        if (effective < _effectiveRound()) revert RulesInEffect(version);
        uint256 earliest = _noticeEarliest();
        if (effective < earliest) revert NoticeTooShort(effective, earliest);

        _rules.pop();
        _adopt(_rules[version - 1]);
        emit RulesCancelled(version);
    }

    /// @inheritdoc IFLChainV2
    function transferGovernance(address newGovernor) external onlyGovernor {
        if (newGovernor == address(0)) revert ZeroAddress();
        _pendingGovernor = newGovernor;
        emit GovernanceTransferStarted(msg.sender, newGovernor);
    }

    /// @inheritdoc IFLChainV2
    function acceptGovernance() external {
        address pending = _pendingGovernor;
        if (pending == address(0) || msg.sender != pending) revert NotPendingGovernor(msg.sender);
        address previous = _governor;
        _governor = msg.sender;
        _pendingGovernor = address(0);
        emit GovernanceTransferred(previous, msg.sender);
    }

    /// @inheritdoc IFLChainV2
    function pause(uint64 duration) external onlyGovernor {
        if (duration == 0 || duration > MAX_PAUSE) revert PauseNotAllowed(0);
        Clock clock = _clock;
        uint256 lastUntil = clock.pauseUntil();
        if (lastUntil != 0 && block.timestamp < lastUntil + PAUSE_COOLDOWN) {
            revert PauseNotAllowed(_toUint64(lastUntil + PAUSE_COOLDOWN));
        }
        uint64 from = _toUint64(block.timestamp);
        uint64 until = _toUint64(block.timestamp + duration);
        _clock = clock.setPause(from, until);
        emit Paused(from, until);
    }

    /// @inheritdoc IFLChainV2
    function unpause() external onlyGovernor {
        Clock clock = _clock;
        if (block.timestamp < clock.pauseFrom() || block.timestamp >= clock.pauseUntil()) revert NotPaused();
        // a round that started inside the pause stays paused
        _clock = clock.setPause(clock.pauseFrom(), block.timestamp);
        emit Unpaused();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IFLChainV2
    function protocolVersion() external pure returns (uint256) {
        return PROTOCOL_VERSION;
    }

    /// @inheritdoc IFLChainV2
    function deployment() external view returns (Deployment memory) {
        return Deployment({
            t0: _t0,
            roundLength: _roundLength,
            commitWindow: _commitWindow,
            revealWindow: _revealWindow,
            beaconWindow: _beaconWindow,
            exitDelay: _exitDelay,
            minNoticeRounds: _minNoticeRounds,
            minBond: _minBond,
            genesisDigest: _genesisDigest,
            genesisCid: CidLibV2.format(_genesisCidCodec, _genesisCidDigest),
            beaconGenesis: _beaconGenesis,
            beaconPeriod: _beaconPeriod,
            beaconDelay: _beaconDelay,
            beaconPublicKey: abi.encodePacked(_beaconKeyHead, _beaconKeyTail),
            sourceChainId: _sourceChainId,
            sourceContract: _sourceContract,
            sourceRound: _sourceRound
        });
    }

    /// @inheritdoc IFLChainV2
    function phaseAt(uint256 ts) external view returns (uint256 round, Phase phase) {
        return _phaseAt(ts);
    }

    /// @inheritdoc IFLChainV2
    function currentPhase() external view returns (uint256 round, Phase phase) {
        return _phaseAt(block.timestamp);
    }

    /// @inheritdoc IFLChainV2
    function beaconRound(uint256 round) external view returns (uint64) {
        return _beaconRound(round);
    }

    /// @inheritdoc IFLChainV2
    function rulesForRound(uint256 round) external view returns (Rules memory) {
        return _rules[_rulesIndex(round)];
    }

    /// @inheritdoc IFLChainV2
    function rulesVersionCount() external view returns (uint256) {
        return _rules.length;
    }

    /// @inheritdoc IFLChainV2
    function rulesVersion(uint256 version) external view returns (Rules memory) {
        return _rules[version];
    }

    /// @inheritdoc IFLChainV2
    function governor() external view returns (address) {
        return _governor;
    }

    /// @inheritdoc IFLChainV2
    function pendingGovernor() external view returns (address) {
        return _pendingGovernor;
    }

    /// @inheritdoc IFLChainV2
    function pauseWindow() external view returns (uint64 from, uint64 until) {
        Clock clock = _clock;
        return (clock.pauseFrom(), clock.pauseUntil());
    }

    /// @inheritdoc IFLChainV2
    function nodeCount() external view returns (uint32) {
        return _clock.nodeCount();
    }

    /// @inheritdoc IFLChainV2
    function nodeAt(uint32 index) external view returns (address) {
        return _nodeAt[index];
    }

    /// @inheritdoc IFLChainV2
    function nodeView(address node) external view returns (NodeView memory) {
        // slither-disable-next-line uninitialized-local (a memory struct starts zeroed; every field is set below)
        NodeView memory v;
        Node storage n = _nodes[node];
        NodeCore c = n.core;
        NodeFunds storage f = n.funds;
        NodeRecord memory rec = n.record;
        NodeAccount memory a = n.account;
        uint256 current = _currentRound();
        v.status = c.status();
        v.index = c.leafIndex();
        v.bond = f.bond;
        v.stakeThisRound = _stakeAmount(c, f, current);
        v.stakeNextRound = _stakeAmount(c, f, current + 1);
        v.acceptedReveals = c.acceptedReveals();
        v.lastAcceptedRound = c.lastAcceptedRound();
        v.unrevealed = c.unrevealed();
        v.lastParticipatedRound = c.lastParticipatedRound();
        v.settledRound = c.settledRound();
        v.cumEarned = rec.cumEarned;
        v.cumPenalties = rec.cumPenalties;
        v.penaltiesApplied = f.penaltiesApplied;
        v.mergedRounds = rec.mergedRounds;
        v.lastPenaltyRound = rec.lastPenaltyRound;
        v.scoreBps = rec.scoreBps;
        v.claimed = a.claimed;
        v.lastAttestedRound = c.lastAttestedRound();
        if (c.votePending()) {
            v.lastVoteRound = c.lastAttestedRound();
            v.lastVoteHash = n.voteHash;
        }
        v.withdrawableAt = a.withdrawableAt == NOT_EXITING ? 0 : a.withdrawableAt;
        return v;
    }

    /// @inheritdoc IFLChainV2
    function stakeOf(address node, uint256 round) external view returns (uint256) {
        Node storage n = _nodes[node];
        return _stakeAmount(n.core, n.funds, round);
    }

    /// @inheritdoc IFLChainV2
    function roundView(uint256 round) external view returns (RoundView memory) {
        Round storage rd = _rounds[round];
        Accumulator acc = rd.accumulator;
        return RoundView({
            opened: rd.opened,
            reserved: rd.reserved,
            totalStake: _totalStake.valueAt(round),
            finalResult: rd.finalResult,
            accumulator: acc.chain(),
            reveals: acc.reveals(),
            attestations: acc.attestations(),
            others: acc.others()
        });
    }

    /// @inheritdoc IFLChainV2
    function commitmentOf(uint256 round, address node)
        external
        view
        returns (bytes32 commitment, CommitState state, RevealOutcome outcome)
    {
        CommitmentSlotV2 slot = _rounds[round].slots[node];
        return (slot.commitment(), slot.state(), slot.outcome());
    }

    /// @inheritdoc IFLChainV2
    function tallyOf(uint256 round, bytes32 resultHash) external view returns (uint256) {
        return _rounds[round].tallies[resultHash];
    }

    /// @inheritdoc IFLChainV2
    function hasPostedBeacon(uint256 round, address node) external view returns (bool) {
        return _rounds[round].beaconPosted[node];
    }

    /// @inheritdoc IFLChainV2
    function latest() external view returns (Latest memory) {
        Clock clock = _clock;
        // slither-disable-next-line incorrect-equality (0 is "nothing final yet": the genesis)
        if (clock.latestRoundPlusOne() == 0) {
            return Latest(0, _genesisDigest, CidLibV2.format(_genesisCidCodec, _genesisCidDigest), "", bytes32(0));
        }
        bytes32 digest = _latestDigest;
        // slither-disable-next-line incorrect-equality (a CID codec)
        bytes32 mergedCidDigest = clock.mergedCodec() == CidLibV2.CODEC_RAW ? digest : _latestMergedCidDigest;
        return Latest({
            roundPlusOne: clock.latestRoundPlusOne(),
            mergedDigest: digest,
            mergedCid: CidLibV2.format(clock.mergedCodec(), mergedCidDigest),
            manifestCid: CidLibV2.format(clock.manifestCodec(), _latestManifestDigest),
            settlementRoot: _latestRoot
        });
    }

    /// @inheritdoc IFLChainV2
    function accounts() external view returns (Accounts memory) {
        return Accounts({
            bonds: _holdings.bonds,
            pool: _holdings.pool,
            reserved: _budget.reserved,
            claimable: _budget.claimable
        });
    }

    /// @inheritdoc IFLChainV2
    function isEligible(address node, uint256 round) external view returns (bool) {
        Node storage n = _nodes[node];
        Status status = n.core.status();
        if (status == Status.None || status == Status.Withdrawn) return false;
        return _eligible(n.record, round, _gateFor(round));
    }

    // ---------------------------------------------------------------- forward scoring (§15)

    /// @inheritdoc IFLChainV2
    function commitWithForward(uint256 round, bytes32 commitment, uint256 forwardRound, bytes32 windowHash)
        external
    {
        _commit(round, commitment);
        Node storage n = _nodes[msg.sender];
        Rules storage rules = _rules[_rulesIndex(forwardRound)];
        _forwardBox.vote(
            msg.sender,
            round,
            forwardRound,
            windowHash,
            _stakeAmount(n.core, n.funds, round),
            _finalityNeeded(_totalStake.valueAt(round), _gateFor(round).finalityPpm()),
            rules.forwardBars,
            rules.forwardLagRounds
        );
    }

    /// @inheritdoc IFLChainV2
    function forwardBox() external view returns (address) {
        return address(_forwardBox);
    }

    // ---------------------------------------------------------------- internals: schedule

    /// @dev Unchecked: ts ≥ T0 here, the windows are uint64s, and the deployment checks make
    ///      roundLength > commit + reveal + beacon windows > 0.
    function _phaseAt(uint256 ts) private view returns (uint256 round, Phase phase) {
        if (ts < _t0) return (0, Phase.NotStarted);
        unchecked {
            uint256 elapsed = ts - _t0;
            round = elapsed / _roundLength;
            // slither-disable-next-line weak-prng (schedule arithmetic: the offset into the round)
            uint256 offset = elapsed % _roundLength;
            uint256 beaconStart = uint256(_commitWindow) + _revealWindow;
            if (offset < _commitWindow) phase = Phase.Commit;
            else if (offset < beaconStart) phase = Phase.Reveal;
            else if (offset < beaconStart + _beaconWindow) phase = Phase.Beacon;
            else phase = Phase.Attest;
        }
    }

    function _inWindow(uint256 round, Phase phase) private view returns (bool) {
        (uint256 current, Phase now_) = _phaseAt(block.timestamp);
        // slither-disable-next-line incorrect-equality (a phase and a round index, not a balance)
        return now_ == phase && current == round;
    }

    /// @dev The round in progress (0 before T0, like phaseAt).
    function _currentRound() private view returns (uint256) {
        if (block.timestamp < _t0) return 0;
        unchecked {
            return (block.timestamp - _t0) / _roundLength; // as in _phaseAt
        }
    }

    /// @dev effective(now) of §3: the first round a change made now can affect.
    function _effectiveRound() private view returns (uint256) {
        if (block.timestamp < _t0) return 0;
        unchecked {
            return (block.timestamp - _t0) / _roundLength + 1; // as in _phaseAt
        }
    }

    function _start(uint256 round) private view returns (uint256) {
        return _t0 + round * _roundLength;
    }

    function _revealEnd(uint256 round) private view returns (uint256) {
        return _start(round) + _commitWindow + _revealWindow;
    }

    /// @dev Final, or past its deadline S(round + 1) (skipped).
    function _decided(uint256 round) private view returns (bool) {
        return _rounds[round].finalResult != bytes32(0) || block.timestamp >= _start(round + 1);
    }

    /// @dev Round `round` starts inside the pause window (§10).
    function _paused(uint256 round) private view returns (bool) {
        return _clock.pauses(_start(round));
    }

    /// @dev D(round) of §6: the first beacon round produced at or after revealEnd(round) + δ.
    function _beaconRound(uint256 round) private view returns (uint64) {
        uint256 produced = _revealEnd(round) + _beaconDelay;
        if (produced <= _beaconGenesis) return 1;
        return _toUint64(1 + (produced - _beaconGenesis + _beaconPeriod - 1) / _beaconPeriod);
    }

    // ---------------------------------------------------------------- internals: stake (§3)

    /// @dev The stake value from stakeFrom on: the bond if the node is staked (Active, ≥ minBond).
    function _stakeValue(NodeCore c, uint256 bond) private pure returns (uint256) {
        return c.staked() ? bond : 0;
    }

    /// @dev stake(node, round) > 0, from the core word alone.
    function _inFrozenSet(NodeCore c, uint256 round) private pure returns (bool) {
        return round >= c.stakeFrom() ? c.staked() : c.previousStaked();
    }

    /// @dev stake(node, round), exact for the current round and the next.
    function _stakeAmount(NodeCore c, NodeFunds storage f, uint256 round) private view returns (uint256) {
        if (round >= c.stakeFrom()) return _stakeValue(c, f.bond);
        return f.previousStake;
    }

    /// @dev Set the bond to `bond` and recompute the node's stake from effective(now) on as "its
    ///      bond if Active and ≥ minBond, else 0" (`oldValue` is the stake value before the
    ///      change), and the total with it. Returns the new core word (for the caller to store)
    ///      and that round.
    function _restake(Node storage n, NodeCore c, uint256 oldValue, uint256 bond)
        private
        returns (NodeCore, uint256 fromRound)
    {
        fromRound = _effectiveRound();
        // slither-disable-next-line incorrect-equality (a status, not a balance)
        bool staked = c.status() == Status.Active && bond >= _minBond;
        uint256 newValue = staked ? bond : 0;
        (uint256 stakeFrom, uint256 previous) =
            StakeCheckpoint.advance(c.stakeFrom(), n.funds.previousStake, oldValue, fromRound);
        // previous is an earlier stake value: a bond that fitted
        n.funds = NodeFunds({
            bond: StakeCheckpoint.toUint112(bond),
            previousStake: uint112(previous),
            penaltiesApplied: n.funds.penaltiesApplied
        });
        // the total at fromRound is the sum of every node's value there, this one's old value included
        Checkpoint total = _totalStake;
        _totalStake = total.write(fromRound, total.valueAt(fromRound) + newValue - oldValue);
        return (c.setStake(stakeFrom, staked, previous != 0), fromRound);
    }

    // ---------------------------------------------------------------- internals: slashing (§11)

    /// @dev Take up to `wanted` from the bond: `bountyPpm` of it to a third-party `beneficiary`
    ///      (paid by the caller after every effect), the rest to the pool. Emits Slashed.
    function _slash(
        Node storage n,
        NodeCore c,
        address node,
        uint256 round,
        Fault fault,
        uint256 wanted,
        address beneficiary,
        uint256 bountyPpm
    ) private returns (NodeCore, uint256 amount, uint256 bounty) {
        uint256 bond = n.funds.bond;
        amount = wanted < bond ? wanted : bond;
        if (beneficiary != node) bounty = amount * bountyPpm / PPM;
        _holdings.bonds -= uint128(amount); // amount ≤ a bond, a uint112
        _holdings.pool += uint112(amount - bounty);
        (c,) = _restake(n, c, _stakeValue(c, bond), bond - amount);
        emit Slashed(node, round, fault, amount, bounty, beneficiary);
        return (c, amount, bounty);
    }

    /// @dev §11's lazy vote settlement: once the voted round is decided the vote is cleared,
    ///      and slashed if that round has a final result other than the vote. Returns the new
    ///      core word and the bounty owed to `beneficiary`.
    function _settleVote(Node storage n, NodeCore c, address node, address beneficiary)
        private
        returns (NodeCore, uint256 bounty)
    {
        if (!c.votePending()) return (c, 0);
        uint256 round = c.lastAttestedRound() - 1;
        bytes32 finalResult = _rounds[round].finalResult;
        // slither-disable-next-line incorrect-equality (0 is "no final result", a hash otherwise)
        if (finalResult == bytes32(0) && block.timestamp < _start(round + 1)) return (c, 0); // undecided
        c = c.setVotePending(false);
        // slither-disable-next-line incorrect-equality (result hashes: equal is the meaning)
        if (finalResult == bytes32(0) || finalResult == n.voteHash) return (c, 0);
        (, uint256 wanted, uint256 bountyPpm) = _slashTerms(round);
        (c,, bounty) = _slash(n, c, node, round, Fault.WrongVote, wanted, beneficiary, bountyPpm);
        return (c, bounty);
    }

    /// @dev `rec` = the leaf's record fields, in one SSTORE: via-IR writes the struct literal as
    ///      two read-modify-writes of the word (~300 gas more). The layout is NodeRecord's, least
    ///      significant first (cumEarned, cumPenalties, mergedRounds, lastPenaltyRound,
    ///      scoreBps as its 32-bit two's complement); test/v2 reads the fields back.
    function _storeRecord(NodeRecord storage rec, Leaf calldata leaf) private {
        uint256 word = uint256(leaf.cumEarned) | (uint256(leaf.cumPenalties) << 128)
            | (uint256(leaf.mergedRounds) << 160) | (uint256(leaf.lastPenaltyRound) << 192)
            | (uint256(uint32(leaf.scoreBps)) << 224);
        // slither-disable-next-line assembly (one SSTORE of the packed word, see @dev)
        assembly ("memory-safe") {
            sstore(rec.slot, word)
        }
    }

    /// @dev §8 lag rule: the node took part in a round p before the one in progress (`current`)
    ///      with settledRound < p ≤ latestFinalRound (all as round + 1).
    function _lags(NodeCore c, uint256 latestRoundPlusOne, uint256 current) private pure returns (bool) {
        uint256 p = c.lastParticipatedRound();
        return p != 0 && p - 1 < current && c.settledRound() < p && p <= latestRoundPlusOne;
    }

    /// @dev §9, from the node's settled record.
    function _eligible(NodeRecord storage rec, uint256 round, RulesGate g) private pure returns (bool) {
        NodeRecord memory r = rec;
        if (r.lastPenaltyRound != 0 && round <= uint256(r.lastPenaltyRound) - 1 + g.penaltyCooldownRounds()) {
            return false;
        }
        if (r.mergedRounds < g.probationRounds()) return true;
        return r.scoreBps >= g.eligibilityMinScoreBps();
    }

    // ---------------------------------------------------------------- internals: results

    function _resultHash(uint256 round, Result calldata result) private view returns (bytes32) {
        return DigestsV2.resultHash(
            address(this),
            round,
            result.mergedDigest,
            keccak256(result.mergedCid),
            keccak256(result.manifestCid),
            result.settlementRoot,
            result.roundEarned
        );
    }

    /// @dev max(1, ⌈finalityPpm · totalStake / 10⁶⌉) (§7).
    function _finalityNeeded(uint256 total, uint256 finalityPpm) private pure returns (uint256) {
        uint256 needed = (finalityPpm * total + PPM - 1) / PPM;
        return needed == 0 ? 1 : needed;
    }

    // ---------------------------------------------------------------- internals: rules (§10)

    /// @dev The earliest round a change made now may take effect: effective(now) + the notice of
    ///      the rules in force now.
    function _noticeEarliest() private view returns (uint256) {
        return _effectiveRound() + _gateFor(_currentRound()).noticeRounds();
    }

    /// @dev The gate of the rules frozen for `round`: one storage read (the newest version's
    ///      copy) when the newest applies, else the version `_rulesIndex` finds.
    function _gateFor(uint256 round) private view returns (RulesGate g) {
        g = _newest;
        if (g.effectiveRound() <= round) return g;
        return RulesGateLibrary.read(_rules[_rulesIndex(round)]);
    }

    /// @dev Make `rules` the newest version: its gate and its slash terms.
    function _adopt(Rules storage rules) private {
        _newest = RulesGateLibrary.read(rules);
        _newestSlash = _capped(rules.noRevealSlashWei) | (_capped(rules.wrongVoteSlashWei) << SLASH_WRONG_SHIFT)
            | (uint256(rules.bountyPpm) << SLASH_BOUNTY_SHIFT) | (uint256(rules.effectiveRound) << SLASH_ROUND_SHIFT);
    }

    /// @dev (noRevealSlashWei, wrongVoteSlashWei, bountyPpm) of the rules frozen for `round`:
    ///      the newest version's from its one word when it applies (the word holds the version's
    ///      effectiveRound too, so the gate is not read), else the version's own. The word holds
    ///      each amount capped at 2¹⁰⁰ − 1; an amount at the cap is read from the version itself,
    ///      so every amount is exact. bountyPpm ≤ 500 000 (RulesV2Lib) fits its 24 bits.
    function _slashTerms(uint256 round) private view returns (uint256 noReveal, uint256 wrongVote, uint256 bountyPpm) {
        uint256 word = _newestSlash;
        if (word >> SLASH_ROUND_SHIFT <= round) {
            noReveal = word & SLASH_AMOUNT_CAP;
            wrongVote = (word >> SLASH_WRONG_SHIFT) & SLASH_AMOUNT_CAP;
            bountyPpm = (word >> SLASH_BOUNTY_SHIFT) & WORD24;
            if (noReveal != SLASH_AMOUNT_CAP && wrongVote != SLASH_AMOUNT_CAP) return (noReveal, wrongVote, bountyPpm);
        }
        Rules storage rules = _rules[_rulesIndex(round)];
        return (rules.noRevealSlashWei, rules.wrongVoteSlashWei, rules.bountyPpm);
    }

    function _capped(uint256 amount) private pure returns (uint256) {
        return amount < SLASH_AMOUNT_CAP ? amount : SLASH_AMOUNT_CAP;
    }

    /// @dev Index of the last version with effectiveRound ≤ round: the newest from its cached
    ///      gate, else a binary search below it (O(log versions); with one change pending, the
    ///      version in force is found without a probe when it is version 0, with one otherwise).
    function _rulesIndex(uint256 round) private view returns (uint256) {
        uint256 count = _rules.length;
        if (_newest.effectiveRound() <= round) return count - 1;
        // rules[lo].effectiveRound ≤ round < rules[hi].effectiveRound; rules[0] takes effect at 0
        uint256 lo = 0;
        uint256 hi = count - 1;
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) / 2;
            if (_rules[mid].effectiveRound <= round) lo = mid;
            else hi = mid;
        }
        return lo;
    }

    // ---------------------------------------------------------------- internals: deployment

    /// @dev §1's deployment checks, in order.
    // One independent bound per field, listed flat like the spec.
    // slither-disable-next-line cyclomatic-complexity
    function _checkDeployment(Deployment memory d) private pure {
        if (d.commitWindow == 0) revert InvalidDeployment("commitWindow");
        if (d.revealWindow == 0) revert InvalidDeployment("revealWindow");
        if (d.beaconWindow == 0) revert InvalidDeployment("beaconWindow");
        uint256 revealEnd0 = uint256(d.t0) + d.commitWindow + d.revealWindow;
        if (uint256(d.commitWindow) + d.revealWindow + d.beaconWindow >= d.roundLength) {
            revert InvalidDeployment("roundLength"); // the attest window would be empty
        }
        // A new pause starts at least a cooldown after the last one ended, so a round no longer
        // than the cooldown never started inside an earlier pause than the stored one.
        if (d.roundLength > PAUSE_COOLDOWN) revert InvalidDeployment("roundLength");
        if (d.exitDelay < 2 * uint256(d.roundLength)) revert InvalidDeployment("exitDelay");
        if (d.minNoticeRounds < 1 || d.minNoticeRounds > RulesV2Lib.NOTICE_ROUNDS_CEILING) {
            revert InvalidDeployment("minNoticeRounds");
        }
        if (d.minBond == 0) revert InvalidDeployment("minBond");
        if (d.genesisDigest == bytes32(0)) revert InvalidDeployment("genesisDigest");
        if (d.beaconPeriod == 0) revert InvalidDeployment("beaconPeriod");
        if (d.beaconWindow < uint256(d.beaconDelay) + d.beaconPeriod) revert InvalidDeployment("beaconWindow");
        if (d.beaconGenesis > revealEnd0 + d.beaconDelay) revert InvalidDeployment("beaconGenesis");
        if (d.beaconPublicKey.length != BEACON_KEY_BYTES) revert InvalidDeployment("beaconPublicKey");
        bool noSource = d.sourceChainId == 0 && d.sourceContract == address(0) && d.sourceRound == 0;
        if (!noSource && (d.sourceChainId == 0 || d.sourceContract == address(0))) revert InvalidDeployment("source");
    }

    /// @dev The 48-byte key as two words (immutables hold value types only).
    function _splitKey(bytes memory key) private pure returns (bytes32 head, bytes16 tail) {
        // slither-disable-next-line assembly (Solidity cannot slice a bytes in memory)
        assembly ("memory-safe") {
            head := mload(add(key, 0x20))
            tail := and(mload(add(key, 0x40)), not(sub(shl(128, 1), 1)))
        }
    }

    // ---------------------------------------------------------------- internals: transfers

    /// @dev A transfer to the caller (withdraw, collect, a bounty): it must succeed, or the call
    ///      reverts (TransferFailed) — the caller can fix its own wallet. Every state change is
    ///      done by now. Nothing is sent for 0, so a wallet that refuses ether is only refused
    ///      when something is due.
    function _send(address to, uint256 amount) private {
        // slither-disable-next-line incorrect-equality (nothing is due: no call at all)
        if (amount == 0) return;
        // a call with all the gas pays any wallet, a contract one included (transfer's 2300 gas
        // does not); its return data is not copied: `to` is the caller, whose data is of no use
        bool ok;
        // slither-disable-next-line assembly (a value transfer that copies no return data)
        assembly ("memory-safe") {
            ok := call(gas(), to, amount, 0, 0, 0, 0)
        }
        if (!ok) revert TransferFailed();
    }

    // ---------------------------------------------------------------- internals: casts

    function _toUint64(uint256 x) private pure returns (uint64) {
        if (x > type(uint64).max) revert();
        return uint64(x);
    }

    function _toUint128(uint256 x) private pure returns (uint128) {
        if (x > type(uint128).max) revert();
        return uint128(x);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IFLChainV2 — the protocol v2 ledger's interface (docs/protocol.md is the specification)
/// @notice Frozen stake per round, reveal payloads in calldata, finality by a share of frozen
///         stake before the next round starts, settlement through cumulative Merkle leaves,
///         slashing of the three faults the contract can check, rules with notice, a two-step
///         governor and an expiring pause. Every section reference (§n) is to docs/protocol.md.
/// @dev This file fixes the ABI that the contract, the Python ledger, the reference state machine
///      (flchain/protocol/machine.py) and the audit agree on. Changing a signature here is a
///      protocol change.
interface IFLChainV2 {
    // ------------------------------------------------------------------ types

    /// @notice Node lifecycle (forward only; §3).
    enum Status {
        None,
        Active,
        Exiting,
        Withdrawn
    }

    /// @notice Round phase at a timestamp (§1).
    enum Phase {
        NotStarted,
        Commit,
        Reveal,
        Beacon,
        Attest
    }

    /// @notice On-chain outcome of a reveal, first rule that applies (§5).
    enum RevealOutcome {
        Accepted,
        RejectedAbnormalRoi,
        RejectedIneligible,
        RejectedStaleBase
    }

    /// @notice State of a (round, node) commitment slot.
    enum CommitState {
        None,
        Committed,
        Revealed,
        Slashed
    }

    /// @notice The three slashable faults (§11).
    enum Fault {
        NoReveal,
        Penalty,
        WrongVote
    }

    /// @notice Everything fixed at deployment (§2.1); repeated in the Genesis event.
    struct Deployment {
        uint64 t0;
        uint64 roundLength;
        uint64 commitWindow;
        uint64 revealWindow;
        uint64 beaconWindow;
        uint64 exitDelay;
        uint32 minNoticeRounds;
        uint256 minBond;
        bytes32 genesisDigest;
        bytes genesisCid;
        uint64 beaconGenesis;
        uint64 beaconPeriod;
        uint64 beaconDelay;
        bytes beaconPublicKey; // 48 bytes, BLS12-381 G1, compressed
        uint256 sourceChainId; // migration source (§13); 0 = none
        address sourceContract;
        uint64 sourceRound;
    }

    /// @notice Rule parameters in force from `effectiveRound` until the next version (§2.2).
    struct Rules {
        uint32 effectiveRound;
        int32 roiMinBps;
        int32 roiMaxBps;
        int32 eligibilityMinScoreBps;
        uint16 probationRounds;
        uint16 penaltyCooldownRounds;
        uint16 maxParticipants;
        uint16 noticeRounds;
        uint32 finalityPpm;
        uint32 maxPayloadBytes;
        uint32 similarityThresholdPpm;
        uint32 clusterCapPpm;
        uint8 similarityMetric;
        uint8 aggregation;
        uint32 trimPpm;
        uint32 roiToleranceBps;
        uint64 normBoundMicro;
        uint32 feePpm;
        uint32 bountyPpm;
        bytes32 benchmarkId;
        uint128 emissionWei;
        uint128 noRevealSlashWei;
        uint128 penaltySlashWei;
        uint128 wrongVoteSlashWei;
        // forward scoring (§15.1); forwardBars = 0 keeps it off
        uint16 forwardBars;
        uint32 forwardMarginSeconds;
        uint16 forwardLagRounds;
        uint16 forwardTrailRounds;
        uint32 forwardNoiseZPpm;
        uint32 forwardNoiseFloorBps;
        uint32 normBoundRelPpm;
    }

    /// @notice A merge result as attested and finalized (§7).
    struct Result {
        bytes32 mergedDigest;
        bytes mergedCid; // 36-byte binary CIDv1, raw (digest must be mergedDigest) or dag-pb
        bytes manifestCid; // 36-byte binary CIDv1
        bytes32 settlementRoot;
        uint128 roundEarned;
    }

    /// @notice A node's cumulative settlement leaf (§8).
    struct Leaf {
        address node;
        uint32 index;
        uint128 cumEarned;
        uint32 cumPenalties;
        uint32 mergedRounds;
        uint32 lastPenaltyRound; // round + 1, 0 = never
        int32 scoreBps;
    }

    /// @notice What the contract stores about a node, as one view.
    struct NodeView {
        Status status;
        uint32 index;
        uint256 bond;
        uint256 stakeThisRound; // stake(node, current round)
        uint256 stakeNextRound; // stake(node, current round + 1)
        uint32 acceptedReveals; // counted by the contract at reveal
        uint32 lastAcceptedRound; // round + 1 of the latest Accepted reveal, 0 = never (§8 penalty check)
        uint32 unrevealed; // commitments neither revealed nor slashed
        uint32 lastParticipatedRound; // round + 1, 0 = never (commit or attest)
        uint32 settledRound; // round + 1 of the root last applied, 0 = never
        uint128 cumEarned; // settled record (§8, §9)
        uint32 cumPenalties;
        uint32 penaltiesApplied;
        uint32 mergedRounds;
        uint32 lastPenaltyRound;
        int32 scoreBps;
        uint128 claimed; // paid by collect so far; cumEarned − claimed is what collect pays
        uint32 lastAttestedRound; // round + 1 of the latest attestation, 0 = never
        uint32 lastVoteRound; // round + 1 of the vote not yet settled (§11), 0 = none
        bytes32 lastVoteHash;
        uint64 withdrawableAt;
    }

    /// @notice What the contract stores about a round, as one view.
    struct RoundView {
        bool opened;
        uint128 reserved;
        uint256 totalStake; // frozen stake of the round (valid for the current and next round)
        bytes32 finalResult; // resultHash of the final result, 0 = none
        bytes20 accumulator; // hash chain of the round's entries (§12)
        uint32 reveals;
        uint32 attestations;
        uint32 others; // beacon posts + finalization + no-reveal slashes
    }

    /// @notice The latest final model (round + 1, 0 = genesis) and its settlement root.
    struct Latest {
        uint32 roundPlusOne;
        bytes32 mergedDigest;
        bytes mergedCid;
        bytes manifestCid; // empty for genesis
        bytes32 settlementRoot; // 0 for genesis
    }

    /// @notice The separate accounts the balance backs (§8).
    struct Accounts {
        uint256 bonds;
        uint256 pool;
        uint256 reserved;
        uint256 claimable;
    }

    // ------------------------------------------------------------------ events

    /// @notice The deployment: every immutable, the first rules and the migration source.
    /// @param deployment the immutables (§2.1), beacon public key included
    event Genesis(Deployment deployment);
    /// @notice A wallet registered as node `index` with `bond`, in the frozen set from `fromRound`.
    /// @param node the wallet
    /// @param index its settlement-tree leaf position
    /// @param bond wei bonded
    /// @param fromRound first round whose frozen set it is in
    event Registered(address indexed node, uint32 index, uint256 bond, uint256 fromRound);
    /// @notice A node added to its bond; the new bond counts from `fromRound`.
    /// @param node the node
    /// @param amount wei added
    /// @param bond the bond after the top-up
    /// @param fromRound first round the new stake counts in
    event BondAdded(address indexed node, uint256 amount, uint256 bond, uint256 fromRound);
    /// @notice A node asked to leave: stake 0 from `fromRound`, withdrawal from `withdrawableAt`.
    /// @param node the node
    /// @param fromRound first round it is no longer in the frozen set of
    /// @param withdrawableAt earliest withdrawal time (other conditions in §11)
    event ExitRequested(address indexed node, uint256 fromRound, uint64 withdrawableAt);
    /// @notice A node's remaining bond was paid back.
    /// @param node the node
    /// @param amount wei paid
    event Withdrawn(address indexed node, uint256 amount);
    /// @notice A node collected settled rewards (§8: cumEarned − claimed, capped by the budget).
    /// @param node the node
    /// @param amount wei paid
    event Collected(address indexed node, uint256 amount);
    /// @notice Round `round` reserved its budget; `totalStake` is its frozen stake.
    /// @param round the round
    /// @param reserved wei reserved from the pool
    /// @param totalStake the round's frozen stake
    event RoundOpened(uint256 indexed round, uint256 reserved, uint256 totalStake);
    /// @notice A node committed to an update.
    /// @param round the round
    /// @param node the node
    /// @param commitment see §4
    event Committed(uint256 indexed round, address indexed node, bytes32 commitment);
    /// @notice A node revealed; the payload is in this transaction's calldata (§5).
    /// @param round the round
    /// @param node the node
    /// @param updateDigest sha256 of the payload (its raw-leaf CID carries it)
    /// @param baseDigest the model the update says it started from
    /// @param roiBps the ROI claim on the round's benchmark
    /// @param salt the commitment's blinding salt (an input of the seed, §6)
    /// @param outcome the on-chain filter's decision
    /// @param payloadLength bytes of payload in the calldata
    event Revealed(
        uint256 indexed round,
        address indexed node,
        bytes32 updateDigest,
        bytes32 baseDigest,
        int32 roiBps,
        bytes32 salt,
        RevealOutcome outcome,
        uint32 payloadLength
    );
    /// @notice A frozen-set node posted the beacon signature of drand round `beaconRound`.
    /// @param round the round whose seed it feeds
    /// @param beaconRound D(round) (§6)
    /// @param node the poster
    /// @param signature the BLS signature as posted (verified by the merge, not here)
    event BeaconPosted(uint256 indexed round, uint64 beaconRound, address indexed node, bytes signature);
    /// @notice A frozen-set node attested a result with its round weight.
    /// @param round the round
    /// @param node the attester
    /// @param resultHash see §7
    /// @param weight stake(node, round)
    /// @param mergedDigest the merged model's sha256
    /// @param mergedCid its binary CID
    /// @param manifestCid the manifest's binary CID
    /// @param settlementRoot the settlement tree's root (§8)
    /// @param roundEarned rewards the result pays for this round
    event Attested(
        uint256 indexed round,
        address indexed node,
        bytes32 indexed resultHash,
        uint256 weight,
        bytes32 mergedDigest,
        bytes mergedCid,
        bytes manifestCid,
        bytes32 settlementRoot,
        uint128 roundEarned
    );
    /// @notice `round` is final with `resultHash`, backed by `tally` of `totalStake`.
    /// @param round the round
    /// @param resultHash the final result
    /// @param tally stake that attested it
    /// @param totalStake the round's frozen stake
    event Finalized(uint256 indexed round, bytes32 indexed resultHash, uint256 tally, uint256 totalStake);
    /// @notice A node applied its cumulative leaf of the latest final root.
    /// @param node the node
    /// @param round the final round whose root was used
    /// @param cumEarned the leaf's cumulative earnings
    /// @param cumPenalties the leaf's cumulative penalties
    /// @param slashed wei slashed by this settlement's new penalties
    event Settled(
        address indexed node, uint256 indexed round, uint128 cumEarned, uint32 cumPenalties, uint256 slashed
    );
    /// @notice A fault was slashed.
    /// @param node the slashed node
    /// @param round the round of the fault (the settled root's round for penalties)
    /// @param fault which fault
    /// @param amount wei taken from the bond
    /// @param bounty part of `amount` paid to `beneficiary` (0 when the node applied it itself)
    /// @param beneficiary who applied the slash
    event Slashed(
        address indexed node, uint256 indexed round, Fault fault, uint256 amount, uint256 bounty, address beneficiary
    );
    /// @notice Someone added to the reward pool.
    /// @param from the sender
    /// @param amount wei added
    event PoolFunded(address indexed from, uint256 amount);
    /// @notice Rule version `version` takes effect at round `effectiveRound`.
    /// @param effectiveRound first round it governs
    /// @param version its index
    /// @param rules the parameters
    event RulesScheduled(uint256 indexed effectiveRound, uint256 version, Rules rules);
    /// @notice The last scheduled version was cancelled before it took effect.
    /// @param version the cancelled version's index
    event RulesCancelled(uint256 version);
    /// @notice The governor proposed `pendingGovernor`, who must accept.
    /// @param governor the current governor
    /// @param pendingGovernor the proposed one
    event GovernanceTransferStarted(address indexed governor, address indexed pendingGovernor);
    /// @notice The governor role moved.
    /// @param previousGovernor the old governor (0 at deployment)
    /// @param newGovernor the new governor
    event GovernanceTransferred(address indexed previousGovernor, address indexed newGovernor);
    /// @notice Rounds starting before `until` accept no commits.
    /// @param from when the pause began
    /// @param until when it ends on its own
    event Paused(uint64 from, uint64 until);
    /// @notice The governor ended a pause early.
    event Unpaused();

    // ------------------------------------------------------------------ errors

    /// @notice Constructor parameters violate §2.1.
    /// @param field the offending parameter, left-aligned ASCII
    error InvalidDeployment(bytes32 field);
    /// @notice A rule parameter is outside its bound (§2.2).
    /// @param field the parameter's name, left-aligned ASCII
    error RuleOutOfBounds(bytes32 field);
    /// @notice A CID is not a 36-byte CIDv1 sha2-256 of codec raw (0x55) or dag-pb (0x70).
    error InvalidCid();
    /// @notice A raw CID's digest differs from the digest it must carry.
    error CidDigestMismatch();
    /// @notice The wallet is already registered.
    /// @param node the wallet
    error AlreadyRegistered(address node);
    /// @notice The wallet withdrew once and can never register again.
    /// @param node the wallet
    error WalletRetired(address node);
    /// @notice The bond is below minBond.
    /// @param bond wei sent
    /// @param minBond wei required
    error BondTooSmall(uint256 bond, uint256 minBond);
    /// @notice All TREE_DEPTH leaf positions are taken.
    error RegistryFull();
    /// @notice The caller is not an Active node.
    /// @param node the caller
    error NotActive(address node);
    /// @notice The caller is not Exiting.
    /// @param node the caller
    error NotExiting(address node);
    /// @notice The exit delay has not passed.
    /// @param withdrawableAt earliest withdrawal time
    error WithdrawalTooEarly(uint64 withdrawableAt);
    /// @notice A round the node took part in is neither final nor past its deadline.
    /// @param round the undecided round
    error RoundUndecided(uint256 round);
    /// @notice The node has a commitment neither revealed nor slashed.
    /// @param count how many
    error UnrevealedCommitment(uint256 count);
    /// @notice The node lags: it took part in a round the latest final root covers and has not applied it (§8).
    /// @param node the node
    /// @param latestRound the latest final round
    error SettlementPending(address node, uint256 latestRound);
    /// @notice A native transfer to the caller failed (withdraw, collect, a bounty); rewards paid by settle
    ///         are credited instead.
    error TransferFailed();
    /// @notice The round is not the open one, or the time is outside its commit window.
    /// @param round the round asked for
    error NotInCommitWindow(uint256 round);
    /// @notice Outside the round's reveal window.
    /// @param round the round asked for
    error NotInRevealWindow(uint256 round);
    /// @notice Outside the round's beacon window.
    /// @param round the round asked for
    error NotInBeaconWindow(uint256 round);
    /// @notice Outside the round's attest window (or the round is past its deadline).
    /// @param round the round asked for
    error NotInAttestWindow(uint256 round);
    /// @notice openRound outside [S(r), revealEnd(r)) of the current round.
    /// @param round the round asked for
    error NotOpenable(uint256 round);
    /// @notice The round was opened already.
    /// @param round the round
    error RoundAlreadyOpen(uint256 round);
    /// @notice The round starts inside a pause: it cannot be opened and accepts no commits (§10).
    /// @param round the round
    error RoundPaused(uint256 round);
    /// @notice The caller has no stake in the round's frozen set.
    /// @param round the round
    /// @param node the caller
    error NotInFrozenSet(uint256 round, address node);
    /// @notice The node committed this round already.
    /// @param round the round
    /// @param node the node
    error AlreadyCommitted(uint256 round, address node);
    /// @notice The node has no commitment to reveal in this round.
    /// @param round the round
    /// @param node the node
    error NoCommitment(uint256 round, address node);
    /// @notice The commitment was revealed (or slashed) already.
    /// @param round the round
    /// @param node the node
    error AlreadyRevealed(uint256 round, address node);
    /// @notice The revealed values do not hash to the stored commitment (or a commitment is below 2**16).
    /// @param round the round
    /// @param node the node
    error CommitmentMismatch(uint256 round, address node);
    /// @notice The payload is longer than the rules' maxPayloadBytes.
    /// @param length bytes sent
    /// @param maxLength bytes allowed
    error PayloadTooLarge(uint256 length, uint256 maxLength);
    /// @notice The node posted this round's beacon already.
    /// @param round the round
    /// @param node the node
    error BeaconAlreadyPosted(uint256 round, address node);
    /// @notice The beacon signature is not 96 bytes.
    /// @param length bytes sent
    error InvalidBeaconSignature(uint256 length);
    /// @notice The node attested this round already.
    /// @param round the round
    /// @param node the node
    error AlreadyAttested(uint256 round, address node);
    /// @notice The round has a final result already.
    /// @param round the round
    error AlreadyFinal(uint256 round);
    /// @notice The result's tally is below the finality threshold.
    /// @param tally stake that attested it
    /// @param needed stake it needs (ceil(finalityPpm · totalStake / 10^6), at least 1)
    error BelowFinality(uint256 tally, uint256 needed);
    /// @notice The result pays more than the round reserved.
    /// @param roundEarned what the result pays
    /// @param reserved what the round reserved
    error OverBudget(uint256 roundEarned, uint256 reserved);
    /// @notice The commitment slot is not an unrevealed, unslashed commitment of a closed reveal window.
    /// @param round the round
    /// @param node the node
    error NotSlashable(uint256 round, address node);
    /// @notice The Merkle proof does not verify against the latest final root, or the leaf names another node.
    error InvalidProof();
    /// @notice The node has applied the latest final root already (or there is none).
    /// @param node the node
    error AlreadySettled(address node);
    /// @notice A cumulative leaf field went down.
    /// @param node the node
    error LeafRegressed(address node);
    /// @notice collect has nothing to pay the caller: no settled reward left to collect (or, with an
    ///         inflated final leaf, the claimable budget is spent).
    error NothingOwed();
    /// @notice The caller is not the governor.
    /// @param caller the caller
    error NotGovernor(address caller);
    /// @notice The caller is not the pending governor.
    /// @param caller the caller
    error NotPendingGovernor(address caller);
    /// @notice The zero address where an address is required.
    error ZeroAddress();
    /// @notice A version takes (or, to cancel, took) effect before effective(now) + noticeRounds in force now.
    /// @param effectiveRound the version's round
    /// @param earliest the earliest round allowed
    error NoticeTooShort(uint256 effectiveRound, uint256 earliest);
    /// @notice A version is not strictly after the last scheduled one.
    /// @param effectiveRound the version's round
    /// @param lastScheduled the last scheduled version's round
    error RulesOutOfOrder(uint256 effectiveRound, uint256 lastScheduled);
    /// @notice There is no scheduled version to cancel (only version 0 is left).
    error NothingToCancel();
    /// @notice The last version has taken effect and cannot be cancelled.
    /// @param version its index
    error RulesInEffect(uint256 version);
    /// @notice A pause is longer than MAX_PAUSE, overlaps one, or comes within PAUSE_COOLDOWN of the last.
    /// @param earliest the earliest time a new pause may start (0 if the duration is the problem)
    error PauseNotAllowed(uint64 earliest);
    /// @notice unpause() while not paused.
    error NotPaused();

    // ------------------------------------------------------------------ identity (§3)

    /// @notice Register the sender with `msg.value` ≥ minBond; in the frozen set from the next round.
    function register() external payable;
    /// @notice Add `msg.value` to the sender's bond (counts from the next round).
    function addBond() external payable;
    /// @notice Leave: stake 0 from the next round; withdraw after the exit delay and settlement.
    function requestExit() external;
    /// @notice Pay back the bond once §11's conditions hold.
    function withdraw() external;
    /// @notice Pay the caller its settled rewards not collected yet (cumEarned − claimed, capped by
    ///         the claimable budget).
    function collect() external;
    /// @notice Add `msg.value` to the reward pool.
    function fundPool() external payable;

    // ------------------------------------------------------------------ a round (§4–§7)

    /// @notice Reserve round `round`'s budget (once, during [S(r), revealEnd(r)) of the current round).
    /// @param round the current round
    function openRound(uint256 round) external;
    /// @notice Commit to an update in the open commit window.
    /// @dev `round` is a uint48 here and a uint256 everywhere else only for the selector, a
    ///      last resort written down as such (docs/security.md §8): via-IR dispatches through a
    ///      linear chain sorted by selector, where `commit(uint256,bytes32)` (0xf2f03877) was the
    ///      41st of 45 cases and `commit(uint48,bytes32)` (0x0a5c8c8f) is the 4th — 814 gas less
    ///      on every commit. 2⁴⁸ rounds is no bound in practice (a node word keeps round + 1 in 32
    ///      bits); a larger value is refused by the ABI decoder (a revert without data).
    /// @param round the current round
    /// @param commitment keccak256(abi.encode(COMMIT_TAG, chainId, this, round, node, updateDigest,
    ///        baseDigest, roiBps, salt))
    function commit(uint48 round, bytes32 commitment) external;
    /// @notice Reveal the committed update with its payload (§5).
    /// @param round the current round
    /// @param payload the update's canonical safetensors bytes (≤ maxPayloadBytes)
    /// @param baseDigest the model the update started from
    /// @param roiBps the ROI claim on the round's benchmark (bps)
    /// @param salt the commitment's salt
    /// @return outcome the on-chain filter's decision
    function reveal(uint256 round, bytes calldata payload, bytes32 baseDigest, int32 roiBps, bytes32 salt)
        external
        returns (RevealOutcome outcome);
    /// @notice Post the beacon signature of D(round) (§6), once per frozen-set node.
    /// @param round the round in its beacon window
    /// @param signature 96-byte BLS12-381 G2 signature
    function postBeacon(uint256 round, bytes calldata signature) external;
    /// @notice Vote for a merge result with the caller's frozen stake.
    /// @param round the round in its attest window
    /// @param result the result (§7)
    /// @return resultHash its hash
    function attest(uint256 round, Result calldata result) external returns (bytes32 resultHash);
    /// @notice Make a result with ≥ finalityPpm of the frozen stake final (anyone).
    /// @param round the round in its attest window
    /// @param result the result's preimage
    function finalize(uint256 round, Result calldata result) external;
    /// @notice Apply `leaf` of the latest final settlement root (anyone): records leaf.node's
    ///         earnings for its collect and applies its slashes; pays no reward.
    /// @param leaf the node's cumulative leaf
    /// @param proof TREE_DEPTH sibling hashes, leaf level first
    function settle(Leaf calldata leaf, bytes32[16] calldata proof) external;
    /// @notice Slash a commitment that was not revealed (anyone, after its reveal window).
    /// @param round the round
    /// @param node the node
    function slashNoReveal(uint256 round, address node) external;

    // ------------------------------------------------------------------ governance (§10)

    /// @notice Schedule a rules version (governor; notice, order and bounds checked).
    /// @param rules the version, `effectiveRound` included
    function scheduleRules(Rules calldata rules) external;
    /// @notice Cancel the last scheduled version if it is still outside the notice period (governor).
    function cancelRules() external;
    /// @notice Propose a new governor (governor).
    /// @param newGovernor the proposed governor
    function transferGovernance(address newGovernor) external;
    /// @notice Accept the governor role (the pending governor).
    function acceptGovernance() external;
    /// @notice Stop rounds that start in the next `duration` seconds from accepting commits (governor).
    /// @param duration seconds, ≤ MAX_PAUSE
    function pause(uint64 duration) external;
    /// @notice End the pause early (governor).
    function unpause() external;

    // ------------------------------------------------------------------ views

    /// @notice 2.
    function protocolVersion() external pure returns (uint256);
    /// @notice The immutables.
    function deployment() external view returns (Deployment memory);
    /// @notice Round index and phase at `ts` (round 0, NotStarted before T0).
    /// @param ts unix seconds
    function phaseAt(uint256 ts) external view returns (uint256 round, Phase phase);
    /// @notice Round index and phase now.
    function currentPhase() external view returns (uint256 round, Phase phase);
    /// @notice D(round): the beacon round whose signature seeds `round` (§6).
    /// @param round the round
    function beaconRound(uint256 round) external view returns (uint64);
    /// @notice The rules frozen for `round`.
    /// @param round the round
    function rulesForRound(uint256 round) external view returns (Rules memory);
    /// @notice Number of live rule versions (cancelled ones are gone).
    function rulesVersionCount() external view returns (uint256);
    /// @notice Rule version `version`.
    /// @param version index, 0 = the deployment rules
    function rulesVersion(uint256 version) external view returns (Rules memory);
    /// @notice The governor.
    function governor() external view returns (address);
    /// @notice The proposed governor, 0 if none.
    function pendingGovernor() external view returns (address);
    /// @notice The pause window [from, until); both 0 if never paused.
    function pauseWindow() external view returns (uint64 from, uint64 until);
    /// @notice Registrations so far.
    function nodeCount() external view returns (uint32);
    /// @notice The node registered at `index`.
    /// @param index leaf position
    function nodeAt(uint32 index) external view returns (address);
    /// @notice A node's stored state.
    /// @param node the wallet
    function nodeView(address node) external view returns (NodeView memory);
    /// @notice stake(node, round), for the current round or the next one.
    /// @param node the wallet
    /// @param round the current round or the next
    function stakeOf(address node, uint256 round) external view returns (uint256);
    /// @notice A round's stored state.
    /// @param round the round
    function roundView(uint256 round) external view returns (RoundView memory);
    /// @notice The state of (round, node)'s commitment slot and, once revealed, the outcome.
    /// @param round the round
    /// @param node the wallet
    function commitmentOf(uint256 round, address node)
        external
        view
        returns (bytes32 commitment, CommitState state, RevealOutcome outcome);
    /// @notice Stake that attested `resultHash` in `round`.
    /// @param round the round
    /// @param resultHash the result
    function tallyOf(uint256 round, bytes32 resultHash) external view returns (uint256);
    /// @notice Whether (round, node) posted a beacon.
    /// @param round the round
    /// @param node the wallet
    function hasPostedBeacon(uint256 round, address node) external view returns (bool);
    /// @notice The latest final model (genesis before any) — the base of the current round.
    function latest() external view returns (Latest memory);
    /// @notice The separate accounts (§8).
    function accounts() external view returns (Accounts memory);
    /// @notice Whether `node` passes the eligibility gate in `round` (§9).
    /// @param node the wallet
    /// @param round the round
    function isEligible(address node, uint256 round) external view returns (bool);

    // ------------------------------------------------------------------ forward scoring (§15)

    /// @notice `commit(round, commitment)`, then a vote by stake(sender, round) for `windowHash`
    ///         as the window of `forwardRound` (round = forwardRound + forwardLagRounds), tallied
    ///         by `forwardBox()` (its errors and events: IFLChainV2Forward).
    /// @param round the commit's round
    /// @param commitment as for commit
    /// @param forwardRound the window's round
    /// @param windowHash sha256 of a window file posted to `forwardBox()`
    function commitWithForward(uint256 round, bytes32 commitment, uint256 forwardRound, bytes32 windowHash)
        external;
    /// @notice The contract FLChainV2's constructor created to hold forward windows and votes
    ///         (an IFLChainV2Forward: postForward and the window views are there).
    function forwardBox() external view returns (address);
}

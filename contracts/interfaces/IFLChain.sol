// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IFLChain — the protocol v1 ledger's external surface
/// @notice Everything a client, an auditor or a test binds to: the public types, every event,
///         every custom error and every external function of FLChain. The selectors and
///         signatures are those of the deployed v1 contract; clients decode against them.
interface IFLChain {
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

    /// @notice Node lifecycle; a node only ever moves down this list.
    enum Status {
        None,
        Active,
        Exiting,
        Withdrawn
    }

    /// @notice Rule parameters, in force from round `effectiveRound` until the next version.
    ///         The bounds each field must respect are in `RulesLib`.
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

    // ---------------------------------------------------------------- events

    /// @notice The genesis global model (round -1) and the round schedule, at deployment.
    /// @param digest sha256 of the genesis model's canonical safetensors bytes
    /// @param cid binary CIDv1 of the genesis model
    /// @param t0 genesis time T0 (unix seconds)
    /// @param roundLength round length L, seconds
    /// @param commitWindow commit window length from the start of a round, seconds
    /// @param revealWindow reveal window length right after the commit window, seconds
    event Genesis(
        bytes32 digest, bytes cid, uint64 t0, uint64 roundLength, uint64 commitWindow, uint64 revealWindow
    );

    /// @notice A node registered.
    /// @param node the node's wallet
    /// @param bond wei bonded at registration
    /// @param index registration order, 0-based
    event Registered(address indexed node, uint256 bond, uint32 index);

    /// @notice A node asked to leave.
    /// @param node the node's wallet
    /// @param withdrawableAt earliest timestamp of its withdrawal
    event ExitRequested(address indexed node, uint64 withdrawableAt);

    /// @notice A node's bond was paid back.
    /// @param node the node's wallet, which received the bond
    /// @param amount wei paid
    event Withdrawn(address indexed node, uint256 amount);

    /// @notice A node committed to an update.
    /// @param round the round committed to
    /// @param node the committing node
    /// @param commitment the commitment hash (see `commit`)
    event Committed(uint256 indexed round, address indexed node, bytes32 commitment);

    /// @notice A node revealed its update; `outcome` is the on-chain filter decision.
    /// @param round the round revealed in
    /// @param node the revealing node
    /// @param updateDigest sha256 of the update's canonical safetensors bytes
    /// @param cid binary CIDv1 of the update
    /// @param baseDigest digest of the global model the update started from
    /// @param roiBps the node's ROI claim, basis points
    /// @param salt the secret that blinded the commitment
    /// @param outcome accepted, or the reason it was rejected
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

    /// @notice A rules version was scheduled (or the pending one replaced).
    /// @param effectiveRound first round the version applies to
    /// @param version index of the version (0 = the deployment rules)
    /// @param rules the full parameter set
    event RulesScheduled(uint256 indexed effectiveRound, uint256 version, Rules rules);

    /// @notice A registered node attested the merge result of a round.
    /// @param round the attested round
    /// @param attester the attesting node
    /// @param resultHash keccak256(abi.encode(round, mergedDigest, keccak256(mergedCid),
    ///        keccak256(manifestCid), penalised))
    /// @param mergedDigest sha256 of the merged model's canonical safetensors bytes
    /// @param mergedCid binary CIDv1 of the merged model
    /// @param manifestCid binary CIDv1 of the merge manifest
    /// @param penalised nodes the merge penalised, strictly ascending
    /// @param votes attestations of `resultHash` in `round` so far, this one included
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

    /// @notice A round is final.
    /// @param round the finalized round
    /// @param resultHash the result its quorum agreed on
    /// @param votes distinct attesters of that result when it became final
    event RoundFinalized(uint256 indexed round, bytes32 indexed resultHash, uint256 votes);

    /// @notice A node's record got a penalty from a finalized result.
    /// @param round the round whose result penalised it
    /// @param node the penalised node
    /// @param penalties the node's penalty count after this one
    event NodePenalised(uint256 indexed round, address indexed node, uint32 penalties);

    /// @notice The governor role moved.
    /// @param previousGovernor the former governor (zero at deployment)
    /// @param newGovernor the new governor
    event GovernanceTransferred(address indexed previousGovernor, address indexed newGovernor);

    // ---------------------------------------------------------------- errors

    /// @notice The deployment schedule is impossible: a zero length, commit + reveal > round,
    ///         or a zero genesis digest.
    error InvalidSchedule();

    /// @notice A CID is not one `ipfs add --cid-version=1 --raw-leaves` produces
    ///         (CIDv1, raw or dag-pb, sha2-256, 36 bytes).
    error InvalidCid();

    /// @notice A raw CID does not carry the digest of the content it names.
    error CidDigestMismatch();

    /// @notice The registration bond is below the minimum.
    /// @param bond wei sent
    /// @param minBond wei required
    error BondTooSmall(uint256 bond, uint256 minBond);

    /// @notice The sender has registered before (a wallet registers once, ever).
    /// @param node the sender
    error AlreadyRegistered(address node);

    /// @notice The sender is not a node that may take this action (never registered, withdrawn,
    ///         or, for commit and attest, exiting).
    /// @param node the sender
    error Unregistered(address node);

    /// @notice Only an active node can ask to leave.
    /// @param node the sender
    error NotActive(address node);

    /// @notice Only an exiting node can withdraw.
    /// @param node the sender
    error NotExiting(address node);

    /// @notice The exit delay has not passed yet.
    /// @param withdrawableAt earliest timestamp of the withdrawal
    error WithdrawalTooEarly(uint64 withdrawableAt);

    /// @notice The bond could not be sent to the withdrawing node (its fallback refused it).
    error TransferFailed();

    /// @notice Declared by v1 and kept in its ABI, but never raised: before T0 every
    ///         time-gated function reports the window it expected instead.
    error RoundNotStarted();

    /// @notice A commit outside the commit window of `round`, or for a round that is not open.
    /// @param round the round the commit named
    error NotInCommitWindow(uint256 round);

    /// @notice A reveal outside the reveal window of `round`.
    /// @param round the round the reveal named
    error NotInRevealWindow(uint256 round);

    /// @notice The node committed to `round` already.
    /// @param round the round
    /// @param node the sender
    error AlreadyCommitted(uint256 round, address node);

    /// @notice The node has no commitment in `round` to reveal.
    /// @param round the round
    /// @param node the sender
    error NoCommitment(uint256 round, address node);

    /// @notice The node revealed in `round` already.
    /// @param round the round
    /// @param node the sender
    error AlreadyRevealed(uint256 round, address node);

    /// @notice The revealed fields do not hash to the stored commitment, or a committed value is
    ///         one the contract reserves (zero or below 2**9, the revealed-slot markers).
    /// @param round the round
    /// @param node the sender
    error CommitmentMismatch(uint256 round, address node);

    /// @notice The reveal window of `round` has not ended.
    /// @param round the round
    error RoundNotClosed(uint256 round);

    /// @notice The node attested `round` already.
    /// @param round the round
    /// @param node the sender
    error AlreadyAttested(uint256 round, address node);

    /// @notice Attestations go forward in rounds: the node attested a later round already.
    /// @param round the round the attestation named
    /// @param lastAttestedRound the latest round the node attested
    error AttestationOutOfOrder(uint256 round, uint256 lastAttestedRound);

    /// @notice The penalised list is longer than MAX_PENALISED.
    /// @param count the list's length
    /// @param max MAX_PENALISED
    error TooManyPenalised(uint256 count, uint256 max);

    /// @notice The penalised list is not strictly ascending (or repeats a node).
    error PenalisedNotSorted();

    /// @notice A result that would finalize penalises a node without an accepted reveal in `round`.
    /// @param round the round
    /// @param node the listed node
    error NotPenalisable(uint256 round, address node);

    /// @notice Only the governor may do this.
    /// @param caller the sender
    error NotGovernor(address caller);

    /// @notice The governor role cannot go to the zero address.
    error ZeroAddress();

    /// @notice A rules version must start after the open round.
    /// @param effectiveRound the version's first round
    /// @param openRound the round open now
    error RulesForOpenRound(uint256 effectiveRound, uint256 openRound);

    /// @notice Rules versions are scheduled in round order (deployment rules: round 0).
    /// @param effectiveRound the version's first round
    /// @param lastScheduled the latest scheduled version's first round
    error RulesOutOfOrder(uint256 effectiveRound, uint256 lastScheduled);

    /// @notice A rule parameter is outside its bounds (see `RulesLib`).
    /// @dev `field` is the parameter's name, left-aligned ASCII (bytes32 rather than string so
    ///      that every client, eth-tester included, hands back the raw revert data).
    /// @param field the parameter's name
    error RuleOutOfBounds(bytes32 field);

    // ---------------------------------------------------------------- constants and immutables

    /// @notice Score subtracted from a node's ROI sum for each penalty (1.0 in bps).
    // slither-disable-next-line naming-convention (v1's ABI name: renaming changes the selector)
    function PENALTY_BPS() external view returns (int64);

    /// @notice Most penalised nodes one attestation may list.
    // slither-disable-next-line naming-convention (v1's ABI name: renaming changes the selector)
    function MAX_PENALISED() external view returns (uint256);

    /// @notice Multicodec of a raw leaf (single-block file).
    // slither-disable-next-line naming-convention (v1's ABI name: renaming changes the selector)
    function CODEC_RAW() external view returns (uint8);

    /// @notice Multicodec of a dag-pb (UnixFS) root.
    // slither-disable-next-line naming-convention (v1's ABI name: renaming changes the selector)
    function CODEC_DAG_PB() external view returns (uint8);

    /// @notice Genesis time: round r is [T0 + r·L, T0 + (r+1)·L).
    // slither-disable-next-line naming-convention (v1's ABI name: renaming changes the selector)
    function T0() external view returns (uint64);

    /// @notice Round length L in seconds.
    function roundLength() external view returns (uint64);

    /// @notice Commit window length from the start of a round.
    function commitWindow() external view returns (uint64);

    /// @notice Reveal window length, right after the commit window.
    function revealWindow() external view returns (uint64);

    /// @notice Smallest bond accepted at registration (wei, may be 0).
    function minBond() external view returns (uint256);

    /// @notice Seconds between an exit request and the earliest withdrawal.
    function exitDelay() external view returns (uint64);

    /// @notice Digest of the genesis global model (round -1).
    function genesisDigest() external view returns (bytes32);

    /// @notice Address allowed to schedule rule changes and hand the role over.
    function governor() external view returns (address);

    /// @notice Number of registrations so far.
    function nodeCount() external view returns (uint32);

    // ---------------------------------------------------------------- identity

    /// @notice Register the sender as a node, bonding `msg.value` (≥ minBond).
    function register() external payable;

    /// @notice Ask to leave. The node can no longer commit or attest; it may still reveal a
    ///         commitment already made. The bond is withdrawable after `exitDelay` seconds.
    function requestExit() external;

    /// @notice Pay the bond back after the exit delay.
    function withdraw() external;

    // ---------------------------------------------------------------- commit–reveal

    /// @notice Commit to an update for the open round, once, inside its commit window.
    /// @param round the round being committed to (must be the open one)
    /// @param commitment keccak256(abi.encode(chainId, this, round, node, updateDigest,
    ///        keccak256(cid), baseDigest, roiBps, salt))
    function commit(uint256 round, bytes32 commitment) external;

    /// @notice Reveal the committed update inside the reveal window of `round`. The contract
    ///         checks the commitment, then applies the rules frozen for that round:
    ///         ROI claim outside [roiMinBps, roiMaxBps] → RejectedAbnormalRoi; node not
    ///         eligible (see isEligible) → RejectedIneligible; otherwise Accepted, and the
    ///         node's record counts the reveal and adds its claim to the ROI sum.
    /// @param round the round being revealed (its reveal window must be open)
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
    ) external;

    // ---------------------------------------------------------------- attestation

    /// @notice Attest the merge result of `round` (after its reveal window closed). One
    ///         attestation per node per round, in increasing round order (a node that attested
    ///         round r can no longer attest an earlier round). When `quorum` distinct attesters
    ///         (quorum from the rules of `round`) agree on the same result hash the round is
    ///         finalized: its model is stored and every penalised node's record gets one
    ///         penalty. Attestations that disagree, or arrive after finalization, are recorded
    ///         (event and vote count) and change nothing else.
    ///         Every attestation checks that the penalised list is bounded and strictly
    ///         ascending. That each listed node had an Accepted reveal in `round` is checked
    ///         only by the attestation that would finalize (NotPenalisable otherwise): the
    ///         result hash binds the list, so all attesters of a result attested the same list,
    ///         and reveal outcomes no longer change once the round is closed. A result whose
    ///         list fails that check can collect votes but never finalize.
    /// @param round the attested round (closed)
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
    ) external returns (bytes32 resultHash);

    // ---------------------------------------------------------------- governance

    /// @notice Schedule a rules version from round `rules.effectiveRound` on. Governor only;
    ///         the round must not be open yet (strictly after the current round, or ≥ 0 before
    ///         T0) and not before the latest scheduled version; scheduling the same round as
    ///         the latest pending version replaces it. Each parameter is bounds-checked.
    /// @param rules the new version, `effectiveRound` included
    function scheduleRules(Rules calldata rules) external;

    /// @notice Hand the governor role to `newGovernor` (governor only).
    /// @param newGovernor the new governor, non-zero
    function transferGovernance(address newGovernor) external;

    // ---------------------------------------------------------------- views

    /// @notice Round index and phase at timestamp `ts` (round 0 with NotStarted before T0).
    /// @param ts a unix timestamp
    /// @return round the round containing `ts`
    /// @return phase the phase of that round at `ts`
    function phaseAt(uint256 ts) external view returns (uint256 round, Phase phase);

    /// @notice Round index and phase now.
    /// @return round the open round
    /// @return phase its phase
    function currentPhase() external view returns (uint256 round, Phase phase);

    /// @notice The rules frozen for `round`.
    /// @param round any round
    function rulesForRound(uint256 round) external view returns (Rules memory);

    /// @notice Number of rule versions ever scheduled (replacements do not count).
    function rulesVersionCount() external view returns (uint256);

    /// @notice Rule version `version` (0 = the deployment rules).
    /// @param version index below rulesVersionCount()
    function rulesVersion(uint256 version) external view returns (Rules memory);

    /// @notice A node's record and bond.
    /// @param node the node's wallet
    /// @return record its registration and performance record
    /// @return bond wei bonded (0 once withdrawn)
    function nodeRecord(address node) external view returns (NodeRecord memory record, uint256 bond);

    /// @notice Whether `node` would pass the eligibility filter in `round`: eligible iff it is
    ///         registered and either still in probation (acceptedReveals < probationRounds) or
    ///         roiSumBps − PENALTY_BPS·penalties ≥ eligibilityMinScoreBps·acceptedReveals
    ///         (i.e. its mean score is at least the threshold; integers only, no division).
    /// @param node the node's wallet
    /// @param round the round whose rules apply
    function isEligible(address node, uint256 round) external view returns (bool);

    /// @notice Commitment state of `node` in `round`: the commitment while unrevealed, and
    ///         whether it was revealed with which outcome.
    /// @param round the round
    /// @param node the node's wallet
    /// @return commitment the commitment while unrevealed, else zero
    /// @return revealed whether the node revealed
    /// @return outcome the reveal's outcome (Accepted while unrevealed)
    function commitmentOf(uint256 round, address node)
        external
        view
        returns (bytes32 commitment, bool revealed, RevealOutcome outcome);

    /// @notice Attestations so far for `resultHash` in `round`.
    /// @param round the round
    /// @param resultHash the attested result hash
    function votesFor(uint256 round, bytes32 resultHash) external view returns (uint256);

    /// @notice The finalized global model of `round`, if any.
    /// @param round the round
    /// @return isFinal whether `round` is finalized (the other fields are zero otherwise)
    /// @return mergedDigest sha256 of the merged model
    /// @return mergedCid binary CIDv1 of the merged model
    /// @return manifestCid binary CIDv1 of the manifest
    /// @return finalizedAt timestamp of the finalizing attestation
    /// @return votes attestations of the finalized result (saturates at 2**16 − 1)
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
        );

    /// @notice The genesis global model (round -1).
    /// @return digest sha256 of the genesis model
    /// @return cid binary CIDv1 of the genesis model
    function genesis() external view returns (bytes32 digest, bytes memory cid);
}

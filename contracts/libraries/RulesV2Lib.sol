// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../interfaces/IFLChainV2.sol";

/// @title RulesV2Lib — the bound of every protocol v2 rule field, named once (docs/protocol.md §2.2)
/// @notice A rules version is accepted only if every field lies within these bounds (inclusive
///         unless the name says LIMIT, an exclusive bound). The Python mirror is
///         `flchain.protocol.machine.check_rules`, which refuses the same first field.
library RulesV2Lib {
    /// @notice Parts per million in one.
    uint32 internal constant PPM = 1_000_000;
    /// @notice Lowest roiMinBps: a loss of 100 %; roiMinBps ≤ roiMaxBps as well.
    int32 internal constant ROI_MIN_BPS_FLOOR = -10_000;
    /// @notice Highest roiMaxBps: +10 000 %.
    int32 internal constant ROI_MAX_BPS_CEILING = 1_000_000;
    /// @notice eligibilityMinScoreBps lies in [−ELIGIBILITY_SCORE_BOUND_BPS, +ELIGIBILITY_SCORE_BOUND_BPS].
    int32 internal constant ELIGIBILITY_SCORE_BOUND_BPS = 1_000_000;
    /// @notice Highest probationRounds.
    uint16 internal constant PROBATION_ROUNDS_CEILING = 1_000;
    /// @notice Highest penaltyCooldownRounds.
    uint16 internal constant PENALTY_COOLDOWN_ROUNDS_CEILING = 1_000;
    /// @notice Lowest maxParticipants (a merge takes at least one update).
    uint16 internal constant MAX_PARTICIPANTS_FLOOR = 1;
    /// @notice Highest noticeRounds (and of the deployment's minNoticeRounds); the floor is
    ///         the deployment's minNoticeRounds.
    uint16 internal constant NOTICE_ROUNDS_CEILING = 1_000;
    /// @notice finalityPpm > FINALITY_PPM_LIMIT: above one half, so two results cannot both be final.
    uint32 internal constant FINALITY_PPM_LIMIT = PPM / 2;
    /// @notice Highest finalityPpm: 90 %, so that a tenth of the stake offline cannot stop finality.
    uint32 internal constant FINALITY_PPM_CEILING = 900_000;
    /// @notice Lowest maxPayloadBytes.
    uint32 internal constant MAX_PAYLOAD_BYTES_FLOOR = 1;
    /// @notice Highest maxPayloadBytes: 16 KiB of calldata per reveal (§5).
    uint32 internal constant MAX_PAYLOAD_BYTES_CEILING = 16_384;
    /// @notice Highest similarityThresholdPpm (1.0).
    uint32 internal constant SIMILARITY_THRESHOLD_PPM_CEILING = PPM;
    /// @notice Lowest clusterCapPpm (a cap of 0 would drop every cluster).
    uint32 internal constant CLUSTER_CAP_PPM_FLOOR = 1;
    /// @notice Highest clusterCapPpm (1.0).
    uint32 internal constant CLUSTER_CAP_PPM_CEILING = PPM;
    /// @notice Highest similarityMetric (two metrics).
    uint8 internal constant SIMILARITY_METRIC_MAX = 1;
    /// @notice Highest aggregation (four methods).
    uint8 internal constant AGGREGATION_MAX = 3;
    /// @notice trimPpm < TRIM_PPM_LIMIT: trimming half from each end would leave nothing.
    uint32 internal constant TRIM_PPM_LIMIT = PPM / 2;
    /// @notice Highest roiToleranceBps (100 %).
    uint32 internal constant ROI_TOLERANCE_BPS_CEILING = 10_000;
    /// @notice feePpm < FEE_PPM_LIMIT: a fee of 100 % makes every trade a total loss.
    uint32 internal constant FEE_PPM_LIMIT = PPM;
    /// @notice Highest bountyPpm: a third party never gets more than half of a slash.
    uint32 internal constant BOUNTY_PPM_CEILING = PPM / 2;

    /// @notice Revert RuleOutOfBounds(field) on the first field, in declaration order, outside
    ///         its bounds; then the per-node, per-round slash cap (§11) as two checks:
    ///         max(noReveal, penalty) + wrongVote ≤ minBond.
    /// @param r the version
    /// @param minNoticeRounds the deployment's floor of noticeRounds
    /// @param minBond the deployment's smallest active stake
    function check(IFLChainV2.Rules memory r, uint256 minNoticeRounds, uint256 minBond) internal pure {
        bytes32 field = firstOutOfBounds(r, minNoticeRounds, minBond);
        if (field != bytes32(0)) revert IFLChainV2.RuleOutOfBounds(field);
    }

    /// @notice The name of the first field of `r` outside its bounds (left-aligned ASCII), or 0.
    // One independent bound per field, listed flat like the spec: splitting it would only hide
    // the list.
    // slither-disable-next-line cyclomatic-complexity
    function firstOutOfBounds(IFLChainV2.Rules memory r, uint256 minNoticeRounds, uint256 minBond)
        internal
        pure
        returns (bytes32)
    {
        if (r.roiMinBps < ROI_MIN_BPS_FLOOR || r.roiMinBps > r.roiMaxBps) return "roiMinBps";
        if (r.roiMaxBps > ROI_MAX_BPS_CEILING) return "roiMaxBps";
        if (r.eligibilityMinScoreBps < -ELIGIBILITY_SCORE_BOUND_BPS || r.eligibilityMinScoreBps > ELIGIBILITY_SCORE_BOUND_BPS) {
            return "eligibilityMinScoreBps";
        }
        if (r.probationRounds > PROBATION_ROUNDS_CEILING) return "probationRounds";
        if (r.penaltyCooldownRounds > PENALTY_COOLDOWN_ROUNDS_CEILING) return "penaltyCooldownRounds";
        if (r.maxParticipants < MAX_PARTICIPANTS_FLOOR) return "maxParticipants";
        if (r.noticeRounds < minNoticeRounds || r.noticeRounds > NOTICE_ROUNDS_CEILING) return "noticeRounds";
        if (r.finalityPpm <= FINALITY_PPM_LIMIT || r.finalityPpm > FINALITY_PPM_CEILING) return "finalityPpm";
        if (r.maxPayloadBytes < MAX_PAYLOAD_BYTES_FLOOR || r.maxPayloadBytes > MAX_PAYLOAD_BYTES_CEILING) {
            return "maxPayloadBytes";
        }
        if (r.similarityThresholdPpm > SIMILARITY_THRESHOLD_PPM_CEILING) return "similarityThresholdPpm";
        if (r.clusterCapPpm < CLUSTER_CAP_PPM_FLOOR || r.clusterCapPpm > CLUSTER_CAP_PPM_CEILING) {
            return "clusterCapPpm";
        }
        if (r.similarityMetric > SIMILARITY_METRIC_MAX) return "similarityMetric";
        if (r.aggregation > AGGREGATION_MAX) return "aggregation";
        if (r.trimPpm >= TRIM_PPM_LIMIT) return "trimPpm";
        if (r.roiToleranceBps > ROI_TOLERANCE_BPS_CEILING) return "roiToleranceBps";
        if (r.feePpm >= FEE_PPM_LIMIT) return "feePpm";
        if (r.bountyPpm > BOUNTY_PPM_CEILING) return "bountyPpm";
        // uint128 + uint128 cannot overflow a uint256
        if (uint256(r.noRevealSlashWei) + r.wrongVoteSlashWei > minBond) return "noRevealSlashWei";
        if (uint256(r.penaltySlashWei) + r.wrongVoteSlashWei > minBond) return "penaltySlashWei";
        return bytes32(0);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChain} from "../interfaces/IFLChain.sol";

/// @title RulesLib — the bounds of every rule parameter, named once
/// @notice A rules version is accepted only if every field lies within these bounds (inclusive
///         unless the name says LIMIT, an exclusive upper bound). The Python mirror is
///         `flchain.protocol.Rules`; a test tries each edge on the contract.
library RulesLib {
    /// @notice Parts per million in one (ppm fields are fractions of this).
    uint32 internal constant PPM = 1_000_000;

    /// @notice Lowest roiMinBps: a loss of 100 %, the worst ROI a trade can have.
    int32 internal constant ROI_MIN_BPS_FLOOR = -10_000;
    /// @notice Highest roiMaxBps: +10 000 %; roiMinBps ≤ roiMaxBps as well.
    int32 internal constant ROI_MAX_BPS_CEILING = 1_000_000;
    /// @notice eligibilityMinScoreBps lies in [−ELIGIBILITY_SCORE_BOUND_BPS, +ELIGIBILITY_SCORE_BOUND_BPS].
    int32 internal constant ELIGIBILITY_SCORE_BOUND_BPS = 1_000_000;
    /// @notice Lowest maxParticipants (a merge takes at least one update).
    uint16 internal constant MAX_PARTICIPANTS_FLOOR = 1;
    /// @notice Highest similarityThresholdPpm (1.0).
    uint32 internal constant SIMILARITY_THRESHOLD_PPM_CEILING = PPM;
    /// @notice Lowest clusterCapPpm (a cap of 0 would drop every cluster).
    uint32 internal constant CLUSTER_CAP_PPM_FLOOR = 1;
    /// @notice Highest clusterCapPpm (1.0).
    uint32 internal constant CLUSTER_CAP_PPM_CEILING = PPM;
    /// @notice Highest similarityMetric (flchain.protocol.SimilarityMetric has two values).
    uint8 internal constant SIMILARITY_METRIC_MAX = 1;
    /// @notice Highest aggregation (flchain.protocol.Aggregation has four values).
    uint8 internal constant AGGREGATION_MAX = 3;
    /// @notice trimPpm < TRIM_PPM_LIMIT: trimming half from each end would leave nothing.
    uint32 internal constant TRIM_PPM_LIMIT = 500_000;
    /// @notice Highest roiToleranceBps (100 %).
    uint32 internal constant ROI_TOLERANCE_BPS_CEILING = 10_000;
    /// @notice Lowest quorum (one attester).
    uint16 internal constant QUORUM_FLOOR = 1;
    /// @notice feePpm < FEE_PPM_LIMIT: a fee of 100 % or more makes every trade a total loss.
    uint32 internal constant FEE_PPM_LIMIT = PPM;

    /// @notice Revert RuleOutOfBounds(field) on the first field outside its bounds.
    // One independent bound per field, listed flat like the spec: splitting it would only hide
    // the list.
    // slither-disable-next-line cyclomatic-complexity
    function check(IFLChain.Rules memory r) internal pure {
        if (r.roiMinBps < ROI_MIN_BPS_FLOOR || r.roiMinBps > r.roiMaxBps) revert IFLChain.RuleOutOfBounds("roiMinBps");
        if (r.roiMaxBps > ROI_MAX_BPS_CEILING) revert IFLChain.RuleOutOfBounds("roiMaxBps");
        if (r.eligibilityMinScoreBps < -ELIGIBILITY_SCORE_BOUND_BPS || r.eligibilityMinScoreBps > ELIGIBILITY_SCORE_BOUND_BPS) {
            revert IFLChain.RuleOutOfBounds("eligibilityMinScoreBps");
        }
        if (r.maxParticipants < MAX_PARTICIPANTS_FLOOR) revert IFLChain.RuleOutOfBounds("maxParticipants");
        if (r.similarityThresholdPpm > SIMILARITY_THRESHOLD_PPM_CEILING) {
            revert IFLChain.RuleOutOfBounds("similarityThresholdPpm");
        }
        if (r.clusterCapPpm < CLUSTER_CAP_PPM_FLOOR || r.clusterCapPpm > CLUSTER_CAP_PPM_CEILING) {
            revert IFLChain.RuleOutOfBounds("clusterCapPpm");
        }
        if (r.similarityMetric > SIMILARITY_METRIC_MAX) revert IFLChain.RuleOutOfBounds("similarityMetric");
        if (r.aggregation > AGGREGATION_MAX) revert IFLChain.RuleOutOfBounds("aggregation");
        if (r.trimPpm >= TRIM_PPM_LIMIT) revert IFLChain.RuleOutOfBounds("trimPpm");
        if (r.roiToleranceBps > ROI_TOLERANCE_BPS_CEILING) revert IFLChain.RuleOutOfBounds("roiToleranceBps");
        if (r.quorum < QUORUM_FLOOR) revert IFLChain.RuleOutOfBounds("quorum");
        if (r.feePpm >= FEE_PPM_LIMIT) revert IFLChain.RuleOutOfBounds("feePpm");
    }
}

"""flchain.protocol — the protocol's constants, rules, schedule and values, each defined once.

- `constants`: units (`BPS`, `PPM`, `NORM_SCALE`), `PROTOCOL_VERSION`, the unset benchmark id
  (`ZERO_BENCHMARK_ID`, `is_unset_benchmark`) and every `Rules` bound the contract enforces;
- `rules`: the `Rules` model and its contract struct form (`RULE_FIELDS`, `rules_to_tuple`,
  `rules_from_tuple`);
- `schedule`: `Schedule` (the round arithmetic) and `Phase`;
- `types`: `Reveal`, `Commitment`, `Attestation`, `GlobalModel`, `Directive`, the enums;
- `record`: `RoundRecord`.

Pure: no I/O. Everything is re-exported here, so `from flchain.protocol import X` is the import.
"""

from flchain.protocol.constants import (
    BPS,
    MAX_CLUSTER_CAP_PPM,
    MAX_ELIGIBILITY_MIN_SCORE_BPS,
    MAX_FEE_PPM,
    MAX_MAX_PARTICIPANTS,
    MAX_NORM_BOUND_MICRO,
    MAX_PROBATION_ROUNDS,
    MAX_QUORUM,
    MAX_ROI_MAX_BPS,
    MAX_ROI_TOLERANCE_BPS,
    MAX_SIMILARITY_THRESHOLD_PPM,
    MAX_TRIM_PPM,
    MIN_CLUSTER_CAP_PPM,
    MIN_ELIGIBILITY_MIN_SCORE_BPS,
    MIN_MAX_PARTICIPANTS,
    MIN_QUORUM,
    MIN_ROI_MIN_BPS,
    NORM_SCALE,
    PPM,
    PROTOCOL_VERSION,
    UINT16_MAX,
    UINT64_MAX,
    ZERO_BENCHMARK_ID,
    is_unset_benchmark,
)
from flchain.protocol.record import RoundRecord
from flchain.protocol.rules import RULE_FIELDS, Rules, rules_from_tuple, rules_to_tuple
from flchain.protocol.schedule import Phase, Schedule
from flchain.protocol.types import (
    Address,
    Aggregation,
    Attestation,
    Bytes32,
    Commitment,
    Directive,
    GlobalModel,
    Reveal,
    RevealOutcome,
    SimilarityMetric,
    canonical_address_key,
)

__all__ = [
    "BPS",
    "MAX_CLUSTER_CAP_PPM",
    "MAX_ELIGIBILITY_MIN_SCORE_BPS",
    "MAX_FEE_PPM",
    "MAX_MAX_PARTICIPANTS",
    "MAX_NORM_BOUND_MICRO",
    "MAX_PROBATION_ROUNDS",
    "MAX_QUORUM",
    "MAX_ROI_MAX_BPS",
    "MAX_ROI_TOLERANCE_BPS",
    "MAX_SIMILARITY_THRESHOLD_PPM",
    "MAX_TRIM_PPM",
    "MIN_CLUSTER_CAP_PPM",
    "MIN_ELIGIBILITY_MIN_SCORE_BPS",
    "MIN_MAX_PARTICIPANTS",
    "MIN_QUORUM",
    "MIN_ROI_MIN_BPS",
    "NORM_SCALE",
    "PPM",
    "PROTOCOL_VERSION",
    "RULE_FIELDS",
    "UINT16_MAX",
    "UINT64_MAX",
    "ZERO_BENCHMARK_ID",
    "Address",
    "Aggregation",
    "Attestation",
    "Bytes32",
    "Commitment",
    "Directive",
    "GlobalModel",
    "Phase",
    "Reveal",
    "RevealOutcome",
    "RoundRecord",
    "Rules",
    "Schedule",
    "SimilarityMetric",
    "canonical_address_key",
    "is_unset_benchmark",
    "rules_from_tuple",
    "rules_to_tuple",
]

"""`Rules`: the rule parameters in force for a round, and their on-chain struct form.

The model refuses exactly what the contract's `scheduleRules` refuses: the bounds are the named
constants of `flchain.protocol.constants` (mirroring `FLChain._checkRules` and the struct's
integer types), plus the one cross-field rule `roi_min_bps <= roi_max_bps`.
`tests/protocol/test_rules_bounds.py` checks every edge against the contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flchain.hashing import hex_to_bytes32
from flchain.protocol import constants
from flchain.protocol.types import Aggregation, Bytes32, SimilarityMetric

BYTES32_PATTERN: Final = r"^0x[0-9a-fA-F]{64}$"


class Rules(BaseModel):
    """Rule parameters in force for a round. Mirrors the contract's `Rules` struct."""

    model_config = ConfigDict(frozen=True)

    roi_min_bps: int = Field(
        -5_000, ge=constants.MIN_ROI_MIN_BPS, description="lowest acceptable ROI claim (bps)"
    )
    roi_max_bps: int = Field(
        20_000, le=constants.MAX_ROI_MAX_BPS, description="highest acceptable ROI claim (bps)"
    )
    eligibility_min_score_bps: int = Field(
        -10_000,
        ge=constants.MIN_ELIGIBILITY_MIN_SCORE_BPS,
        le=constants.MAX_ELIGIBILITY_MIN_SCORE_BPS,
        description="minimum mean performance score (bps) after probation",
    )
    probation_rounds: int = Field(
        3, ge=0, le=constants.MAX_PROBATION_ROUNDS, description="reveals before eligibility applies"
    )
    max_participants: int = Field(
        64,
        ge=constants.MIN_MAX_PARTICIPANTS,
        le=constants.MAX_MAX_PARTICIPANTS,
        description="updates kept by the select step",
    )
    similarity_threshold_ppm: int = Field(950_000, ge=0, le=constants.MAX_SIMILARITY_THRESHOLD_PPM)
    cluster_cap_ppm: int = Field(
        1_000_000,
        ge=constants.MIN_CLUSTER_CAP_PPM,
        le=constants.MAX_CLUSTER_CAP_PPM,
        description="max total weight share of one cluster",
    )
    similarity_metric: SimilarityMetric = SimilarityMetric.BEHAVIOURAL
    aggregation: Aggregation = Aggregation.MEAN_EQUAL
    trim_ppm: int = Field(
        100_000, ge=0, le=constants.MAX_TRIM_PPM, description="trimmed-mean cut per side"
    )
    roi_tolerance_bps: int = Field(
        1,
        ge=0,
        le=constants.MAX_ROI_TOLERANCE_BPS,
        description="max |claimed - recomputed| ROI (bps)",
    )
    norm_bound_micro: int = Field(
        100_000_000,
        ge=0,
        le=constants.MAX_NORM_BOUND_MICRO,
        description="max L2 norm of (update - base), in 1e-6 units (NORM_SCALE = 1.0)",
    )
    quorum: int = Field(
        1,
        ge=constants.MIN_QUORUM,
        le=constants.MAX_QUORUM,
        description="distinct attesters needed to finalize",
    )
    fee_ppm: int = Field(
        1_000, ge=0, le=constants.MAX_FEE_PPM, description="backtest fee rate (ppm of notional)"
    )
    benchmark_id: Bytes32 = Field(
        constants.ZERO_BENCHMARK_ID,
        pattern=BYTES32_PATTERN,
        description="content hash of benchmark data",
    )

    @model_validator(mode="after")
    def _roi_band_is_ordered(self) -> Rules:
        if self.roi_min_bps > self.roi_max_bps:
            raise ValueError(
                f"roi_min_bps ({self.roi_min_bps}) must not exceed roi_max_bps ({self.roi_max_bps})"
            )
        return self


# ---------------------------------------------------------------- the contract's struct

#: (struct member, `Rules` field) in the struct's declaration order, after `effectiveRound`.
RULE_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("roiMinBps", "roi_min_bps"),
    ("roiMaxBps", "roi_max_bps"),
    ("eligibilityMinScoreBps", "eligibility_min_score_bps"),
    ("probationRounds", "probation_rounds"),
    ("quorum", "quorum"),
    ("maxParticipants", "max_participants"),
    ("similarityThresholdPpm", "similarity_threshold_ppm"),
    ("clusterCapPpm", "cluster_cap_ppm"),
    ("similarityMetric", "similarity_metric"),
    ("aggregation", "aggregation"),
    ("trimPpm", "trim_ppm"),
    ("roiToleranceBps", "roi_tolerance_bps"),
    ("normBoundMicro", "norm_bound_micro"),
    ("feePpm", "fee_ppm"),
    ("benchmarkId", "benchmark_id"),
)


def rules_to_tuple(rules: Rules, effective_round: int) -> tuple[Any, ...]:
    """Contract `Rules` tuple (declaration order) for `rules` effective from `effective_round`."""
    values: list[Any] = [effective_round]
    for _, py in RULE_FIELDS:
        v = getattr(rules, py)
        values.append(hex_to_bytes32(v) if py == "benchmark_id" else int(v))
    return tuple(values)


def rules_from_tuple(value: Sequence[Any] | Mapping[str, Any]) -> tuple[int, Rules]:
    """(effective round, Rules) from a decoded contract `Rules` struct (a tuple, or a mapping by
    member name in declaration order)."""
    items = list(value.values()) if isinstance(value, Mapping) else list(value)
    effective = int(items[0])
    kwargs: dict[str, Any] = {}
    for (_, py), v in zip(RULE_FIELDS, items[1:], strict=True):
        if py == "benchmark_id":
            kwargs[py] = v.lower() if isinstance(v, str) else "0x" + bytes(v).hex()
        elif py == "similarity_metric":
            kwargs[py] = SimilarityMetric(int(v))
        elif py == "aggregation":
            kwargs[py] = Aggregation(int(v))
        else:
            kwargs[py] = int(v)
    return effective, Rules(**kwargs)

"""Python's `Rules` bounds are the contract's: every edge of every field, on the real contract.

For each field, the extreme values `Rules` accepts are accepted by `scheduleRules` (and read back
unchanged), and one step beyond each is refused by both: by `Rules` (a pydantic ValidationError)
and by the contract — `RuleOutOfBounds(field)` decoded by name where `_checkRules` decides, and
the ABI decoder's revert without data where the struct's integer type is the bound (web3 cannot
encode such a value, so that case patches the calldata word of the field directly).

The edges come from `flchain.protocol.constants`, the single home of the bounds. Runs on the
embedded chain and on anvil (the `backend` fixture of tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from flchain.ledger import ContractRevert, Ledger
from flchain.ledger.revert import revert_data
from flchain.protocol import (
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
    RULE_FIELDS,
    Aggregation,
    Rules,
    SimilarityMetric,
    rules_to_tuple,
)

EFFECTIVE_ROUND = 5  # every case schedules (or replaces) the pending version for this round
BASE = Rules()
TYPE_BOUND = None  # the refusal is the struct's integer type, not _checkRules
ABI_NAME = dict((py, abi) for abi, py in RULE_FIELDS)
WORD = {py: 1 + i for i, (_, py) in enumerate(RULE_FIELDS)}  # calldata word after effectiveRound


@dataclass(frozen=True)
class Bound:
    """A field's accepted range [lo, hi] and which refusal the contract gives one step beyond
    each end (a `RuleOutOfBounds` field name, or TYPE_BOUND)."""

    field: str
    lo: int
    hi: int
    below: str | None
    above: str | None


BOUNDS = (
    # roiMinBps <= roiMaxBps is checked as a bound of roiMinBps, from either side
    Bound("roi_min_bps", MIN_ROI_MIN_BPS, BASE.roi_max_bps, "roiMinBps", "roiMinBps"),
    Bound("roi_max_bps", BASE.roi_min_bps, MAX_ROI_MAX_BPS, "roiMinBps", "roiMaxBps"),
    Bound(
        "eligibility_min_score_bps",
        MIN_ELIGIBILITY_MIN_SCORE_BPS,
        MAX_ELIGIBILITY_MIN_SCORE_BPS,
        "eligibilityMinScoreBps",
        "eligibilityMinScoreBps",
    ),
    Bound("probation_rounds", 0, MAX_PROBATION_ROUNDS, TYPE_BOUND, TYPE_BOUND),
    Bound("quorum", MIN_QUORUM, MAX_QUORUM, "quorum", TYPE_BOUND),
    Bound(
        "max_participants",
        MIN_MAX_PARTICIPANTS,
        MAX_MAX_PARTICIPANTS,
        "maxParticipants",
        TYPE_BOUND,
    ),
    Bound(
        "similarity_threshold_ppm",
        0,
        MAX_SIMILARITY_THRESHOLD_PPM,
        TYPE_BOUND,
        "similarityThresholdPpm",
    ),
    Bound(
        "cluster_cap_ppm",
        MIN_CLUSTER_CAP_PPM,
        MAX_CLUSTER_CAP_PPM,
        "clusterCapPpm",
        "clusterCapPpm",
    ),
    Bound(
        "similarity_metric",
        min(SimilarityMetric),
        max(SimilarityMetric),
        TYPE_BOUND,
        "similarityMetric",
    ),
    Bound("aggregation", min(Aggregation), max(Aggregation), TYPE_BOUND, "aggregation"),
    Bound("trim_ppm", 0, MAX_TRIM_PPM, TYPE_BOUND, "trimPpm"),
    Bound("roi_tolerance_bps", 0, MAX_ROI_TOLERANCE_BPS, TYPE_BOUND, "roiToleranceBps"),
    Bound("norm_bound_micro", 0, MAX_NORM_BOUND_MICRO, TYPE_BOUND, TYPE_BOUND),
    Bound("fee_ppm", 0, MAX_FEE_PPM, TYPE_BOUND, "feePpm"),
)

#: (field, an extreme Rules accepts, the value one step beyond it, the contract's refusal)
EDGES = [
    pytest.param(b.field, edge, beyond, refusal, id=f"{b.field}-{side}")
    for b in BOUNDS
    for side, edge, beyond, refusal in (
        ("lo", b.lo, b.lo - 1, b.below),
        ("hi", b.hi, b.hi + 1, b.above),
    )
]


@pytest.fixture(scope="module")
def gov(make_world: Any) -> Ledger:
    """The governor of one deployment on this module's chain (cases replace one pending version)."""
    governor: Ledger = make_world(n_nodes=0).gov
    return governor


def with_field(field: str, value: int) -> dict[str, Any]:
    return {**BASE.model_dump(), field: value}


def call_data(gov: Ledger, rules: Rules) -> bytes:
    """scheduleRules calldata for `rules`, effective from EFFECTIVE_ROUND."""
    encoded = gov.contract.encode_abi("scheduleRules", [rules_to_tuple(rules, EFFECTIVE_ROUND)])
    return bytes.fromhex(encoded[2:])


def patched(data: bytes, field: str, value: int) -> bytes:
    """`data` with the struct member `field` set to `value` as a raw 256-bit word (the struct is
    static, so every member is one word); out-of-type values included."""
    at = 4 + 32 * WORD[field]
    return data[:at] + value.to_bytes(32, "big", signed=True) + data[at + 32 :]


def call_reverts_without_data(gov: Ledger, data: bytes) -> bool:
    """Run `data` against the contract as the governor: False if it succeeds, True if it
    reverts with no revert data (what the ABI decoder gives an out-of-type word)."""
    assert gov.account is not None
    try:
        gov.w3.eth.call({"from": gov.account.address, "to": gov.address, "data": data})
    except Exception as exc:  # eth-tester and web3's JSON-RPC path raise different types
        assert not revert_data(exc), f"expected a decoder revert, got data: {exc}"
        return True
    return False


def test_every_numeric_field_has_its_bounds_tried() -> None:
    numeric = {name for name in Rules.model_fields if name != "benchmark_id"}
    assert {b.field for b in BOUNDS} == numeric
    assert set(WORD) == set(Rules.model_fields)


@pytest.mark.parametrize(("field", "edge", "beyond", "refusal"), EDGES)
def test_python_and_the_contract_agree_on_the_edge(
    gov: Ledger, field: str, edge: int, beyond: int, refusal: str | None
) -> None:
    accepted = Rules(**with_field(field, edge))
    gov.schedule_rules(EFFECTIVE_ROUND, accepted)
    assert gov.rules_for_round(EFFECTIVE_ROUND) == accepted

    with pytest.raises(ValidationError):
        Rules(**with_field(field, beyond))

    if refusal is TYPE_BOUND:
        data = call_data(gov, accepted)
        assert not call_reverts_without_data(gov, patched(data, field, edge))
        assert call_reverts_without_data(gov, patched(data, field, beyond))
    else:
        unchecked = Rules.model_construct(**with_field(field, beyond))
        with pytest.raises(ContractRevert) as refused:
            gov.schedule_rules(EFFECTIVE_ROUND, unchecked)
        assert refused.value.error_name == "RuleOutOfBounds"
        assert refused.value.error_args == {"field": refusal}
        assert gov.rules_for_round(EFFECTIVE_ROUND) == accepted  # nothing was stored


def test_any_32_bytes_are_a_benchmark_id(gov: Ledger) -> None:
    for value in ("0x" + "ff" * 32, "0x" + "00" * 31 + "01"):
        rules = Rules(benchmark_id=value)
        gov.schedule_rules(EFFECTIVE_ROUND, rules)
        assert gov.rules_for_round(EFFECTIVE_ROUND) == rules
    with pytest.raises(ValidationError):
        Rules(benchmark_id="0x" + "ff" * 33)

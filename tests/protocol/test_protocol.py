"""The pure parts of flchain.protocol: the struct mapping, the schedule, the unset benchmark."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flchain.ledger import load_artifact
from flchain.protocol import (
    RULE_FIELDS,
    ZERO_BENCHMARK_ID,
    Phase,
    Rules,
    Schedule,
    is_unset_benchmark,
    rules_from_tuple,
    rules_to_tuple,
)

SCHEDULE = Schedule(t0=1_000, round_length=100, commit_window=40, reveal_window=30)


def test_struct_mapping_is_the_contract_struct_and_names_every_field_once() -> None:
    (schedule_rules,) = (
        item for item in load_artifact()["abi"] if item.get("name") == "scheduleRules"
    )
    members = [c["name"] for c in schedule_rules["inputs"][0]["components"]]
    assert members == ["effectiveRound", *(abi for abi, _ in RULE_FIELDS)]
    assert sorted(py for _, py in RULE_FIELDS) == sorted(Rules.model_fields)


def test_rules_survive_the_struct_round_trip() -> None:
    rules = Rules(quorum=3, benchmark_id="0x" + "ab" * 32, trim_ppm=0)
    effective, back = rules_from_tuple(rules_to_tuple(rules, 7))
    assert (effective, back) == (7, rules)


def test_roi_band_must_be_ordered() -> None:
    Rules(roi_min_bps=5, roi_max_bps=5)
    with pytest.raises(ValidationError, match="roi_min_bps"):
        Rules(roi_min_bps=6, roi_max_bps=5)


def test_benchmark_id_must_be_32_bytes_of_hex() -> None:
    with pytest.raises(ValidationError):
        Rules(benchmark_id="0x" + "00" * 31)
    with pytest.raises(ValidationError):
        Rules(benchmark_id="0x" + "zz" * 32)


def test_unset_benchmark_is_the_zero_id_in_any_case() -> None:
    assert Rules().benchmark_id == ZERO_BENCHMARK_ID
    assert is_unset_benchmark(ZERO_BENCHMARK_ID) and is_unset_benchmark("0X" + "00" * 32)
    assert not is_unset_benchmark("0x" + "00" * 31 + "01")


@pytest.mark.parametrize("ts", [0, 999, 1_000, 1_039, 1_040, 1_069, 1_070, 1_099, 1_100, 1_570])
def test_closed_rounds_agree_with_the_phase(ts: int) -> None:
    closed = SCHEDULE.rounds_closed_at(ts)
    round, phase = SCHEDULE.phase_at(ts)
    if phase == Phase.NOT_STARTED:
        assert closed == 0
    else:
        assert closed == round + (phase == Phase.CLOSED)
    for r in range(closed):
        assert SCHEDULE.reveal_end(r) <= ts
    assert SCHEDULE.reveal_end(closed) > ts


def test_phase_start_is_where_phase_at_changes() -> None:
    for phase in (Phase.COMMIT, Phase.REVEAL, Phase.CLOSED):
        at = SCHEDULE.phase_start(3, phase)
        assert SCHEDULE.phase_at(at) == (3, phase)
        assert SCHEDULE.phase_at(at - 1) != (3, phase)
    with pytest.raises(ValueError):
        SCHEDULE.phase_start(3, Phase.NOT_STARTED)

"""The v2 federation file's forward-scoring fields (docs/protocol.md §15.1): each bounded by
the protocol's constants, refused field by field with the allowed range, taken as given when
in range."""

from __future__ import annotations

import pytest

from flchain.protocol import forward as fw
from flchain.rules_file import RulesFileError
from flchain.rules_file_v2 import validate_rules_v2


def _rules(**values: object) -> object:
    return validate_rules_v2(values, min_notice_rounds=1, min_bond=10**18)


def test_forward_fields_in_range_are_taken() -> None:
    rules = _rules(forward_bars=96, forward_lag_rounds=2, forward_trail_rounds=4,
                   norm_bound_rel_ppm=2_000_000)  # fmt: skip
    assert (rules.forward_bars, rules.forward_lag_rounds, rules.forward_trail_rounds) == (96, 2, 4)  # type: ignore[attr-defined]
    assert rules.norm_bound_rel_ppm == 2_000_000  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("forward_bars", fw.MAX_FORWARD_BARS + 1, f"allowed 0 to {fw.MAX_FORWARD_BARS}"),
        ("forward_lag_rounds", "two", "is not an integer"),
        ("forward_trail_rounds", -1, "out of range"),
        ("norm_bound_rel_ppm", fw.MAX_NORM_BOUND_REL_PPM + 1, "out of range"),
    ],
)
def test_a_forward_field_out_of_range_is_named(field: str, value: object, says: str) -> None:
    with pytest.raises(RulesFileError, match=f"{field} = .*{says}"):
        _rules(**{field: value})

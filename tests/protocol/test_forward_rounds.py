"""`get_scored_round`: the one rule every merger and auditor uses to pick the round whose
window a merge scores (docs/protocol.md §15.2)."""

from __future__ import annotations

from flchain.protocol.forward import get_scored_round


def test_the_merge_of_c_scores_c_minus_lag_when_both_rounds_agree() -> None:
    on = (96, 2)
    assert get_scored_round(5, lambda r: on) == 3
    assert get_scored_round(1, lambda r: on) is None  # the first lag rounds score nothing
    assert get_scored_round(2, lambda r: on) == 0


def test_a_rules_change_between_leaves_the_round_unscored_for_everyone() -> None:
    # forward scoring switched off at round 5: round 3's votes (lag 2) land in 5, unscored
    assert get_scored_round(5, lambda r: (0, 0) if r >= 5 else (96, 2)) is None
    # the lag changed from 2 to 3 at round 5: round 3's votes (lag 2) land in 5, but 5 looks
    # back 3 rounds to round 2, whose votes landed in 4 (scored there): 5 scores nothing
    assert get_scored_round(5, lambda r: (96, 3) if r >= 5 else (96, 2)) is None
    assert get_scored_round(4, lambda r: (96, 3) if r >= 5 else (96, 2)) == 2
    assert get_scored_round(5, lambda r: (96, 3)) == 2
    # forward scoring switched on at round 4: round 2 (off) is not scored in 4
    assert get_scored_round(4, lambda r: (96, 2) if r >= 4 else (0, 0)) is None

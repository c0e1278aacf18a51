"""Forward scoring (docs/protocol.md §15): the schedule of a round's forward window, the bounds
of its rule fields, and the arithmetic of a node's trailing record. Pure integers, no I/O.

    forward_start(reveal_end, margin)   open time (s) of round r's first scored bar
    forward_close(reveal_end, margin, bars)   when its execution bar has closed
    vote_round(r, lag)                  the round whose commits carry the votes on r's window
    record_score(scores, z_ppm, floor_bps)    the record's mean less z standard errors

The contract (FLChainV2.sol) and the reference machine (`flchain.protocol.machine`) use the
schedule; the merge (`flchain.merge.forward`) the record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

#: 15-minute bars aligned to UTC (a benchmark file's `bar_ms` / 1 000).
BAR_SECONDS: Final = 900
#: The largest window a round may score, and the largest window file `postForward` takes: the
#: warm-up (128 rows), 1 000 scored rows and the execution row are 54 KB.
MAX_FORWARD_BARS: Final = 1_000
MAX_FORWARD_BYTES: Final = 65_536
MAX_FORWARD_MARGIN_SECONDS: Final = 7 * 86_400
MAX_FORWARD_LAG_ROUNDS: Final = 1_000
MAX_FORWARD_TRAIL_ROUNDS: Final = 64
MAX_FORWARD_NOISE_Z_PPM: Final = 4_000_000
MAX_FORWARD_NOISE_FLOOR_BPS: Final = 10_000
MAX_NORM_BOUND_REL_PPM: Final = 100_000_000

#: A score is an excess ROI clamped to ±FORWARD_CLAMP_BPS (one window's luck is bounded); the
#: worst score is what a committed-but-unrevealed or invalid update gets.
FORWARD_CLAMP_BPS: Final = 10_000
FORWARD_WORST_BPS: Final = -FORWARD_CLAMP_BPS

_PPM: Final = 1_000_000
_INT32: Final = 2**31


def forward_start(reveal_end: int, margin_seconds: int) -> int:
    """The open time (s) of the first scored bar: revealEnd + margin, up to the bar grid."""
    t = reveal_end + margin_seconds
    return -(-t // BAR_SECONDS) * BAR_SECONDS


def forward_scored_end(reveal_end: int, margin_seconds: int, bars: int) -> int:
    """The first open time (s) past the scored bars."""
    return forward_start(reveal_end, margin_seconds) + bars * BAR_SECONDS


def forward_close(reveal_end: int, margin_seconds: int, bars: int) -> int:
    """When the window's execution bar has closed (no bar missing): posts open then."""
    return forward_scored_end(reveal_end, margin_seconds, bars) + BAR_SECONDS


def vote_round(round: int, lag_rounds: int) -> int:
    return round + lag_rounds


def get_scored_round(round: int, forward_of: Callable[[int], tuple[int, int]]) -> int | None:
    """The round w whose window the merge of `round` scores, from `forward_of(r)` = (forwardBars,
    forwardLagRounds) of round r's rules: w = round − lag(round) when forward scoring is on in
    both and w's own lag points at `round` (§15.2); None otherwise. A rules change of the lag
    can make some round's votes land in `round` under another lag: that round goes unscored
    (its scores missing), so every merger and auditor scores the same round or none."""
    bars, lag = forward_of(round)
    if bars == 0 or round < lag:
        return None
    w = round - lag
    bars_w, lag_w = forward_of(w)
    if bars_w == 0 or vote_round(w, lag_w) != round:
        return None
    return w


def lag_fits(
    commit_window: int,
    reveal_window: int,
    round_length: int,
    margin_seconds: int,
    bars: int,
    lag_rounds: int,
) -> bool:
    """Every round's window closes before its vote round starts: S(r + lag) − revealEnd(r) =
    lag·L − C − R must cover the margin, the grid alignment (< one bar), the scored bars and the
    execution bar."""
    needed = commit_window + reveal_window + margin_seconds + (bars + 2) * BAR_SECONDS
    return needed <= lag_rounds * round_length


def clamp_score(excess_bps: int) -> int:
    return max(-FORWARD_CLAMP_BPS, min(FORWARD_CLAMP_BPS, excess_bps))


def record_score(scores: Sequence[int], z_ppm: int, floor_bps: int) -> int:
    """The score of a record (§15.4): ⌊mean⌋ less z standard errors of the mean, each standard
    deviation at least `floor_bps`; 0 for an empty record. Exact integer arithmetic."""
    n = len(scores)
    if n == 0:
        return 0
    total = sum(scores)
    squares = sum(x * x for x in scores)
    sd = math.isqrt((n * squares - total * total) // (n * (n - 1))) if n > 1 else 0
    noise = z_ppm * max(sd, floor_bps)
    deduction = math.isqrt(noise * noise // (_PPM * _PPM * n))
    score = total // n - deduction
    return max(-_INT32, min(_INT32 - 1, score))

"""A round's forward window as a canonical benchmark file (docs/protocol.md §15.2):
`build_window` cuts it from a node's own bars, `parse_window` checks posted bytes against the
round — the bytes every honest node builds from the same bars are the same."""

from __future__ import annotations

import pytest

from flchain.market import OHLCV
from flchain.market.benchfile import BAR_MS
from flchain.market.benchmark import WARMUP
from flchain.market.errors import ForwardWindowError
from flchain.market.forward import build_window, parse_window
from flchain.market.planted import PLANTED_EXCHANGE, PLANTED_SYMBOL, planted_world

BARS = 96
PAIR = (PLANTED_EXCHANGE, PLANTED_SYMBOL)


def _bars() -> OHLCV:
    return planted_world(3).bars(0, 2_000)


def _start(index: int) -> int:
    return int(_bars().timestamps[index]) // 1_000


def test_the_window_is_warm_up_scored_bars_and_the_execution_bar() -> None:
    start = _start(500)
    file = build_window(_bars(), *PAIR, start, BARS)
    ts = file.bars.timestamps
    assert file.warmup == WARMUP and len(ts) == WARMUP + BARS + 1
    assert int(ts[WARMUP]) == start * 1_000 and int(ts[WARMUP - 1]) < start * 1_000
    assert int(ts[-2]) == start * 1_000 + (BARS - 1) * BAR_MS
    assert build_window(_bars(), *PAIR, start, BARS).data == file.data  # one encoding
    bench = parse_window(file.data, start, BARS, PAIR)
    assert bench.signal_count == BARS and bench.is_named_by(file.digest)


def test_windows_that_are_not_the_rounds_are_refused() -> None:
    start = _start(500)
    data = build_window(_bars(), *PAIR, start, BARS).data
    with pytest.raises(ForwardWindowError, match="overlaps the reveal window"):
        parse_window(data, start + 900, BARS, PAIR)  # the round's window starts a bar later
    with pytest.raises(ForwardWindowError, match="past its"):
        parse_window(data, start, BARS - 1, PAIR)
    with pytest.raises(ForwardWindowError, match="the rules' market"):
        parse_window(data, start, BARS, ("yahoo", "BTC/USD"))
    with pytest.raises(ForwardWindowError, match="not a benchmark file"):
        parse_window(data[:-1], start, BARS, PAIR)


def test_a_node_without_the_bars_builds_no_window() -> None:
    with pytest.raises(ForwardWindowError, match="warm-up"):
        build_window(_bars(), *PAIR, _start(WARMUP - 1), BARS)
    with pytest.raises(ForwardWindowError, match="execution bar"):
        build_window(_bars(), *PAIR, _start(2_000 - BARS), BARS)

"""A round's forward window as a canonical benchmark file (docs/protocol.md §15.2).

    build_window(bars, exchange, symbol, start, bars_count)   the file every honest node builds
    parse_window(data, start, bars_count, market)             the merge's check of posted bytes

The window of round r scores the bars opening in ``[start, start + bars_count·900)`` with
``start = forward_start(revealEnd(r), margin)`` (`flchain.protocol.forward`), preceded by the
protocol's `WARMUP` rows and followed by one execution row — the benchmark file format of
`flchain.market.benchfile`, so a window is named by its sha256 like any benchmark and every
honest node that saw the same bars builds the same bytes.
"""

from __future__ import annotations

import numpy as np

from flchain.market.benchfile import BAR_MS, BenchmarkFile, decode, encode
from flchain.market.benchmark import WARMUP, Benchmark
from flchain.market.errors import BenchmarkFormatError, ForwardWindowError
from flchain.market.ohlcv import OHLCV

__all__ = ["build_window", "parse_window"]


def _scored_range_ms(start: int, bars_count: int) -> tuple[int, int]:
    return start * 1_000, (start + bars_count * BAR_MS // 1_000) * 1_000


def build_window(
    bars: OHLCV, exchange: str, symbol: str, start: int, bars_count: int
) -> BenchmarkFile:
    """The window file from a node's own bars (closed 15-minute bars, UTC, gap rule "skip"):
    the `WARMUP` bars before `start` (s), the bars opening in the scored range, the next bar.

    @raise ForwardWindowError if `bars` lack the warm-up, every scored bar, or the execution bar
    """
    ts = np.asarray(bars.timestamps, dtype=np.int64)
    lo, hi = _scored_range_ms(start, bars_count)
    first = int(np.searchsorted(ts, lo, side="left"))
    after = int(np.searchsorted(ts, hi, side="left"))
    if first < WARMUP:
        raise ForwardWindowError(f"{first} bars before the window; its warm-up needs {WARMUP}")
    if after == first:
        raise ForwardWindowError("no bar opens inside the window's scored range")
    if after >= len(ts):
        raise ForwardWindowError("the window's execution bar has not closed yet")
    try:
        return encode(bars.slice(first - WARMUP, after + 1), exchange, symbol, WARMUP)
    except BenchmarkFormatError as exc:
        raise ForwardWindowError(f"the window's bars do not make a file: {exc.message}") from exc


def parse_window(
    data: bytes, start: int, bars_count: int, market: tuple[str, str] | None = None
) -> Benchmark:
    """The benchmark of a posted window, checked against its round: a canonical file with the
    protocol's warm-up, of `market` (exchange, symbol) when given, whose scored rows open in
    ``[start, start + bars_count·900)`` — none before `start`, so none inside the reveal window
    or its margin — and number at most `bars_count`.

    @raise ForwardWindowError naming the first rule the bytes break
    """
    try:
        file = decode(data)
    except BenchmarkFormatError as exc:
        raise ForwardWindowError(f"the window is not a benchmark file: {exc.message}") from exc
    if file.warmup != WARMUP:
        raise ForwardWindowError(f"the window has a {file.warmup}-bar warm-up, not {WARMUP}")
    if market is not None and (file.exchange, file.symbol) != market:
        raise ForwardWindowError(
            f"the window is {file.exchange}:{file.symbol}, the rules' market is {market[0]}:{market[1]}"
        )
    ts = file.bars.timestamps
    lo, hi = _scored_range_ms(start, bars_count)
    scored = ts[WARMUP:-1]
    if int(scored[0]) < lo:
        raise ForwardWindowError(
            f"the first scored bar opens at {int(scored[0]) // 1_000} s, before the window's "
            f"start {start} s: it overlaps the reveal window or its margin"
        )
    if int(scored[-1]) >= hi or len(scored) > bars_count:
        raise ForwardWindowError(f"the window scores bars past its {bars_count} bars")
    return Benchmark.from_file(file, name=f"forward:{start}")

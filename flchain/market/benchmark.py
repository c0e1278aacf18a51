"""Benchmarks: the shared bar windows every ROI claim is backtested on.

A benchmark is a window of bars. The first `WARMUP` bars only feed the features' lookbacks;
the *signal bars* are bars ``WARMUP … n−2`` (every bar with full history and a next bar to
execute on), so ``T = n − 1 − WARMUP``. Execution prices (length ``T + 1``): ``x_t`` is the open
of the bar after signal bar ``t``, and ``x_T`` — the price that closes the book — is the close of
the last bar. The id is the content hash of the canonical bytes of the bars
(`OHLCV.content_hash`), so the contract's rules can name a benchmark without trusting anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from flchain.market.errors import MarketDataError, UnknownBenchmarkError
from flchain.market.ohlcv import OHLCV

# Bars of history every feature set may read (max lookback of any directive, with margin).
# It is fixed protocol-wide so every node's position series has the same length T.
WARMUP = 128

# Shipped benchmark windows: signal bars per window, and how many rolling windows are known.
WINDOW_SIGNALS = 1_000
SHIPPED_WINDOWS = 4


def signal_count(bars: OHLCV) -> int:
    """Number of signal bars in ``bars`` (``len − 1 − WARMUP``)."""
    return max(len(bars) - 1 - WARMUP, 0)


def exec_prices(bars: OHLCV) -> npt.NDArray[np.float64]:
    """Execution prices of length ``signal_count(bars) + 1`` (see the module docstring)."""
    t = signal_count(bars)
    if t <= 0:
        raise MarketDataError(
            f"{len(bars)} bars leave no signal bar after the {WARMUP}-bar warm-up; "
            f"need at least {WARMUP + 2}"
        )
    out = np.empty(t + 1, dtype=np.float64)
    out[:t] = bars.open[WARMUP + 1 : WARMUP + 1 + t]
    out[t] = bars.close[-1]
    return out


@dataclass(frozen=True, eq=False)
class Benchmark:
    """A named, content-addressed window of bars used for ROI claims.

    @param id ``0x`` sha256 of the bars' canonical bytes
    @param bars the whole window, warm-up included
    @param name human label (not part of the id)
    """

    id: str
    bars: OHLCV
    name: str = ""

    @classmethod
    def from_bars(cls, bars: OHLCV, name: str = "") -> Benchmark:
        exec_prices(bars)  # refuses windows too short to have a signal bar
        return cls(id=bars.content_hash(), bars=bars, name=name)

    @property
    def signal_count(self) -> int:
        return signal_count(self.bars)

    @property
    def exec_prices(self) -> npt.NDArray[np.float64]:
        return exec_prices(self.bars)


_registered: dict[str, Benchmark] = {}


def register(benchmark: Benchmark) -> None:
    """Make `resolve` know a benchmark built elsewhere (e.g. a devnet's synthetic window).

    The id is recomputed from the bars, so a registration cannot lie about its content.
    """
    if benchmark.bars.content_hash() != benchmark.id:
        raise MarketDataError("benchmark id does not match its bars")
    _registered[benchmark.id] = benchmark


def shipped_window(index: int) -> Benchmark:
    """The ``index``-th shipped benchmark: held-out tail of the BTC-USD 15-minute bars.

    Window 0 is the last ``WARMUP + WINDOW_SIGNALS + 1`` bars; window k ends ``k·WINDOW_SIGNALS``
    bars earlier. Node training partitions never use these bars (see `partition`).
    """
    return _shipped_window(index % SHIPPED_WINDOWS)


@cache
def _shipped_window(index: int) -> Benchmark:
    from flchain.market.loaders import load_btc_15min

    bars = load_btc_15min().bars
    size = WARMUP + WINDOW_SIGNALS + 1
    stop = len(bars) - index * WINDOW_SIGNALS
    return Benchmark.from_bars(bars.slice(stop - size, stop), name=f"btc-usd-15m-w{index}")


def benchmark_for_round(round_number: int) -> Benchmark:
    """The shipped window a round uses when its rules name no other (rotates every round)."""
    return shipped_window(round_number)


def default_benchmark() -> Benchmark:
    """The default benchmark: shipped window 0 (most recent held-out BTC-USD 15-minute bars)."""
    return shipped_window(0)


def held_out_start() -> int:
    """Index in the cleaned BTC-USD 15-minute bars where the shipped benchmark windows begin."""
    from flchain.market.loaders import load_btc_15min

    n = len(load_btc_15min().bars)
    return n - (SHIPPED_WINDOWS - 1) * WINDOW_SIGNALS - (WARMUP + WINDOW_SIGNALS + 1)


def resolve(benchmark_id: str) -> Benchmark:
    """The benchmark whose content hash is ``benchmark_id`` (shipped or registered)."""
    key = benchmark_id.lower()
    if key in _registered:
        return _registered[key]
    for i in range(SHIPPED_WINDOWS):
        bench = shipped_window(i)
        if bench.id == key:
            return bench
    raise UnknownBenchmarkError(
        f"unknown benchmark {benchmark_id}; shipped ones are listed by `flchain market info`"
    )

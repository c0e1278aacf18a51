"""A market on the simulated chain clock: the bars nodes build forward windows from.

A simulation's chain starts at a fixed future time (`SIM_T0`) while its market's bars have the
timestamps they were generated with, so a forward window (docs/protocol.md §15.2: bars opening
after a round's reveal window closed, in chain time) would find no bars at all. `on_clock`
moves a whole series in time by a whole number of bars, so that a chosen bar opens at a chosen
chain time; prices, volumes and their order are untouched, and every node given the same
series builds the same window bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flchain.market import OHLCV
from flchain.protocol.forward import BAR_SECONDS

__all__ = ["ClockedMarket", "on_clock"]


def on_clock(bars: OHLCV, index: int, open_s: int) -> OHLCV:
    """`bars` shifted in time so that bar `index` opens at `open_s` (s, on the 900 s grid)."""
    if open_s % BAR_SECONDS:
        raise ValueError(f"{open_s} s is not on the {BAR_SECONDS} s bar grid")
    shift_ms = open_s * 1_000 - int(bars.timestamps[index])
    ts = np.asarray(bars.timestamps, dtype=np.int64) + shift_ms
    return OHLCV.of(ts, bars.open, bars.high, bars.low, bars.close, bars.volume)


@dataclass(frozen=True)
class ClockedMarket:
    """One market's bars on the chain clock, as a node's `MarketBars` source answers them."""

    exchange: str
    symbol: str
    bars: OHLCV

    def bars_of(self, exchange: str, symbol: str) -> OHLCV | None:
        """This market's bars when asked for it (a node follows one market)."""
        return self.bars if (exchange, symbol) == (self.exchange, self.symbol) else None

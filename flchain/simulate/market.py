"""A market on the simulated chain clock: the bars nodes build forward windows from.

A simulation's chain starts at a fixed future time (`SIM_T0`) while its market's bars have the
timestamps they were generated with, so a forward window (docs/protocol.md §15.2: bars opening
after a round's reveal window closed, in chain time) would find no bars at all. `on_clock`
moves a whole series in time by a whole number of bars, so that a chosen bar opens at a chosen
chain time; prices, volumes and their order are untouched, and every node given the same
series builds the same window bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from flchain.market import OHLCV
from flchain.market.benchfile import BenchmarkFile, encode
from flchain.market.benchmark import WARMUP, WINDOW_SIGNALS, Benchmark
from flchain.market.planted import (
    PLANTED_EXCHANGE,
    PLANTED_SYMBOL,
    PLANTED_WINDOWS,
    WORLD_BARS,
    planted_partition,
    planted_world,
)
from flchain.protocol.forward import BAR_SECONDS, forward_start
from flchain.protocol.machine import RulesV2

__all__ = [
    "FORWARD_BARS",
    "FORWARD_LAG_ROUNDS",
    "FORWARD_MARGIN_SECONDS",
    "ClockedMarket",
    "PlantedSimMarket",
    "on_clock",
    "planted_sim_market",
]


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


# --- the planted market of a simulation ---------------------------------------------------------

#: Forward scoring of a planted run: a day of scored bars per round, a bar's margin after the
#: reveal window, voted two rounds later (one day's rounds: C + R + margin + 98 bars = 153 900 s
#: ≤ 2 · 86 400 s), the record of the last 8 scored rounds, z = 1 and a floor of 100 bps.
FORWARD_BARS = 96
FORWARD_MARGIN_SECONDS = BAR_SECONDS
FORWARD_LAG_ROUNDS = 2
#: MEAN_ROI: what ranks also weighs and pays, so what decides it shows in the rewards.
MEAN_ROI = 1


@dataclass(frozen=True)
class PlantedSimMarket:
    """The planted world of `seed` on the chain clock: its claim window is the oldest held-out
    window, and the first bar after it opens where round 0's forward window starts, so round
    r's forward window is the r-th day after the claim window (`on_clock`)."""

    seed: int
    claim: Benchmark
    market: ClockedMarket
    max_bars: int

    @property
    def claim_file(self) -> BenchmarkFile:
        """The claim window's file: the rules name it by digest, the store holds it by CID."""
        assert self.claim.file is not None  # built from one
        return self.claim.file

    def bars_for(self, identity: str) -> OHLCV:
        """A node's private training bars (`planted_partition`; never a held-out bar)."""
        bars, _ = planted_partition(identity, seed=self.seed)
        return bars.slice(max(0, len(bars) - self.max_bars), len(bars))

    def rules(self, base: RulesV2, forward: bool) -> RulesV2:
        """`base` naming the claim window, MEAN_ROI weights, and — with `forward` — forward
        scoring on with a probation of one scored round (off: no probation)."""
        rules = replace(
            base,
            benchmark_id=bytes.fromhex(self.claim_file.digest.removeprefix("0x")),
            aggregation=MEAN_ROI,
            probation_rounds=0,
        )
        if not forward:
            return rules
        return replace(
            rules,
            probation_rounds=1,
            forward_bars=FORWARD_BARS,
            forward_margin_seconds=FORWARD_MARGIN_SECONDS,
            forward_lag_rounds=FORWARD_LAG_ROUNDS,
        )


def planted_sim_market(seed: int, reveal_end_0: int, max_bars: int) -> PlantedSimMarket:
    """The planted market of a simulation whose round 0 reveal window closes at `reveal_end_0`."""
    world = planted_world(seed).bars(0, WORLD_BARS)
    first = WORLD_BARS - (PLANTED_WINDOWS - 1) * WINDOW_SIGNALS  # the bar after the claim window
    bars = on_clock(world, first, forward_start(reveal_end_0, FORWARD_MARGIN_SECONDS))
    size = WARMUP + WINDOW_SIGNALS + 1
    file = encode(bars.slice(first - size, first), PLANTED_EXCHANGE, PLANTED_SYMBOL, WARMUP)
    claim = Benchmark.from_file(file, name=f"planted-s{seed}-claim")
    return PlantedSimMarket(
        seed, claim, ClockedMarket(PLANTED_EXCHANGE, PLANTED_SYMBOL, bars), max_bars
    )

"""Node-private training sets that are realistically non-IID, drawn from data nobody shares.

Each node gets a different span, bar size and noise level, derived from its address and a
seed: some nodes train on daily bars, some on 15-minute bars, some on hourly bars resampled
from the 15-minute ones; spans are random sub-windows; a node may add a little multiplicative
price noise (a different venue's quotes). Benchmark windows are never part of any partition.
"""

from __future__ import annotations

import hashlib

import numpy as np
from pydantic import BaseModel, ConfigDict

from flchain.market.benchmark import WARMUP, held_out_start
from flchain.market.errors import MarketDataError
from flchain.market.loaders import load_btc_15min, load_btc_daily
from flchain.market.ohlcv import OHLCV

BAR_SIZES = ("15m", "1h", "1d")


class PartitionSpec(BaseModel):
    """How one node's private training set was cut (for reports and tests)."""

    model_config = ConfigDict(frozen=True)

    node: str
    bar_size: str
    start: int
    stop: int
    noise_ppm: int


def resample(bars: OHLCV, factor: int) -> OHLCV:
    """Aggregate every ``factor`` consecutive bars into one (first open, max high, min low,
    last close, summed volume); a trailing incomplete group is dropped. Volumes are added left to
    right (element-wise), not by a library reduction whose order could change."""
    if factor < 1:
        raise MarketDataError("resample factor must be >= 1")
    n = len(bars) // factor * factor
    if n == 0:
        raise MarketDataError(f"{len(bars)} bars are too few to resample by {factor}")
    shape = (n // factor, factor)
    volume = bars.volume[:n:factor].copy()
    for k in range(1, factor):
        volume += bars.volume[k:n:factor]
    return OHLCV.of(
        bars.timestamps[:n:factor],
        bars.open[:n:factor],
        bars.high[:n].reshape(shape).max(axis=1),
        bars.low[:n].reshape(shape).min(axis=1),
        bars.close[factor - 1 : n : factor],
        volume,
    )


def add_noise(bars: OHLCV, seed: int, noise_ppm: int) -> OHLCV:
    """Multiply prices by (1 + ε), ε ~ N(0, noise_ppm·1e-6) per bar, keeping OHLC consistent."""
    if noise_ppm == 0:
        return bars
    rng = np.random.Generator(np.random.PCG64(seed))
    k = 1.0 + rng.normal(0.0, noise_ppm / 1e6, len(bars))
    k = np.clip(k, 0.5, 1.5)
    o, c = bars.open * k, bars.close * k
    return OHLCV.of(
        bars.timestamps,
        o,
        np.maximum(bars.high * k, np.maximum(o, c)),
        np.minimum(bars.low * k, np.minimum(o, c)),
        c,
        bars.volume,
    )


def _seed_for(node: str, seed: int) -> int:
    digest = hashlib.sha256(f"{seed}/{node.lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def node_partition(node: str, seed: int = 0, min_bars: int = 600) -> tuple[OHLCV, PartitionSpec]:
    """The private training bars of ``node`` (deterministic in node and seed).

    Only bars before the shipped benchmark windows are used (15-minute and hourly data), and
    the daily data ends before them too.
    """
    s = _seed_for(node, seed)
    rng = np.random.Generator(np.random.PCG64(s))
    bar_size = BAR_SIZES[int(rng.integers(len(BAR_SIZES)))]
    if bar_size == "1d":
        source = load_btc_daily().bars
    else:
        source = load_btc_15min().bars.slice(0, held_out_start())
        if bar_size == "1h":
            source = resample(source, 4)
    need = min(min_bars, len(source))
    if need <= WARMUP + 16:
        raise MarketDataError("not enough shipped data for a partition")
    length = int(rng.integers(need, len(source) + 1))
    start = int(rng.integers(0, len(source) - length + 1))
    noise_ppm = int(rng.choice([0, 0, 200, 1_000]))
    bars = add_noise(source.slice(start, start + length), s ^ 0x5EED, noise_ppm)
    spec = PartitionSpec(
        node=node, bar_size=bar_size, start=start, stop=start + length, noise_ppm=noise_ppm
    )
    return bars, spec

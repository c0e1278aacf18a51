"""Seeded synthetic bars for scale tests and devnets: regime changes and fat tails.

Log-price follows a random walk whose drift and volatility switch between regimes (bull, bear,
calm, turbulent) at geometric intervals; shocks are Student-t (ν = 3) for fat tails. Intrabar
high/low and volume are derived from the same stream. The generator uses numpy's PCG64 bit
stream only through `Generator` methods; synthetic data is for experiments, not for claims
(a benchmark made from it is identified by the hash of its bars, so it is still verifiable).

Not bit-identical across machines: ``np.exp`` differs between AVX-512 and AVX2 in the last bit
(DESIGN §4), so one seed can give different bars on different CPUs. Anything pinned or compared
across machines should use `flchain.market.planted`, which is exact.
"""

from __future__ import annotations

import numpy as np

from flchain.market.errors import MarketDataError
from flchain.market.ohlcv import OHLCV

# (drift per bar, volatility per bar) of each regime, for 15-minute-like bars
REGIMES = ((0.0004, 0.004), (-0.0004, 0.005), (0.0, 0.002), (0.0, 0.009))


def synthetic_bars(
    n: int,
    seed: int,
    *,
    start_ms: int = 1_609_459_200_000,  # 2021-01-01T00:00:00Z
    step_ms: int = 900_000,
    start_price: float = 30_000.0,
    mean_regime_bars: int = 400,
    tail_df: float = 3.0,
) -> OHLCV:
    """``n`` bars from seed ``seed`` (same arguments → same bars on the same numpy)."""
    if n <= 0:
        raise MarketDataError("synthetic data needs at least one bar")
    if step_ms <= 0 or start_price <= 0 or mean_regime_bars <= 0 or tail_df <= 2:
        raise MarketDataError("synthetic generator parameters out of range")
    rng = np.random.Generator(np.random.PCG64(seed))
    regime = np.empty(n, dtype=np.int64)
    t = 0
    current = int(rng.integers(len(REGIMES)))
    while t < n:
        length = int(rng.geometric(1.0 / mean_regime_bars))
        regime[t : t + length] = current
        t += length
        current = int((current + rng.integers(1, len(REGIMES))) % len(REGIMES))
    drift = np.array([r[0] for r in REGIMES])[regime]
    vol = np.array([r[1] for r in REGIMES])[regime]
    shocks = rng.standard_t(tail_df, n) / np.sqrt(tail_df / (tail_df - 2.0))
    log_ret = drift + vol * shocks
    close = start_price * np.exp(np.cumsum(log_ret))
    open_ = np.empty(n)
    open_[0] = start_price
    open_[1:] = close[:-1] * np.exp(vol[1:] * 0.1 * rng.standard_normal(n - 1))
    wick = vol * np.abs(rng.standard_normal((2, n)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = np.exp(rng.normal(10.0, 0.5, n)) * (1.0 + 50.0 * np.abs(log_ret))
    ts = start_ms + step_ms * np.arange(n, dtype=np.int64)
    return OHLCV.of(ts, open_, high, low, close, volume)

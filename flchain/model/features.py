"""Deterministic features: the same bars and config give the same float64 bits everywhere.

Only IEEE-754 operations that are correctly rounded (+, −, ×, ÷, sqrt, comparisons) are used —
no log/exp/pow whose last bit depends on the maths library — and every window sum is an
explicit left-to-right loop of element-wise additions (vectorised across bars, never a
library reduction whose order could change). Returns are divided by the recent volatility, so
features are dimensionless and comparable across bar sizes (daily vs 15-minute nodes).

Row ``i`` of the feature matrix describes bar ``WARMUP + i`` and reads only bars at or before it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from flchain.market import OHLCV
from flchain.market.benchmark import WARMUP
from flchain.model.config import FEATURE_SETS, N_FEATURES, ModelConfig
from flchain.model.errors import ModelError

F64 = npt.NDArray[np.float64]

CLIP = 5.0  # features are clipped to [-CLIP, CLIP]: one crazy bar must not dominate
EPS = 1e-12


def _trailing_sum(a: F64, end: int, stop: int, window: int) -> F64:
    """``s[t] = a[t] + a[t-1] + … + a[t-window+1]`` for t in [end, stop), added left to right
    starting from the newest term, element-wise across t."""
    acc = a[end:stop].copy()
    for k in range(1, window):
        acc = acc + a[end - k : stop - k]
    return acc


def _one_bar_returns(close: F64) -> F64:
    r = np.zeros_like(close)
    r[1:] = close[1:] / close[:-1] - 1.0
    return r


def feature_matrix(bars: OHLCV, config: ModelConfig) -> F64:
    """Features of every bar from ``WARMUP`` on: shape ``(len(bars) - WARMUP, N_FEATURES)``.

    @raise ModelError if there are not more than ``WARMUP`` bars
    """
    n = len(bars)
    if n <= WARMUP:
        raise ModelError(
            f"{n} bars are too few for the {WARMUP}-bar feature warm-up; need more than {WARMUP}"
        )
    lookbacks = config.lookbacks
    vol_window = config.vol_window
    if max(max(lookbacks), vol_window) > WARMUP:  # pragma: no cover - guarded by config bounds
        raise ModelError("lookbacks exceed the protocol warm-up")
    close, high, low, volume = bars.close, bars.high, bars.low, bars.volume
    s = slice(WARMUP, n)
    r1 = _one_bar_returns(close)
    sq = r1 * r1
    sigma = np.sqrt(_trailing_sum(sq, WARMUP, n, vol_window) / float(vol_window))
    short = lookbacks[1]
    sigma_short = np.sqrt(_trailing_sum(sq, WARMUP, n, short) / float(short))
    c = close[s]

    def ret(lb: int) -> F64:
        past = close[WARMUP - lb : n - lb]
        out: F64 = (c / past - 1.0) / (sigma * math.sqrt(lb) + EPS)
        return out

    def ma_gap(lb: int) -> F64:
        mean = _trailing_sum(close, WARMUP, n, lb) / float(lb)
        out: F64 = (c / mean - 1.0) / (sigma * math.sqrt(lb) + EPS)
        return out

    def vol_ratio() -> F64:
        out: F64 = sigma_short / (sigma + EPS) - 1.0
        return out

    def volume_feature() -> F64:
        mean = _trailing_sum(volume, WARMUP, n, vol_window) / float(vol_window)
        safe = np.where(mean > 0.0, mean, 1.0)
        out: F64 = np.where(mean > 0.0, volume[s] / safe - 1.0, 0.0)
        return out

    def range_pos() -> F64:
        h, lo = high[s], low[s]
        span = h - lo
        safe = np.where(span > 0.0, span, 1.0)
        out: F64 = np.where(span > 0.0, ((c - lo) - (h - c)) / safe, 0.0)
        return out

    cols: list[F64] = []
    for kind, idx in FEATURE_SETS[config.feature_set]:
        if kind == "ret":
            cols.append(ret(lookbacks[idx]))
        elif kind == "ma_gap":
            cols.append(ma_gap(lookbacks[idx]))
        elif kind == "vol_ratio":
            cols.append(vol_ratio())
        elif kind == "volume":
            cols.append(volume_feature())
        else:
            cols.append(range_pos())
    x = np.stack(cols, axis=1)
    assert x.shape[1] == N_FEATURES
    return np.clip(x, -CLIP, CLIP)

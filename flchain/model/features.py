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
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from flchain.market import OHLCV
from flchain.market.benchmark import WARMUP
from flchain.model.config import FEATURE_SETS, N_FEATURES, ModelConfig
from flchain.model.errors import ModelError

F64 = npt.NDArray[np.float64]

CLIP = 5.0  # features are clipped to [-CLIP, CLIP]: one crazy bar must not dominate
EPS = 1e-12


def _trailing_sums(a: F64, end: int, stop: int, windows: Sequence[int]) -> dict[int, F64]:
    """``s_w[t] = a[t] + a[t-1] + … + a[t-w+1]`` for t in [end, stop) and every w in ``windows``,
    added left to right starting from the newest term, element-wise across t.

    The sum over w terms is a prefix of the sum over more terms, so one accumulation serves every
    window: the snapshot after w − 1 additions is exactly the w-term sum (same operations, same
    order, same bits as a separate loop per window).
    """
    wanted = sorted(set(windows))
    acc = a[end:stop].copy()
    out: dict[int, F64] = {}
    for k in range(wanted[-1]):
        if k:
            np.add(acc, a[end - k : stop - k], out=acc)
        if k + 1 in wanted:
            out[k + 1] = acc.copy()
    return out


def _one_bar_returns(close: F64) -> F64:
    r = np.zeros_like(close)
    r[1:] = close[1:] / close[:-1] - 1.0
    return r


def _scaled(num: F64, sigma: F64, lb: int, out: F64) -> F64:
    """``out = (num − 1) / (sigma·√lb + EPS)``, each operation rounded once, in this order."""
    np.subtract(num, 1.0, out=out)
    den = sigma * math.sqrt(lb)
    np.add(den, EPS, out=den)
    np.divide(out, den, out=out)
    return out


def feature_columns(bars: OHLCV, config: ModelConfig) -> F64:
    """Features of every bar from ``WARMUP`` on, one row per feature slot: shape
    ``(N_FEATURES, len(bars) - WARMUP)``, C-contiguous (the layout the reference inference reads).

    Bars with absurd jumps can overflow a return to inf and a feature to NaN; that is defined
    (the reference inference's ReLU comparison turns a NaN pre-activation into 0), so it is not
    warned about.

    @raise ModelError if there are not more than ``WARMUP`` bars
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _feature_columns(bars, config)


def _feature_columns(bars: OHLCV, config: ModelConfig) -> F64:
    n = len(bars)
    if n <= WARMUP:
        raise ModelError(
            f"{n} bars are too few for the {WARMUP}-bar feature warm-up; need more than {WARMUP}"
        )
    lookbacks = config.lookbacks
    vol_window = config.vol_window
    if max(max(lookbacks), vol_window) > WARMUP:  # pragma: no cover - guarded by config bounds
        raise ModelError("lookbacks exceed the protocol warm-up")
    slots = FEATURE_SETS[config.feature_set]
    close, high, low, volume = bars.close, bars.high, bars.low, bars.volume
    s = slice(WARMUP, n)
    r1 = _one_bar_returns(close)
    sq = r1 * r1
    short = lookbacks[1]
    sq_sums = _trailing_sums(sq, WARMUP, n, (short, vol_window))
    sigma = np.sqrt(sq_sums[vol_window] / float(vol_window))
    sigma_short = np.sqrt(sq_sums[short] / float(short))
    gaps = sorted({lookbacks[i] for kind, i in slots if kind == "ma_gap"})
    close_sums = _trailing_sums(close, WARMUP, n, gaps) if gaps else {}
    c = close[s]
    x = np.empty((N_FEATURES, n - WARMUP), dtype=np.float64)
    for row, (kind, idx) in zip(x, slots, strict=True):
        if kind == "ret":
            lb = lookbacks[idx]
            np.divide(c, close[WARMUP - lb : n - lb], out=row)
            _scaled(row, sigma, lb, row)
        elif kind == "ma_gap":
            lb = lookbacks[idx]
            mean = close_sums[lb] / float(lb)
            np.divide(c, mean, out=row)
            _scaled(row, sigma, lb, row)
        elif kind == "vol_ratio":
            np.divide(sigma_short, sigma + EPS, out=row)
            np.subtract(row, 1.0, out=row)
        elif kind == "volume":
            mean = _trailing_sums(volume, WARMUP, n, (vol_window,))[vol_window] / float(vol_window)
            positive = mean > 0.0
            row[:] = np.where(positive, volume[s] / np.where(positive, mean, 1.0) - 1.0, 0.0)
        else:  # range_pos
            h, lo = high[s], low[s]
            span = h - lo
            positive = span > 0.0
            row[:] = np.where(positive, ((c - lo) - (h - c)) / np.where(positive, span, 1.0), 0.0)
    np.clip(x, -CLIP, CLIP, out=x)
    return x


def feature_matrix(bars: OHLCV, config: ModelConfig) -> F64:
    """Features of every bar from ``WARMUP`` on: shape ``(len(bars) - WARMUP, N_FEATURES)``
    (the row-per-bar layout training reads; the same numbers as `feature_columns`).

    @raise ModelError if there are not more than ``WARMUP`` bars
    """
    return np.ascontiguousarray(feature_columns(bars, config).T)

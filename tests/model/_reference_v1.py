"""The reference inference exactly as it was before the speed work (commit d8b54f8), kept only
for tests: the fast path in `flchain.model` must give the same float64 bits and positions.

Do not import this from `flchain`; do not "improve" it — it is the specification by example.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from flchain.market import OHLCV
from flchain.market.benchmark import WARMUP, signal_count
from flchain.model.config import FEATURE_SETS, N_FEATURES, ModelConfig
from flchain.model.errors import ModelError
from flchain.model.network import check_weights

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


def reference_logits(weights: Mapping[str, np.ndarray], x: F64) -> F64:
    """Logits (rows × 3) by fixed-order element-wise float64 arithmetic (see module doc)."""
    w1 = np.asarray(weights["l1.weight"], dtype=np.float64)
    b1 = np.asarray(weights["l1.bias"], dtype=np.float64)
    w2 = np.asarray(weights["l2.weight"], dtype=np.float64)
    b2 = np.asarray(weights["l2.bias"], dtype=np.float64)
    rows = x.shape[0]
    h = np.broadcast_to(b1, (rows, b1.shape[0])).copy()
    for i in range(w1.shape[1]):
        h = h + x[:, i : i + 1] * w1[:, i][None, :]
    h = np.where(h > 0.0, h, 0.0)
    z = np.broadcast_to(b2, (rows, b2.shape[0])).copy()
    for j in range(w2.shape[1]):
        z = z + h[:, j : j + 1] * w2[:, j][None, :]
    return z


def positions_from_logits(z: npt.NDArray[np.floating]) -> npt.NDArray[np.int8]:
    """Argmax of (short, flat, long) mapped to -1/0/+1; ties go to flat, then long."""
    short, flat, long_ = z[:, 0], z[:, 1], z[:, 2]
    pos = np.zeros(z.shape[0], dtype=np.int8)
    go_long = long_ > flat
    best = np.where(go_long, long_, flat)
    pos[go_long] = 1
    pos[short > best] = -1
    return pos


def reference_positions(
    weights: Mapping[str, np.ndarray], config: ModelConfig, bars: OHLCV
) -> npt.NDArray[np.int8]:
    """Positions in {-1, 0, +1} for every signal bar of ``bars`` — the claim/verification path.

    The result has ``signal_count(bars) = len(bars) - 1 - WARMUP`` entries; entry ``t`` is the
    position decided at the close of bar ``WARMUP + t`` and executed at the next open, so it
    lines up with ``flchain.market.benchmark.exec_prices(bars)``.

    @raise ModelError if the weights do not fit ``config`` or there are too few bars
    """
    check_weights(weights, config)
    t = signal_count(bars)
    if t <= 0:
        raise ModelError(
            f"{len(bars)} bars are too few: need at least {WARMUP + 2} for one signal bar"
        )
    x = feature_matrix(bars, config)[:t]
    return positions_from_logits(reference_logits(weights, x))

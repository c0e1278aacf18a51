"""Seeded inputs for the fast-vs-reference inference tests (shared with the subprocess worker)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from flchain.market import OHLCV, WARMUP
from flchain.model import ModelConfig, init_weights
from flchain.model.network import BLOCK_ROWS

F32 = npt.NDArray[np.float32]


def random_bars(n: int, seed: int, *, wild: bool = False) -> OHLCV:
    """A multiplicative random walk; ``wild`` adds flat stretches, zero volume, zero-range bars
    and price jumps of 1e±300 whose returns overflow (inf / NaN features on purpose)."""
    rng = np.random.default_rng(seed)
    step = 1.0 + rng.normal(0.0, 0.004, n)
    close = 30_000.0 * np.cumprod(step)
    open_ = np.concatenate(([30_000.0], close[:-1]))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.002, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 0.002, n)))
    volume = np.abs(rng.normal(100.0, 30.0, n))
    if wild and n > WARMUP + 60:
        k = rng.integers(WARMUP, n - 20, 6)
        close[k[0] : k[0] + 12] = close[k[0]]  # flat: zero returns and zero sigma
        open_[k[0] : k[0] + 12] = high[k[0] : k[0] + 12] = low[k[0] : k[0] + 12] = close[k[0]]
        volume[k[1] : k[1] + 40] = 0.0
        for j, scale in ((k[2], 1e-300), (k[3], 1e300), (k[4], 1e-300)):
            open_[j], high[j], low[j], close[j] = scale, scale, scale, scale
        volume[k[5]] = 1e300
    ts = 1_600_000_000_000 + 900_000 * np.arange(n, dtype=np.int64)
    return OHLCV.of(ts, open_, high, low, close, volume)


def random_weights(cfg: ModelConfig, seed: int) -> dict[str, F32]:
    """Glorot init plus seeded noise of a seed-chosen scale; some seeds add zeros, -0.0 and
    extreme float32 values so that ties, signed zeros and huge logits are exercised."""
    rng = np.random.default_rng(seed)
    scale = (0.0, 0.05, 0.5, 3.0)[seed % 4]
    out = {
        k: (v + rng.normal(0.0, scale, v.shape)).astype(np.float32)
        for k, v in init_weights(cfg).items()
    }
    if seed % 5 == 1:  # signed zeros: -0.0 pre-activations (ReLU must give +0.0) and logits
        out["l1.bias"][:4] = np.float32(-0.0)
        out["l1.weight"][:4] = np.float32(-0.0)
        out["l2.bias"][:] = np.float32(-0.0)
    if seed % 7 == 2:
        out["l1.weight"][0, 0] = np.float32(3e38)
        out["l2.weight"][1, 0] = np.float32(-3e38)
    if seed % 6 == 3:
        out["l2.weight"][:] = out["l2.weight"][0]  # equal logits: every tie rule is used
        out["l2.bias"][:] = out["l2.bias"][0]
    return out


def cases(count: int) -> Iterator[tuple[str, ModelConfig, dict[str, F32], OHLCV]]:
    """``count`` (label, config, weights, bars) cases over every feature set, every lookback
    scale, several widths, window lengths around the block size and one signal bar."""
    sets = ("momentum", "trend", "mixed")
    lengths = (WARMUP + 2, WARMUP + 1_001, WARMUP + 1 + BLOCK_ROWS, WARMUP + 2 + BLOCK_ROWS, 9_000)
    widths = (1, 16, 37)
    for seed in range(count):
        cfg = ModelConfig(
            feature_set=sets[seed % 3],
            lookback_scale=1 + seed % 4,
            hidden=widths[seed % len(widths)],
            init_seed=seed,
        )
        n = lengths[seed % len(lengths)]
        bars = random_bars(n, 1_000 + seed, wild=seed % 2 == 1)
        yield (
            f"seed{seed}-{cfg.feature_set}-x{cfg.lookback_scale}-h{cfg.hidden}-n{n}",
            cfg,
            (random_weights(cfg, seed)),
            bars,
        )

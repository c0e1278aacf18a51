"""Weights of the network, their seeded initialisation, and the reference inference.

Network: ``x (N_FEATURES) → Linear(hidden) → ReLU → Linear(3) → logits (short, flat, long)``.
Tensor names: ``l1.weight (hidden, N_FEATURES)``, ``l1.bias (hidden)``, ``l2.weight (3, hidden)``,
``l2.bias (3)``; float32.

`reference_positions` is the path every ROI claim and every verifier uses. It widens the float32
weights to float64 (exact) and computes each layer as a fixed-order sequence of element-wise
multiply-then-add steps over the inputs (never a matmul, whose BLAS may reorder or fuse), ReLU
as ``h if h > 0 else 0``, and the decision as exact comparisons of logits: the argmax (ties go to
flat, then to long), or — with a decision band (`ModelConfig.decision_band_micro`) — a
hysteresis that leaves the held position only for one whose logit is more than the band above
the held one's, flat before the first scored bar.

It runs on feature columns in blocks of `BLOCK_ROWS` bars with in-place ufuncs into reused
buffers (bars are independent, so blocking changes speed, not bits); tests/model/_reference_v1.py
keeps the straightforward version it must match bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import numpy.typing as npt

from flchain.market import OHLCV
from flchain.market.benchmark import WARMUP, signal_count
from flchain.model.config import N_FEATURES, N_OUTPUTS, ModelConfig
from flchain.model.errors import ModelError
from flchain.model.features import feature_columns

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

TENSOR_NAMES = ("l1.bias", "l1.weight", "l2.bias", "l2.weight")


def weight_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name → shape of every tensor for ``config``."""
    h = config.hidden
    return {
        "l1.bias": (h,),
        "l1.weight": (h, N_FEATURES),
        "l2.bias": (N_OUTPUTS,),
        "l2.weight": (N_OUTPUTS, h),
    }


def check_weights(weights: Mapping[str, np.ndarray], config: ModelConfig) -> None:
    """Refuse weights whose names, shapes or dtype do not fit ``config``, or non-finite values."""
    shapes = weight_shapes(config)
    if set(weights) != set(shapes):
        extra = sorted(set(weights) - set(shapes))
        missing = sorted(set(shapes) - set(weights))
        raise ModelError(
            f"weights do not match the model config (missing {missing or 'none'}, "
            f"unexpected {extra or 'none'})"
        )
    for name, shape in shapes.items():
        w = np.asarray(weights[name])
        if w.shape != shape:
            raise ModelError(
                f"tensor {name} has shape {w.shape}, config (hidden={config.hidden}, "
                f"features={N_FEATURES}) needs {shape}"
            )
        if w.dtype != np.float32:
            raise ModelError(f"tensor {name} is {w.dtype}, weights must be float32")
        if not np.all(np.isfinite(w)):
            raise ModelError(f"tensor {name} contains NaN or infinite values")


def uniform_stream(seed: int, count: int) -> F64:
    """``count`` uniforms in [-1, 1) from PCG64(seed) raw 64-bit outputs (a fixed algorithm,
    unlike the distribution methods numpy may change between versions)."""
    bits = np.random.PCG64(seed).random_raw(count)
    u = (np.asarray(bits, dtype=np.uint64) >> np.uint64(11)).astype(np.float64) * (2.0**-53)
    out: F64 = u * 2.0 - 1.0
    return out


def init_weights(config: ModelConfig) -> dict[str, F32]:
    """Glorot-uniform weights and zero biases from ``config.init_seed`` (float32).

    Draws are consumed in sorted tensor-name order, so the result depends only on the config.
    """
    shapes = weight_shapes(config)
    total = sum(int(np.prod(s)) for s in shapes.values())
    u = uniform_stream(config.init_seed, total)
    out: dict[str, F32] = {}
    pos = 0
    for name in TENSOR_NAMES:
        shape = shapes[name]
        size = int(np.prod(shape))
        if name.endswith(".bias"):
            out[name] = np.zeros(shape, dtype=np.float32)
        else:
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            out[name] = (u[pos : pos + size] * limit).astype(np.float32).reshape(shape)
        pos += size
    return out


def perturb_weights(weights: Mapping[str, np.ndarray], seed: int, scale_ppm: int) -> dict[str, F32]:
    """Add seeded uniform noise with std ``scale_ppm``·1e-6 × each tensor's RMS (exploration).

    Deterministic for given inputs; used before local training, not on the verification path.
    """
    out: dict[str, F32] = {}
    offset = 0
    names = sorted(weights)
    total = sum(int(np.asarray(weights[k]).size) for k in names)
    u = uniform_stream(seed, total)
    for name in names:
        w = np.asarray(weights[name], dtype=np.float64)
        noise = u[offset : offset + w.size].reshape(w.shape)
        offset += w.size
        rms = float(np.sqrt(np.mean(w * w))) if w.size else 0.0
        if rms == 0.0:
            rms = 0.01  # zero biases still get a little push
        out[name] = (w + noise * np.sqrt(3.0) * rms * (scale_ppm / 1e6)).astype(np.float32)
    return out


#: Bars per block of the reference forward pass: the block's hidden activations (hidden × 4096
#: float64, 512 KiB at hidden 16) stay in cache. Rows are independent, so the block size changes
#: only speed, never a bit.
BLOCK_ROWS = 4_096


def _logit_blocks(weights: Mapping[str, np.ndarray], cols: F64) -> Iterator[tuple[int, F64]]:
    """Logits block by block: ``(start, z)`` with ``z`` of shape 3 × block for the bars
    ``start …`` of feature columns ``cols`` (N_FEATURES × bars). ``z`` is a reused buffer, valid
    until the next block.

    For every bar and hidden unit j: ``h_j = b1_j + x_0·w1_j0 + x_1·w1_j1 + …`` added left to
    right, each product and each sum rounded once (float64); ``h_j = h_j if h_j > 0 else 0``;
    then ``z_k = b2_k + h_0·w2_k0 + h_1·w2_k1 + …`` the same way. The in-place element-wise
    ufuncs below round exactly like those expressions.
    """
    w1 = np.asarray(weights["l1.weight"], dtype=np.float64)
    b1 = np.asarray(weights["l1.bias"], dtype=np.float64)[:, None]
    w2 = np.asarray(weights["l2.weight"], dtype=np.float64)
    b2 = np.asarray(weights["l2.bias"], dtype=np.float64)[:, None]
    hidden, n_in = w1.shape
    n_out = w2.shape[0]
    rows = cols.shape[1]
    w1_cols = [np.ascontiguousarray(w1[:, i : i + 1]) for i in range(n_in)]
    w2_cols = [np.ascontiguousarray(w2[:, j : j + 1]) for j in range(hidden)]
    block = max(1, min(BLOCK_ROWS, rows))
    h_buf = np.empty((hidden, block), dtype=np.float64)
    t_buf = np.empty((hidden, block), dtype=np.float64)
    z_buf = np.empty((n_out, block), dtype=np.float64)
    u_buf = np.empty((n_out, block), dtype=np.float64)
    for start in range(0, rows, block):
        stop = min(start + block, rows)
        width = stop - start
        h, t = h_buf[:, :width], t_buf[:, :width]
        z, u = z_buf[:, :width], u_buf[:, :width]
        np.multiply(w1_cols[0], cols[0:1, start:stop], out=t)
        np.add(b1, t, out=h)
        for i in range(1, n_in):
            np.multiply(w1_cols[i], cols[i : i + 1, start:stop], out=t)
            np.add(h, t, out=h)
        # `h if h > 0 else 0` without a data-dependent branch: fmax gives 0 for NaN and for
        # negatives (IEEE maxNum), and + 0.0 turns the -0.0 it may keep into +0.0
        np.fmax(h, 0.0, out=h)
        np.add(h, 0.0, out=h)
        np.multiply(w2_cols[0], h[0:1], out=u)
        np.add(b2, u, out=z)
        for j in range(1, hidden):
            np.multiply(w2_cols[j], h[j : j + 1], out=u)
            np.add(z, u, out=z)
        yield start, z


def reference_logits(weights: Mapping[str, np.ndarray], x: F64) -> F64:
    """Logits (rows × 3) of feature rows ``x`` (rows × N_FEATURES) by the fixed-order float64
    arithmetic of the module docstring."""
    cols = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)
    out = np.empty((cols.shape[1], N_OUTPUTS), dtype=np.float64)
    for start, z in _logit_blocks(weights, cols):
        out[start : start + z.shape[1]] = z.T
    return out


def _argmax(
    short: npt.NDArray[np.floating],
    flat: npt.NDArray[np.floating],
    long_: npt.NDArray[np.floating],
    out: npt.NDArray[np.int8] | None = None,
) -> npt.NDArray[np.int8]:
    """Argmax of (short, flat, long) as -1/0/+1; ties go to flat, then long."""
    pos = np.zeros(short.shape[0], dtype=np.int8) if out is None else out
    pos[...] = 0
    go_long = long_ > flat
    best = np.where(go_long, long_, flat)
    pos[go_long] = 1
    pos[short > best] = -1
    return pos


def band_value(band_micro: int) -> float:
    """The decision band in logit units (one correctly rounded division)."""
    return band_micro / 1_000_000


def _map_code(f0: int, f1: int, f2: int) -> int:
    return f0 + 3 * f1 + 9 * f2


# A map of the three held positions (index 0 short, 1 flat, 2 long) to the next ones, coded as
# f(0) + 3 f(1) + 9 f(2) in [0, 27); _COMPOSE[g * 27 + f] is the code of "f, then g".
_MAPS = [(c % 3, c // 3 % 3, c // 9) for c in range(27)]
_COMPOSE = np.array(
    [_map_code(*(g[f[i]] for i in range(3))) for g in _MAPS for f in _MAPS], dtype=np.intp
)


def _hysteresis(
    z: npt.NDArray[np.floating], band: float, state: int, out: npt.NDArray[np.int8]
) -> int:
    """Positions of one block of logits ``z`` (3 × width) under the band, from ``state`` (the
    position held before the block); returns the position held after it.

    Rule, bar by bar: ``a`` = the argmax position (`_argmax`), ``p`` = the position held; move
    to ``a`` only if ``z[a] − z[p] > band`` (one rounded subtraction, one comparison), else keep
    ``p``. Each bar's rule is a map of the held position to the next one (one of 27, coded as a
    small integer); the maps of a block are composed by an exact prefix scan over the table of
    compositions (log₂ width steps), then applied to ``state``: the same result as the
    sequential loop, with no per-bar Python step.
    """
    width = z.shape[1]
    if width == 0:
        return state
    target = _argmax(z[0], z[1], z[2]).astype(np.intp) + 1  # index 0 short, 1 flat, 2 long
    z_target = np.take_along_axis(z, target[None, :], axis=0)[0]
    code = np.zeros(width, dtype=np.intp)
    for held, weight in ((0, 1), (1, 3), (2, 9)):
        moves = (z_target - z[held]) > band
        code += np.where(moves, target, held) * weight
    shift = 1
    while shift < width:  # code[t] becomes "bars 0 … t in order", the doubling way
        code[shift:] = _COMPOSE[code[shift:] * 27 + code[:-shift]]
        shift *= 2
    after = code // (3 ** (state + 1)) % 3  # the map's value at the state held before bar 0
    out[...] = after - 1
    return int(out[-1])


def positions_from_logits(z: npt.NDArray[np.floating], band_micro: int = 0) -> npt.NDArray[np.int8]:
    """Positions from logits (rows × 3: short, flat, long): the argmax with ties to flat, then
    long when ``band_micro`` is 0; else the hysteresis of `_hysteresis` from flat."""
    if band_micro == 0:
        return _argmax(z[:, 0], z[:, 1], z[:, 2])
    out = np.empty(z.shape[0], dtype=np.int8)
    _hysteresis(np.ascontiguousarray(z.T), band_value(band_micro), 0, out)
    return out


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
    pos = np.empty(t, dtype=np.int8)
    band = band_value(config.decision_band_micro)
    held = 0  # flat before the first scored bar
    for start, z in _logit_blocks(weights, feature_columns(bars, config)[:, :t]):
        block = pos[start : start + z.shape[1]]
        if config.decision_band_micro == 0:
            _argmax(z[0], z[1], z[2], out=block)
        else:
            held = _hysteresis(z, band, held, block)
    return pos

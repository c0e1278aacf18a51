"""Local training with PyTorch, and torch inference (for tests and speed, never for claims).

Reproducibility on one machine: the shuffle uses a private `torch.Generator` seeded from the
caller's seed (the global RNG is neither read nor changed), deterministic algorithms are
enforced and training runs on one intra-op thread, so the same base weights, config, data and
seed give the same float32 weights. (Bit-identity *across* machines is not needed here: the
merge verifies claims with `reference_positions`, not by retraining.)
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from flchain.market import OHLCV
from flchain.market.benchmark import WARMUP, signal_count
from flchain.model.config import N_FEATURES, N_OUTPUTS, ModelConfig
from flchain.model.errors import ModelError
from flchain.model.features import feature_matrix
from flchain.model.network import (
    check_weights,
    init_weights,
    perturb_weights,
    positions_from_logits,
)

F32 = npt.NDArray[np.float32]

# A forward move smaller than this many volatility units is labelled "flat": trading it would
# mostly pay fees.
LABEL_THRESHOLD = 0.5
# Exponent of the inverse-frequency class weights (0 = plain cross-entropy, 1 = balanced).
CLASS_BALANCE = 0.0


class TradingNet(nn.Module):
    """``Linear(N_FEATURES, hidden) → ReLU → Linear(hidden, 3)``; names match the weights."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.l1 = nn.Linear(N_FEATURES, hidden)
        self.l2 = nn.Linear(hidden, N_OUTPUTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2(torch.relu(self.l1(x)))


def to_module(weights: Mapping[str, np.ndarray], config: ModelConfig) -> TradingNet:
    check_weights(weights, config)
    net = TradingNet(config.hidden)
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in weights.items()}
    net.load_state_dict(state, strict=True)
    return net


def export_weights(net: TradingNet) -> dict[str, F32]:
    """The module's parameters as name → float32 numpy arrays (copies)."""
    return {
        k: v.detach().cpu().numpy().astype(np.float32).copy() for k, v in net.state_dict().items()
    }


#: torch's deterministic-algorithms flag is process-wide (and so is MKL's thread count; OpenMP's
#: is per thread), while the simulation trains nodes on several threads at once: the first
#: thread in saves and sets them, the last one out restores them, so no node trains under
#: another node's restore. Each thread still sets its own OpenMP count on the way in.
_TORCH_SETTINGS_LOCK = threading.Lock()
_torch_users = 0
_torch_before: tuple[int, bool] = (1, False)


def _use_deterministic_algorithms(mode: bool) -> None:
    """`torch.use_deterministic_algorithms(mode)` for eager code. The public function also sets
    `torch.compile`'s flag, importing torch._inductor to do it (~0.9 s, a fifth of the first
    training's cost in a process); nothing here compiles, so unless something else imported
    it already, only the eager operators' flag is set."""
    if "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(mode)
    else:
        torch._C._set_deterministic_algorithms(mode, warn_only=False)


class _Adam:
    """`torch.optim.Adam(params, lr)` with its defaults (betas 0.9/0.999, eps 1e-8, no weight
    decay, no amsgrad) as it runs on CPU — the single-tensor update, `_single_tensor_adam`,
    operation for operation, so the same float32 weights — without torch.optim's `Optimizer`,
    whose constructor and `step` import torch._dynamo (~1.2 s, a third of the first training's
    cost in a process). `tests/model/test_adam.py` compares the two bit for bit."""

    __slots__ = ("_avg", "_avg_sq", "_lr", "_params", "_steps")

    _BETA1: Final = 0.9
    _BETA2: Final = 0.999
    _EPS: Final = 1e-8

    def __init__(self, params: Iterable[nn.Parameter], lr: float) -> None:
        self._params = list(params)
        self._lr = float(lr)
        self._avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self._params]
        self._avg_sq = [
            torch.zeros_like(p, memory_format=torch.preserve_format) for p in self._params
        ]
        # torch counts in a float32 tensor per parameter and reads it back with .item(): the
        # same float as this integer's below 2**24 steps
        self._steps = [0] * len(self._params)

    def zero_grad(self) -> None:
        for p in self._params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2, lr, eps = self._BETA1, self._BETA2, self._lr, self._EPS
        for i, param in enumerate(self._params):
            grad = param.grad
            if grad is None:  # torch leaves a parameter without a gradient (and its count) alone
                continue
            self._steps[i] += 1
            step = float(self._steps[i])
            self._avg[i].lerp_(grad, 1 - beta1)
            self._avg_sq[i].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5
            denom = (self._avg_sq[i].sqrt() / bias_correction2_sqrt).add_(eps)
            param.addcdiv_(self._avg[i], denom, value=-step_size)


@contextlib.contextmanager
def _deterministic_torch() -> Iterator[None]:
    global _torch_users, _torch_before
    with _TORCH_SETTINGS_LOCK:
        if _torch_users == 0:
            _torch_before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
            _use_deterministic_algorithms(True)
        _torch_users += 1
        torch.set_num_threads(1)
    try:
        yield
    finally:
        with _TORCH_SETTINGS_LOCK:
            _torch_users -= 1
            if _torch_users == 0:
                threads, was_det = _torch_before
                _use_deterministic_algorithms(was_det)
                torch.set_num_threads(threads)


def training_set(bars: OHLCV, config: ModelConfig) -> tuple[F32, npt.NDArray[np.int64]]:
    """Features and labels (0 short, 1 flat, 2 long) for every bar with a full label horizon.

    The label looks at the return from the next open (where a position would execute) to the
    open ``label_horizon`` bars later, net of a round trip's fees at ``label_fee_ppm`` a side
    (0: fees ignored), in units of recent volatility: long if the long trade's net return is
    above `LABEL_THRESHOLD`, short if the short trade's is, else flat.
    """
    h = config.label_horizon
    usable = signal_count(bars) - h
    if usable <= 0:
        raise ModelError(
            f"{len(bars)} bars are too few to train: need more than {WARMUP + 1 + h} "
            f"(warm-up {WARMUP} + label horizon {h})"
        )
    x = feature_matrix(bars, config)[:usable]
    entry = bars.open[WARMUP + 1 : WARMUP + 1 + usable]
    exit_ = bars.open[WARMUP + 1 + h : WARMUP + 1 + h + usable]
    fwd = exit_ / entry - 1.0
    r1 = np.zeros(len(bars))
    r1[1:] = bars.close[1:] / bars.close[:-1] - 1.0
    vol = np.sqrt(
        np.convolve(r1 * r1, np.ones(config.vol_window), "full")[: len(bars)] / config.vol_window
    )
    scale = vol[WARMUP : WARMUP + usable] * np.sqrt(h) + 1e-12
    cost = 2.0 * config.label_fee_ppm / 1_000_000
    y = np.ones(usable, dtype=np.int64)
    y[(fwd - cost) / scale > LABEL_THRESHOLD] = 2
    y[(-fwd - cost) / scale > LABEL_THRESHOLD] = 0
    return x.astype(np.float32), y


def train(
    base_weights: Mapping[str, np.ndarray] | None,
    config: ModelConfig,
    bars: OHLCV,
    seed: int,
) -> dict[str, F32]:
    """Train locally from ``base_weights`` (or `init_weights(config)` if None) on ``bars``.

    If ``config.perturb_ppm`` > 0 the base is first perturbed with seed ``config.init_seed``, and
    the feature slots of ``config.train_mask`` are zeroed in the training inputs (an
    exploration directive). Adam, cross-entropy, ``config.epochs`` passes of shuffled
    minibatches; the shuffle is seeded by ``seed``.

    @return float32 weights with the same names and shapes as the base
    """
    if seed < 0:
        raise ModelError("training seed must be non-negative")
    start = dict(base_weights) if base_weights is not None else init_weights(config)
    check_weights(start, config)
    if config.perturb_ppm:
        start = perturb_weights(start, config.init_seed, config.perturb_ppm)
    x_np, y_np = training_set(bars, config)
    if config.train_mask:  # an exploration directive's masked slots: no gradient reaches them
        x_np[:, list(config.train_mask)] = 0.0
    with _deterministic_torch():
        net = to_module(start, config)
        x = torch.from_numpy(x_np)
        y = torch.from_numpy(y_np)
        gen = torch.Generator().manual_seed(seed)
        # class weights counter the imbalance between flat and directional labels
        counts = torch.bincount(y, minlength=N_OUTPUTS).to(torch.float32).clamp_min(1.0)
        loss_fn = nn.CrossEntropyLoss(weight=(counts.sum() / (N_OUTPUTS * counts)) ** CLASS_BALANCE)
        opt = _Adam(net.parameters(), lr=config.learning_rate)
        n = x.shape[0]
        for _ in range(config.epochs):
            order = torch.randperm(n, generator=gen)
            for i in range(0, n, config.batch_size):
                idx = order[i : i + config.batch_size]
                opt.zero_grad()
                loss = loss_fn(net(x[idx]), y[idx])
                loss.backward()
                opt.step()
        out = export_weights(net)
    for name, arr in out.items():
        if not np.all(np.isfinite(arr)):
            raise ModelError(f"training diverged: tensor {name} is not finite")
    return out


def torch_positions(
    weights: Mapping[str, np.ndarray],
    config: ModelConfig,
    bars: OHLCV,
    dtype: torch.dtype = torch.float64,
) -> npt.NDArray[np.int8]:
    """Positions from the torch forward pass (same features and decision rule as the reference).

    Used to show that torch and the reference path agree; claims always use the reference.
    """
    t = signal_count(bars)
    if t <= 0:
        raise ModelError(f"{len(bars)} bars are too few: need at least {WARMUP + 2}")
    net = to_module(weights, config).to(dtype)
    x = torch.from_numpy(feature_matrix(bars, config)[:t]).to(dtype)
    with torch.no_grad():
        z = net(x).numpy()
    return positions_from_logits(z, config.decision_band_micro)

"""Training's own Adam (`flchain.model.training._Adam`) is torch.optim.Adam bit for bit, and
training no longer imports torch._dynamo (what torch.optim's `Optimizer` imports, ~1.2 s)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

import numpy as np
import pytest
import torch
from _cases import random_bars, random_weights

from flchain.model import ModelConfig
from flchain.model import training as tr


class _TorchAdam:
    """torch.optim.Adam behind `_Adam`'s two methods."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float) -> None:
        self.opt = torch.optim.Adam(params, lr=lr)

    def zero_grad(self) -> None:
        self.opt.zero_grad(set_to_none=True)

    def step(self) -> None:
        self.opt.step()


CONFIGS = [
    ModelConfig(),
    ModelConfig(learning_rate_ppm=40_000, epochs=7, batch_size=33),
    ModelConfig(learning_rate_ppm=1, epochs=2, batch_size=1000, train_mask=(1, 6)),
    ModelConfig(perturb_ppm=20_000, init_seed=9, epochs=3, batch_size=64),
]


@pytest.mark.parametrize("case", range(len(CONFIGS)))
def test_training_with_our_adam_is_torch_adams_bit_for_bit(
    case: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = CONFIGS[case]
    bars = random_bars(900, seed=case)
    # weight seeds of a modest noise scale and no extreme values (see `random_weights`)
    base = None if case == 0 else random_weights(config, seed=(5, 13, 17)[case - 1])
    ours = tr.train(base, config, bars, seed=case + 11)
    monkeypatch.setattr(tr, "_Adam", _TorchAdam)
    theirs = tr.train(base, config, bars, seed=case + 11)
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert ours[name].tobytes() == theirs[name].tobytes(), name
    assert any(not np.array_equal(ours[n], (base or tr.init_weights(config))[n]) for n in ours)


def test_a_parameter_without_a_gradient_is_left_alone_as_torch_does() -> None:
    used, unused = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    ref_used, ref_unused = (torch.nn.Parameter(p.detach().clone()) for p in (used, unused))
    ours, theirs = tr._Adam([used, unused], lr=0.1), torch.optim.Adam([ref_used, ref_unused], 0.1)
    for k in range(3):
        for p, opt in ((used, ours), (ref_used, theirs)):
            opt.zero_grad()
            (p * torch.tensor([1.0, -2.0, 3.0]) * (k + 1)).sum().backward()
            opt.step()
    assert used.detach().numpy().tobytes() == ref_used.detach().numpy().tobytes()
    assert unused.detach().numpy().tobytes() == ref_unused.detach().numpy().tobytes()


_PROBE = """
import sys
from flchain.model import ModelConfig, train
sys.path.insert(0, sys.argv[1])
from _cases import random_bars
train(None, ModelConfig(epochs=1), random_bars(600, seed=1), seed=3)
print("torch._dynamo" in sys.modules)
"""


def test_training_does_not_import_torch_dynamo() -> None:
    here = str(__import__("pathlib").Path(__file__).parent)
    out = subprocess.run([sys.executable, "-c", _PROBE, here], capture_output=True, text=True,
                         timeout=300, check=True)  # fmt: skip
    assert out.stdout.split() == ["False"], out.stdout + out.stderr

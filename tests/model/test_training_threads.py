"""Training on several threads at once (the simulation's phase-concurrent nodes on anvil) keeps
torch's process-wide settings for as long as any of them trains.

Before: each training saved the deterministic-algorithms flag (process-wide) and the thread
count, set them and restored what it had saved, so a node that finished first switched
deterministic algorithms off while another was still training."""

from __future__ import annotations

import threading

import torch

from flchain.model.training import _deterministic_torch


def test_a_training_that_ends_first_does_not_restore_under_another() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _two_trainings_overlap()
    finally:
        torch.set_num_threads(before)


def _two_trainings_overlap() -> None:
    entered, first_left, done = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[int, bool]] = []

    def second() -> None:
        with _deterministic_torch():
            entered.set()
            first_left.wait(30)
            seen.append((torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()))
        # the last one out restores what was there before either began
        seen.append((torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()))
        done.set()

    with _deterministic_torch():
        worker = threading.Thread(target=second)
        worker.start()
        assert entered.wait(30)
        assert torch.are_deterministic_algorithms_enabled()
    first_left.set()  # the first training is over; the second is still inside
    assert done.wait(30)
    worker.join()
    assert seen == [(1, True), (2, False)]


_PROBE = """
import sys, torch
from flchain.model.training import _deterministic_torch
with _deterministic_torch():
    inside = torch.are_deterministic_algorithms_enabled()
print(inside, torch.are_deterministic_algorithms_enabled(), "torch._inductor" in sys.modules)
"""


def test_training_sets_deterministic_algorithms_without_importing_torch_compile() -> None:
    """In a fresh interpreter: the eager flag is on while training and off after, and
    torch._inductor (what `torch.use_deterministic_algorithms` imports, ~0.9 s, for
    `torch.compile`'s flag) is never imported."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    assert out.stdout.split() == ["True", "False", "False"], out.stdout + out.stderr

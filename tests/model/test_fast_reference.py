"""The fast reference inference gives the same bits as the implementation it replaced.

`_reference_v1` is the reference path as it was before the speed work, kept verbatim as the
specification by example. The fast path (`flchain.model.feature_columns` / block-wise logits)
must match it bit for bit — features, logits and positions — on seeded configs of every feature
set, lookback scale and several widths, on windows around the block size, on bars built to make
features overflow (inf / NaN), and on weights with signed zeros, ties and extreme values; in
this process and in subprocesses at different thread settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import _reference_v1 as v1
import numpy as np
import pytest
from _cases import cases

from flchain.backtest import roi_bps
from flchain.market import signal_count
from flchain.market.benchmark import shipped_window
from flchain.model import (
    ModelConfig,
    feature_matrix,
    init_weights,
    reference_logits,
    reference_positions,
    torch_positions,
    train,
)

CASES = 60

# v1 warns about the overflows the wild bars provoke on purpose
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64).tobytes()


@pytest.mark.parametrize("case", list(cases(CASES)), ids=lambda c: c[0])
def test_fast_path_matches_v1_bit_for_bit(case: tuple) -> None:
    _, cfg, weights, bars = case
    x_new, x_old = feature_matrix(bars, cfg), v1.feature_matrix(bars, cfg)
    assert x_new.shape == x_old.shape
    assert bits(x_new) == bits(x_old)
    t = signal_count(bars)
    assert bits(reference_logits(weights, x_new[:t])) == bits(
        v1.reference_logits(weights, x_old[:t])
    )
    assert np.array_equal(
        reference_positions(weights, cfg, bars), v1.reference_positions(weights, cfg, bars)
    )


def test_cases_exercise_the_hard_paths() -> None:
    """The cases are not all easy: some features are NaN or clipped, every decision occurs."""
    nan_cases = clipped = negative_zero = 0
    seen: set[int] = set()
    for _, cfg, weights, bars in cases(CASES):
        x = v1.feature_matrix(bars, cfg)
        nan_cases += bool(np.isnan(x).any())
        clipped += bool((np.abs(x) == v1.CLIP).any())
        pre = weights["l1.bias"].astype(np.float64)[None, :]  # the hidden pre-activations, as v1
        for i in range(x.shape[1]):
            pre = pre + x[:, i : i + 1] * weights["l1.weight"][:, i].astype(np.float64)[None, :]
        negative_zero += bool(((pre == 0.0) & np.signbit(pre)).any())
        seen |= set(np.unique(v1.reference_positions(weights, cfg, bars)).tolist())
    assert nan_cases >= 5 and clipped >= 20 and negative_zero >= 5 and seen == {-1, 0, 1}


def test_trained_models_on_shipped_windows_match_v1() -> None:
    bars = shipped_window(1).bars
    for seed in range(3):
        cfg = ModelConfig(
            epochs=1, init_seed=seed, feature_set=("momentum", "trend", "mixed")[seed]
        )
        w = train(init_weights(cfg), cfg, shipped_window(3).bars, seed=seed)
        for i in range(4):
            bench = shipped_window(i)
            new = reference_positions(w, cfg, bench.bars)
            assert np.array_equal(new, v1.reference_positions(w, cfg, bench.bars))
            assert roi_bps(bench.exec_prices, new, 1_000) == roi_bps(
                bench.exec_prices, v1.reference_positions(w, cfg, bench.bars), 1_000
            )
        assert np.array_equal(torch_positions(w, cfg, bars), reference_positions(w, cfg, bars))


@pytest.mark.slow
def test_fast_path_identical_across_processes_and_threads() -> None:
    count = 24
    expected = {}
    for label, cfg, weights, bars in cases(count):
        x = v1.feature_matrix(bars, cfg)
        z = v1.reference_logits(weights, x[: signal_count(bars)])
        pos = v1.reference_positions(weights, cfg, bars)
        expected[label] = hashlib.sha256(x.tobytes() + z.tobytes() + pos.tobytes()).hexdigest()
    worker = Path(__file__).with_name("_fast_worker.py")
    for threads in (1, 2):
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(threads),
            "OPENBLAS_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
            "PYTHONPATH": str(worker.parent),
        }
        out = subprocess.run(
            [sys.executable, str(worker), str(threads), str(count)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        got = json.loads(out.stdout.strip().splitlines()[-1])
        assert got.pop("threads") == threads
        assert got == expected

"""DESIGN §4's ROI against vectorbt and backtesting.py (optional `bench` extra) on the same
positions, using the exact peer configurations documented in bench/backtest.py."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from flchain.backtest import fee_from_ppm, roi
from flchain.market import WARMUP, Benchmark
from flchain.market.synthetic import synthetic_bars

BENCH = Path(__file__).resolve().parents[2] / "bench" / "backtest.py"


@pytest.fixture(scope="module")
def bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flchain_bench_backtest", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def case() -> tuple[Benchmark, np.ndarray]:
    """3 000 signal bars and sticky seeded positions (~300 trades, longs, shorts and flips)."""
    bench = Benchmark.from_bars(synthetic_bars(3_000 + WARMUP + 1, seed=11))
    rng = np.random.Generator(np.random.PCG64(5))
    w = np.zeros(3_000, dtype=np.int8)
    for t in range(1, w.shape[0]):
        w[t] = rng.integers(-1, 2) if rng.random() < 0.1 else w[t - 1]
    return bench, w


def _rel(peer: float, ours: float) -> float:
    return abs((1.0 + peer) / (1.0 + ours) - 1.0)


@pytest.mark.parametrize("fee_ppm", [0, 1_000, 20_000])
def test_vectorbt_matches(
    bench_module: ModuleType, case: tuple[Benchmark, np.ndarray], fee_ppm: int
) -> None:
    pytest.importorskip("vectorbt")
    bench, w = case
    fee = fee_from_ppm(fee_ppm)
    ours = roi(bench.exec_prices, w, fee)
    assert _rel(bench_module.vectorbt_roi(bench.exec_prices, w, fee), ours) < 1e-12


@pytest.mark.parametrize("fee_ppm", [0, 1_000])
def test_backtesting_py_matches(
    bench_module: ModuleType, case: tuple[Benchmark, np.ndarray], fee_ppm: int
) -> None:
    pytest.importorskip("backtesting")
    os.environ.setdefault("TQDM_DISABLE", "1")
    bench, w = case
    fee = fee_from_ppm(fee_ppm)
    ours = roi(bench.exec_prices, w, fee)
    frame = bench_module.backtesting_frame(bench.bars)
    assert _rel(bench_module.backtesting_roi(frame, w, fee), ours) < 1e-11


def test_a_shifted_replay_disagrees(
    bench_module: ModuleType, case: tuple[Benchmark, np.ndarray]
) -> None:
    """The comparison can fail: executing one bar late moves the ROI far beyond the tolerance."""
    pytest.importorskip("vectorbt")
    bench, w = case
    fee = fee_from_ppm(1_000)
    late = np.concatenate(([0], w[:-1])).astype(np.int8)
    ours = roi(bench.exec_prices, w, fee)
    assert _rel(bench_module.vectorbt_roi(bench.exec_prices, late, fee), ours) > 1e-6

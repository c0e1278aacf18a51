"""The model: config metadata, seeded init/training, reference vs torch, determinism, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flchain.backtest import roi_bps
from flchain.market import OHLCV, WARMUP, default_benchmark, exec_prices
from flchain.market.benchmark import shipped_window
from flchain.model import (
    FEATURE_SETS,
    N_FEATURES,
    ModelConfig,
    ModelError,
    config_from_metadata,
    config_to_metadata,
    draw_directive,
    feature_matrix,
    init_weights,
    reference_positions,
    torch_positions,
    train,
    validate_directive,
)
from flchain.model.config import MAX_LOOKBACK_SCALE
from flchain.protocol import Directive

NODE = "0x00000000000000000000000000000000000000Aa"


def test_metadata_round_trip_with_directive() -> None:
    d = draw_directive(NODE, b"seed")
    cfg = ModelConfig().following(d, base_digest="0x" + "ab" * 32)
    md = config_to_metadata(cfg)
    assert all(isinstance(v, str) for v in md.values())
    assert config_from_metadata({**md, "other": "x"}) == cfg
    assert config_to_metadata(config_from_metadata(md)) == md


def test_metadata_refuses_garbage() -> None:
    with pytest.raises(ModelError, match="no flchain model config"):
        config_from_metadata({"format": "pt"})
    with pytest.raises(ModelError, match="hidden"):
        config_from_metadata({"flchain.model.hidden": '"wide"'})
    with pytest.raises(ModelError, match="not valid JSON"):
        config_from_metadata({"flchain.model.hidden": "{"})
    with pytest.raises(ModelError, match="unknown feature set"):
        ModelConfig(feature_set="astrology")


def test_every_feature_set_and_scale_gives_same_shapes() -> None:
    bench = default_benchmark()
    for fs in FEATURE_SETS:
        for scale in range(1, MAX_LOOKBACK_SCALE + 1):
            cfg = ModelConfig(feature_set=fs, lookback_scale=scale)
            x = feature_matrix(bench.bars, cfg)
            assert x.shape == (len(bench.bars) - WARMUP, N_FEATURES)
            assert np.all(np.isfinite(x))
            assert {k: v.shape for k, v in init_weights(cfg).items()} == {
                k: v.shape for k, v in init_weights(ModelConfig()).items()
            }


def test_directive_draw_is_deterministic_and_on_menu() -> None:
    a = draw_directive(NODE, b"\x01" * 32)
    assert a == draw_directive(NODE.lower(), b"\x01" * 32).model_copy(update={"node": NODE})
    validate_directive(a)
    others = {draw_directive(NODE, bytes([i]) * 32).init_seed for i in range(8)}
    assert len(others) == 8
    bad = Directive(
        node=NODE,
        feature_set="momentum",
        lookback_scale=9,
        learning_rate_ppm=1000,
        epochs=2,
        init_seed=1,
    )
    with pytest.raises(ModelError, match="lookback_scale"):
        validate_directive(bad)


def test_init_weights_seeded_float32() -> None:
    a, b = init_weights(ModelConfig(init_seed=1)), init_weights(ModelConfig(init_seed=1))
    c = init_weights(ModelConfig(init_seed=2))
    assert all(a[k].dtype == np.float32 for k in a)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["l1.weight"], c["l1.weight"])


def test_reference_positions_line_up_with_exec_prices() -> None:
    bench = default_benchmark()
    cfg = ModelConfig()
    pos = reference_positions(init_weights(cfg), cfg, bench.bars)
    assert pos.dtype == np.int8
    assert set(np.unique(pos)) <= {-1, 0, 1}
    assert pos.shape[0] + 1 == exec_prices(bench.bars).shape[0] == bench.signal_count + 1


def test_same_seed_same_weights_other_seed_differs(btc_train: OHLCV) -> None:
    cfg = ModelConfig(epochs=2)
    base = init_weights(cfg)
    a = train(base, cfg, btc_train, seed=11)
    b = train(base, cfg, btc_train, seed=11)
    c = train(base, cfg, btc_train, seed=12)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in base.items()}


def test_directive_perturbation_changes_the_start(btc_train: OHLCV) -> None:
    cfg = ModelConfig(epochs=0)
    base = init_weights(cfg)
    d = draw_directive(NODE, b"x")
    moved = train(base, cfg.following(d, None).model_copy(update={"epochs": 0}), btc_train, 0)
    assert any(not np.array_equal(base[k], moved[k]) for k in base)
    assert train(base, cfg, btc_train, 0)["l1.weight"].tobytes() == base["l1.weight"].tobytes()


def test_torch_and_reference_agree_on_shipped_data(btc_train: OHLCV) -> None:
    cfg = ModelConfig(epochs=2)
    w = train(init_weights(cfg), cfg, btc_train, seed=5)
    for i in range(4):
        bars = shipped_window(i).bars
        ref = reference_positions(w, cfg, bars)
        assert np.array_equal(ref, torch_positions(w, cfg, bars))
        assert np.count_nonzero(ref) > 0  # a model that never trades would prove nothing


def test_weights_not_matching_config_are_refused() -> None:
    bench = default_benchmark()
    w = init_weights(ModelConfig(hidden=16))
    with pytest.raises(ModelError, match="shape"):
        reference_positions(w, ModelConfig(hidden=8), bench.bars)
    with pytest.raises(ModelError, match="missing"):
        reference_positions(
            {k: v for k, v in w.items() if k != "l2.bias"}, ModelConfig(), bench.bars
        )
    with pytest.raises(ModelError, match="float32"):
        reference_positions(
            {**w, "l2.bias": w["l2.bias"].astype(np.float64)}, ModelConfig(), bench.bars
        )
    bad = w["l1.bias"].copy()
    bad[0] = np.nan
    with pytest.raises(ModelError, match="NaN"):
        reference_positions({**w, "l1.bias": bad}, ModelConfig(), bench.bars)


def test_too_few_bars_are_refused(btc_train: OHLCV) -> None:
    cfg = ModelConfig()
    short = btc_train.slice(0, WARMUP)
    with pytest.raises(ModelError, match="too few"):
        reference_positions(init_weights(cfg), cfg, short)
    with pytest.raises(ModelError, match="too few"):
        train(None, cfg, btc_train.slice(0, WARMUP + 5), seed=0)


@pytest.mark.slow
def test_positions_and_roi_identical_across_processes_and_threads() -> None:
    worker = Path(__file__).with_name("_determinism_worker.py")
    results = []
    for threads in (1, 2):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        out = subprocess.run(
            [sys.executable, str(worker), str(threads)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert results[0]["threads"] == 1 and results[1]["threads"] == 2
    for key in ("positions", "roi_bps", "weights"):
        assert results[0][key] == results[1][key]


@pytest.mark.slow
def test_model_beats_random_policy_on_held_out_windows(btc_train: OHLCV) -> None:
    """Sanity check, not a promise of profit: the median over seeds of the trained model's ROI
    on each held-out window beats the median of random policies on the same window."""
    cfg = ModelConfig(epochs=3)
    rng = np.random.default_rng(0)
    for i in range(2):
        bench = shipped_window(i)
        x = bench.exec_prices
        model_rois = [
            roi_bps(
                x,
                reference_positions(
                    train(init_weights(cfg.model_copy(update={"init_seed": s})), cfg, btc_train, s),
                    cfg,
                    bench.bars,
                ),
                1_000,
            )
            for s in range(3)
        ]
        random_rois = [roi_bps(x, rng.integers(-1, 2, x.shape[0] - 1), 1_000) for _ in range(5)]
        assert np.median(model_rois) > np.median(random_rois)

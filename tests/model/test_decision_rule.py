"""The cost-aware decision rule: hysteresis on the logits, fee-aware labels, defaults = today."""

from __future__ import annotations

import _reference_v1 as v1
import numpy as np
import pytest
from _cases import random_bars, random_weights

from flchain.backtest import stats
from flchain.devnet.federation import genesis_model
from flchain.market import signal_count
from flchain.market.benchmark import shipped_window
from flchain.market.planted import planted_partition, planted_window
from flchain.model import (
    ModelConfig,
    config_from_metadata,
    config_to_metadata,
    init_weights,
    reference_positions,
    torch_positions,
    train,
)
from flchain.model.network import BLOCK_ROWS, band_value
from flchain.model.training import training_set

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def sequential_hysteresis(z: np.ndarray, band_micro: int) -> np.ndarray:
    """The rule as written in the docs, one bar at a time (the specification by example)."""
    band = band_value(band_micro)
    argmax = v1.positions_from_logits(z)
    held, out = 0, np.empty(z.shape[0], dtype=np.int8)
    for t in range(z.shape[0]):
        a = int(argmax[t])
        if z[t, a + 1] - z[t, held + 1] > band:
            held = a
        out[t] = held
    return out


@pytest.mark.parametrize("seed", range(12))
def test_hysteresis_matches_the_sequential_rule(seed: int) -> None:
    n = (1_200, BLOCK_ROWS + 700, 2 * BLOCK_ROWS + 200)[seed % 3]
    cfg = ModelConfig(feature_set=("momentum", "trend", "mixed")[seed % 3], init_seed=seed)
    weights = random_weights(cfg, seed)
    bars = random_bars(n, 50 + seed, wild=seed % 4 == 1)
    z = v1.reference_logits(weights, v1.feature_matrix(bars, cfg)[: signal_count(bars)])
    for band_micro in (1, 50_000, 400_000, 2_000_000):
        banded = cfg.model_copy(update={"decision_band_micro": band_micro})
        got = reference_positions(weights, banded, bars)
        assert np.array_equal(got, sequential_hysteresis(z, band_micro)), band_micro


def test_band_zero_is_todays_rule_and_metadata_bytes_do_not_change() -> None:
    cfg = ModelConfig()
    v1_fields = {
        "version", "feature_set", "lookback_scale", "hidden", "learning_rate_ppm", "epochs",
        "batch_size", "label_horizon", "init_seed", "perturb_ppm", "base_digest", "directive",
    }  # fmt: skip
    assert {k.removeprefix("flchain.model.") for k in config_to_metadata(cfg)} == v1_fields
    # the genesis models' bytes are those they had before the new fields existed
    assert genesis_model(0).digest == (
        "0x92d663795c50874f20fc00a1d1b5c5c20571d5603048a108f1e6ee853967186b"
    )
    assert genesis_model(5).digest == (
        "0x501f12be46ce6b93deade2465319304697987faa7fbf916b0d919852d29465ff"
    )
    banded = cfg.model_copy(update={"decision_band_micro": 700_000, "label_fee_ppm": 1_000})
    md = config_to_metadata(banded)
    assert md["flchain.model.decision_band_micro"] == "700000"
    assert (
        config_from_metadata(md) == banded and config_from_metadata(config_to_metadata(cfg)) == cfg
    )
    bench = shipped_window(0)
    w = random_weights(cfg, 2)
    assert np.array_equal(
        reference_positions(w, cfg, bench.bars), v1.reference_positions(w, cfg, bench.bars)
    )


def test_a_band_trades_less_and_torch_agrees() -> None:
    cfg = ModelConfig(epochs=2)
    bars, _ = planted_partition("0x" + "11" * 20, 0)
    w = train(init_weights(cfg), cfg, bars, seed=4)
    bench = planted_window(0, 0)
    trades = []
    for band_micro in (0, 250_000, 1_000_000, 4_000_000):
        banded = cfg.model_copy(update={"decision_band_micro": band_micro})
        pos = reference_positions(w, banded, bench.bars)
        assert np.array_equal(pos, torch_positions(w, banded, bench.bars))
        trades.append(stats(bench.exec_prices, pos, 1_000).trades)
    assert trades == sorted(trades, reverse=True) and trades[-1] < trades[0]


def test_fee_aware_labels_move_marginal_bars_to_flat() -> None:
    bars, _ = planted_partition("0x" + "22" * 20, 1)
    _, y0 = training_set(bars, ModelConfig())
    _, y1 = training_set(bars, ModelConfig(label_fee_ppm=1_000))
    flat0, flat1 = np.count_nonzero(y0 == 1), np.count_nonzero(y1 == 1)
    assert flat1 > flat0
    # a bar labelled long or short with fees counted was labelled the same way without them
    moved = y1 != 1
    assert np.array_equal(y1[moved], y0[moved])

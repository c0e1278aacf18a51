"""Coherent exploration: a directive keeps the meaning of every weight, and every update is
scored under the config it will be merged into (the global model's)."""

from __future__ import annotations

import numpy as np

from flchain.backtest import roi_bps
from flchain.devnet.federation import genesis_model
from flchain.market.benchmark import shipped_window
from flchain.market.partition import node_partition
from flchain.merge.core import Candidate, Notes, follows_directive, verify_roi_claims
from flchain.model import (
    N_FEATURES,
    ModelConfig,
    config_from_metadata,
    config_to_metadata,
    directive_mask,
    directive_menu,
    draw_directive,
    init_weights,
    perturb_weights,
    reference_positions,
    train,
)
from flchain.model.config import DEFAULT_PERTURB_PPM, MASKED_FEATURES
from flchain.node.update import UpdateInputs, prepare_update
from flchain.protocol import Directive, GlobalModel, Reveal, RevealOutcome, Rules
from flchain.storage.weights import decode_weights

NODE = "0x00000000000000000000000000000000000000Bb"
BASE = ModelConfig(feature_set="trend", lookback_scale=2, hidden=8, init_seed=3)


def test_the_menu_offers_only_what_keeps_the_meaning_of_weights() -> None:
    menu = directive_menu(BASE)
    assert menu.feature_sets == ("trend",) and menu.lookback_scales == (2,)
    assert len(menu.learning_rates_ppm) > 1 and len(menu.epochs) > 1
    seeds = [bytes([i]) * 32 for i in range(40)]
    drawn = [draw_directive(NODE, s, menu) for s in seeds]
    assert {(d.feature_set, d.lookback_scale) for d in drawn} == {("trend", 2)}
    masks = {directive_mask(d) for d in drawn}
    assert len(masks) > 10  # the mask varies with the seed
    assert all(len(m) == MASKED_FEATURES and m == tuple(sorted(set(m))) for m in masks)
    assert all(0 <= k < N_FEATURES for m in masks for k in m)
    # the other choices are drawn as before (each field has its own label)
    assert [d.init_seed for d in drawn] == [draw_directive(NODE, s).init_seed for s in seeds]


def test_following_never_changes_feature_set_or_lookback() -> None:
    old = Directive(  # a directive from the old menu, naming another feature set
        node=NODE,
        feature_set="mixed",
        lookback_scale=4,
        learning_rate_ppm=10_000,
        epochs=2,
        init_seed=77,
    )
    cfg = BASE.following(old, base_digest="0x" + "cd" * 32)
    assert (cfg.feature_set, cfg.lookback_scale, cfg.hidden) == ("trend", 2, 8)
    assert cfg.train_mask == directive_mask(old)
    assert (cfg.learning_rate_ppm, cfg.epochs, cfg.init_seed) == (10_000, 2, 77)
    assert cfg.perturb_ppm == DEFAULT_PERTURB_PPM
    assert follows_directive(cfg, old)
    assert not follows_directive(cfg.model_copy(update={"train_mask": ()}), old)
    assert config_from_metadata(config_to_metadata(cfg)) == cfg
    assert "flchain.model.train_mask" not in config_to_metadata(BASE)  # default: bytes unchanged


def test_masked_slots_get_no_gradient() -> None:
    bars, _ = node_partition(NODE, 0)
    d = draw_directive(NODE, b"\x05" * 32, directive_menu(BASE))
    cfg = BASE.following(d, None)
    base = init_weights(BASE)
    out = train(base, cfg, bars, seed=9)
    start = perturb_weights(base, cfg.init_seed, cfg.perturb_ppm)
    mask = list(cfg.train_mask)
    others = [k for k in range(N_FEATURES) if k not in mask]
    assert np.array_equal(out["l1.weight"][:, mask], start["l1.weight"][:, mask])
    assert not np.array_equal(out["l1.weight"][:, others], start["l1.weight"][:, others])


def test_updates_are_scored_under_the_base_config() -> None:
    bench = shipped_window(2)
    rules = Rules(fee_ppm=1_000, roi_tolerance_bps=0)
    weights = perturb_weights(init_weights(BASE), 12, 300_000)
    declared = BASE.model_copy(update={"feature_set": "momentum", "lookback_scale": 1})
    under_base = roi_bps(bench.exec_prices, reference_positions(weights, BASE, bench.bars), 1_000)
    under_own = roi_bps(
        bench.exec_prices, reference_positions(weights, declared, bench.bars), 1_000
    )
    assert under_base != under_own  # the config matters for these weights on this window
    for claim, passes in ((under_base, True), (under_own, False)):
        reveal = Reveal(
            round=0, node=NODE, update_digest="0x" + "00" * 32, cid="b", base_digest="0x" + "00" * 32,
            roi_bps=claim, salt="0x" + "00" * 32, outcome=RevealOutcome.ACCEPTED,
        )  # fmt: skip
        candidate = Candidate(reveal=reveal, tensors=weights, config=declared, norm_micro=0)
        notes = Notes()
        kept = verify_roi_claims([candidate], bench, rules, notes, BASE)
        assert notes.recomputed_roi_bps[NODE] == under_base
        assert (kept == [candidate]) is passes


def test_an_honest_follower_claims_what_the_merge_recomputes() -> None:
    genesis = genesis_model(config=BASE)
    bench = shipped_window(0)
    rules = Rules(fee_ppm=1_000, roi_tolerance_bps=0)
    d = draw_directive(NODE, b"\x09" * 32, directive_menu(BASE))
    inputs = UpdateInputs(
        chain_id=1, contract="0x" + "11" * 20, round=1, node=NODE,
        base=GlobalModel(round=0, digest=genesis.digest, cid=genesis.cid),
        base_weights=genesis.payload, directive=d, bars=node_partition(NODE, 1)[0],
        rules=rules, benchmark=bench, seed=5,
    )  # fmt: skip
    update = prepare_update(inputs)
    assert follows_directive(update.config, d)
    tensors, _ = decode_weights(update.payload)
    recomputed = roi_bps(bench.exec_prices, reference_positions(tensors, BASE, bench.bars), 1_000)
    assert update.roi_bps == recomputed

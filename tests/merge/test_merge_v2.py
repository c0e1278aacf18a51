"""The v2 merge on real model/market/storage code: reasons of the v2 steps, the settlement table,
the prior it starts from, the result nodes attest (docs/merge.md "Protocol v2")."""

from __future__ import annotations

import json
import random

import pytest
from _scenario import Update, as_pickle, base_bytes, node, with_extra_tensor, with_nan
from _scenario_v2 import (
    CHAIN_ID,
    CONTRACT,
    RESERVED,
    ROUND,
    UpdateV2,
    World,
    build_v2,
    invalid_post,
    v2_rules,
    valid_post,
)
from eth_utils import to_checksum_address

from flchain.merge import PENALISED_REASONS, MergeInputError, Reason
from flchain.merge.settlement import next_score
from flchain.merge.v2 import MergeResultV2, PriorRound, merge_v2, prior_from_manifest
from flchain.model import ModelConfig, draw_directive
from flchain.protocol import digests as dg
from flchain.protocol.machine import Leaf, RevealOutcome, RulesV2
from flchain.protocol.types import Aggregation
from flchain.storage.cid import cid_for_bytes, parse_cid


def run(world: World) -> MergeResultV2:
    return merge_v2(world.record, world.base, world.benchmark, world.prior)


def address(index: int) -> str:
    return to_checksum_address(node(index))


def reason_of(result: MergeResultV2, index: int) -> Reason:
    (decision,) = [d for d in result.decisions if d.node == address(index)]
    return decision.reason


def leaf_of(result: MergeResultV2, index: int) -> Leaf:
    (leaf,) = [leaf for leaf in result.settlement.leaves if leaf.node == address(index)]
    return leaf


def three(middle: UpdateV2, rules: RulesV2 | None = None) -> World:
    return build_v2([UpdateV2(Update(1, seed=101)), middle, UpdateV2(Update(3, seed=103))], rules)


CASES = {
    "abnormal": (
        UpdateV2(Update(2, seed=102), outcome=RevealOutcome.REJECTED_ABNORMAL_ROI),
        Reason.REJECTED_ON_CHAIN_ABNORMAL_ROI,
    ),
    "ineligible": (
        UpdateV2(Update(2, seed=102), outcome=RevealOutcome.REJECTED_INELIGIBLE),
        Reason.REJECTED_ON_CHAIN_INELIGIBLE,
    ),
    "stale": (UpdateV2(Update(2, seed=102), stale=True), Reason.REJECTED_ON_CHAIN_STALE_BASE),
    "copied": (UpdateV2(Update(2, seed=102), bound_to=(node(1), ROUND)), Reason.UNBOUND_UPDATE),
    "unbound": (UpdateV2(Update(2, seed=102), unbound=True), Reason.UNBOUND_UPDATE),
    "unreadable": (UpdateV2(Update(2, seed=102), unreadable=True), Reason.PAYLOAD_UNREADABLE),
    "nan": (UpdateV2(Update(2, seed=102, spoil_payload=with_nan)), Reason.NON_FINITE),
    "pickle": (UpdateV2(Update(2, seed=102, spoil_payload=as_pickle)), Reason.NOT_SAFETENSORS),
    "extra": (UpdateV2(Update(2, seed=102, spoil_payload=with_extra_tensor)), Reason.EXTRA_TENSOR),
    "norm": (UpdateV2(Update(2, seed=102, scale_ppm=20_000_000)), Reason.NORM_TOO_LARGE),
    "roi": (UpdateV2(Update(2, seed=102, claim_offset=25)), Reason.ROI_NOT_REPRODUCED),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_outcome_and_fault_gets_its_reason_and_its_row(case: str) -> None:
    update, reason = CASES[case]
    rules = v2_rules(norm_bound_micro=5_000_000)
    result = run(three(update, rules))
    assert reason_of(result, 2) == reason
    assert reason_of(result, 1) == reason_of(result, 3) == Reason.ACCEPTED
    penalised = reason in PENALISED_REASONS
    assert (address(2) in result.penalised) == penalised
    leaf = leaf_of(result, 2)
    assert (leaf.cum_penalties, leaf.last_penalty_round) == (
        (1, ROUND + 1) if penalised else (0, 0)
    )
    assert leaf.merged_rounds == 0 and leaf.cum_earned == 0
    entry = next(e for e in json.loads(result.manifest)["inputs"] if e["node"] == address(2))
    assert entry["reason"] == reason.value
    assert entry["payload_length"] == (None if case == "unreadable" else entry["payload_length"])
    # the merge is exactly the merge of the two good updates
    clean = run(build_v2([UpdateV2(Update(1, seed=101)), UpdateV2(Update(3, seed=103))], rules))
    assert result.merged_digest == clean.merged_digest


def test_payload_not_in_calldata_penalised() -> None:
    """security.md row 13: a reveal whose transaction is not a `reveal` call to the contract
    (sent through another contract) cannot be read from calldata; its node chose so."""
    readable = run(three(UpdateV2(Update(2, seed=102))))
    hidden = run(three(UpdateV2(Update(2, seed=102), unreadable=True)))
    assert reason_of(readable, 2) == Reason.ACCEPTED
    assert reason_of(hidden, 2) == Reason.PAYLOAD_UNREADABLE and address(2) in hidden.penalised
    assert leaf_of(hidden, 2).cum_penalties == leaf_of(readable, 2).cum_penalties + 1
    assert address(2) not in hidden.settlement.earned
    entry = next(e for e in json.loads(hidden.manifest)["inputs"] if e["node"] == address(2))
    assert entry["payload_length"] is None and "norm_micro" not in entry


def test_a_byte_for_byte_copy_is_penalised_by_its_binding() -> None:
    """security.md row 8: node 2 reveals node 1's update of the previous round, byte for byte
    (the contract accepts it: nothing on-chain remembers digests). Its metadata names node 1's
    reveal of round ROUND − 1, so the merge penalises it; the same bytes under their own
    reveal are accepted."""
    original = UpdateV2(Update(2, seed=102), bound_to=(node(1), ROUND - 1))
    copy = run(three(original))
    assert reason_of(copy, 2) == Reason.UNBOUND_UPDATE and address(2) in copy.penalised
    assert reason_of(copy, 1) == reason_of(copy, 3) == Reason.ACCEPTED
    (decision,) = [d for d in copy.decisions if d.node == address(2)]
    assert f"{node(1).lower()} in round {ROUND - 1}" in decision.detail
    entry = next(e for e in json.loads(copy.manifest)["inputs"] if e["node"] == address(2))
    assert entry["on_chain_outcome"] == RevealOutcome.ACCEPTED
    for bound_to in [(node(2), ROUND - 1), (node(1), ROUND)]:  # half the binding is not enough
        half = run(three(UpdateV2(Update(2, seed=102), bound_to=bound_to)))
        assert reason_of(half, 2) == Reason.UNBOUND_UPDATE
    own = run(three(UpdateV2(Update(2, seed=102))))
    assert reason_of(own, 2) == Reason.ACCEPTED and not own.penalised


def test_a_binding_with_an_unknown_entry_is_unbound() -> None:
    """No key of the binding's namespace but its two: an update cannot carry a second
    binding that a lenient reader would take instead."""
    extra = {"flchain.update.node2": node(1)}
    update = Update(2, seed=102, extra_metadata=extra)
    world = build_v2([UpdateV2(Update(1, seed=101)), UpdateV2(update)])
    # build_v2 adds the binding on top of extra_metadata: both entries are in the payload
    result = run(world)
    assert reason_of(result, 2) == Reason.UNBOUND_UPDATE


def test_availability_is_the_chains_no_fetch_codes() -> None:
    """security.md row 5: the merge reads payloads from the record, never from storage, so
    no update is ever unavailable or mismatched to a CID a fetcher chose."""
    results = [run(three(u)) for u, _ in CASES.values()]
    reasons = {d.reason for r in results for d in r.decisions}
    assert not reasons & {Reason.CONTENT_UNAVAILABLE, Reason.CID_MISMATCH, Reason.DIGEST_MISMATCH}


def test_settlement_pays_by_weight_and_carries_the_prior() -> None:
    updates = [UpdateV2(Update(i, seed=100 + i)) for i in range(1, 6)]
    updates.append(UpdateV2(Update(6, seed=106), unreadable=True))
    absent = "0x" + "ab" * 20
    world = build_v2(updates, v2_rules(aggregation=Aggregation.MEAN_ROI), extra_nodes=[absent])
    result = run(world)
    doc = json.loads(result.manifest)
    weights = {w["node"]: w["integer"] for w in doc["weights"]}
    total = sum(weights.values())
    assert len(set(weights.values())) > 1, "ROI weights should differ"
    assert result.settlement.earned == {n: RESERVED * w // total for n, w in weights.items()}
    assert result.settlement.round_earned == sum(result.settlement.earned.values()) <= RESERVED
    assert result.settlement.dust == RESERVED - result.settlement.round_earned
    assert result.result.round_earned == result.settlement.round_earned
    prior = {leaf.node: leaf for leaf in world.prior.leaves}
    roi = {e["node"]: e.get("recomputed_roi_bps") for e in doc["inputs"]}
    rows = [n.address for n in world.record.nodes]
    assert [leaf.node for leaf in result.settlement.leaves] == rows
    assert len(prior) == len(rows) - 2  # the last two registered after the base round
    for leaf in result.settlement.leaves:
        before = prior.get(leaf.node, Leaf(leaf.node, leaf.index))
        assert leaf.index == before.index
        if leaf.node in weights:
            assert leaf.cum_earned == before.cum_earned + result.settlement.earned[leaf.node]
            assert leaf.merged_rounds == before.merged_rounds + 1
            assert leaf.score_bps == next_score(
                before.score_bps, before.merged_rounds, roi[leaf.node]
            )
            assert (leaf.cum_penalties, leaf.last_penalty_round) == (
                before.cum_penalties,
                before.last_penalty_round,
            )
        elif leaf.node == address(6):
            assert leaf.cum_penalties == before.cum_penalties + 1
            assert leaf.last_penalty_round == ROUND + 1
            assert (leaf.cum_earned, leaf.merged_rounds) == (before.cum_earned, 0)
        else:
            assert leaf == before  # the node that did not reveal: carried over
    assert leaf_of(result, 6).merged_rounds == 0
    assert to_checksum_address(absent) in {leaf.node for leaf in result.settlement.leaves}


def test_an_unopened_round_pays_nothing_and_still_records() -> None:
    result = run(
        build_v2([UpdateV2(Update(1, seed=101)), UpdateV2(Update(2, seed=102))], reserved=0)
    )
    assert result.settlement.round_earned == 0 and result.settlement.earned == {
        address(1): 0,
        address(2): 0,
    }
    assert leaf_of(result, 1).merged_rounds == 1


def test_nothing_accepted_keeps_the_base_and_settles_the_penalties() -> None:
    world = build_v2(
        [
            UpdateV2(Update(1, seed=101, claim_offset=100)),
            UpdateV2(Update(2, seed=102), stale=True),
        ]
    )
    result = run(world)
    assert result.kept_base and result.merged_weights == base_bytes()
    assert result.result.merged_digest == world.record.base.digest
    assert result.penalised == (address(1),)
    assert result.settlement.round_earned == 0 and result.settlement.dust == RESERVED
    assert leaf_of(result, 1).cum_penalties == 1
    doc = json.loads(result.manifest)
    assert doc["outcome"] == "kept_base" and doc["directives"] == []


def test_the_prior_must_be_the_bases() -> None:
    world = build_v2([UpdateV2(Update(i, seed=100 + i)) for i in range(1, 5)])
    leaves = world.prior.leaves
    assert leaves
    bad = {
        "root": PriorRound(round=ROUND - 1, leaves=(Leaf(leaves[0].node, 0, cum_earned=1),)),
        "round": PriorRound(round=ROUND - 2, leaves=leaves),
        "genesis": PriorRound.genesis(),
    }
    for prior in bad.values():
        with pytest.raises(MergeInputError, match="prior table"):
            merge_v2(world.record, world.base, world.benchmark, prior)
    genesis = build_v2([UpdateV2(Update(1, seed=101))], genesis=True)
    with pytest.raises(MergeInputError, match="genesis"):
        merge_v2(
            genesis.record, genesis.base, genesis.benchmark, PriorRound(round=-1, leaves=leaves)
        )
    assert run(genesis).settlement.leaves[0].merged_rounds == 1
    with pytest.raises(MergeInputError, match="base"):
        merge_v2(world.record, world.base + b" ", world.benchmark, world.prior)


def test_the_next_round_reads_this_manifest_back() -> None:
    seed = b"\x07" * 32
    followed = ModelConfig(hidden=8).following(draw_directive(node(3), seed), None)
    updates = [UpdateV2(Update(i, seed=100 + i)) for i in (1, 2)]
    updates.append(UpdateV2(Update(3, seed=103, config=followed)))
    world = build_v2(
        updates,
        v2_rules(similarity_threshold_ppm=0),
        directives=[draw_directive(node(2), seed), draw_directive(node(3), seed)],
    )
    result = run(world)
    assert reason_of(result, 2) == Reason.IGNORED_DIRECTIVE and address(2) in result.penalised
    assert reason_of(result, 3) == Reason.ACCEPTED
    prior = prior_from_manifest(result.manifest)
    assert prior.round == ROUND
    assert prior.leaves == result.settlement.leaves
    assert prior.directives == result.directives and result.directives
    with pytest.raises(MergeInputError, match="version"):
        prior_from_manifest(json.dumps({"kind": "flchain.merge.manifest", "version": 1}).encode())


def test_the_result_is_what_the_contract_hashes() -> None:
    world = build_v2([UpdateV2(Update(i, seed=100 + i)) for i in range(1, 4)])
    result = run(world)
    r = result.result
    assert r.merged_digest == bytes.fromhex(result.merged_digest[2:])
    assert r.merged_cid == parse_cid(result.merged_cid).to_bytes()
    assert r.manifest_cid == parse_cid(cid_for_bytes(result.manifest)).to_bytes()
    assert r.settlement_root == result.settlement.root
    assert result.result_hash == dg.result_hash_v2(
        CHAIN_ID,
        CONTRACT,
        ROUND,
        r.merged_digest,
        r.merged_cid,
        r.manifest_cid,
        r.settlement_root,
        r.round_earned,
    )
    doc = json.loads(result.manifest)
    assert doc["version"] == 2 and doc["settlement"]["root"] == "0x" + r.settlement_root.hex()
    assert doc["seed"]["value"] == "0x" + result.seed.value.hex()


def test_arrival_order_changes_nothing() -> None:
    updates = [UpdateV2(Update(i, seed=100 + i)) for i in range(1, 7)]
    nodes = [u.node for u in updates]
    posts = [invalid_post(nodes[2], 3), valid_post(nodes[1], 4), valid_post(nodes[0], 5)]
    world = build_v2(
        updates,
        v2_rules(cluster_cap_ppm=400_000, similarity_threshold_ppm=900_000),
        posts=posts,
        directives=[draw_directive(n, b"\x01" * 32) for n in nodes[3:]],
    )
    first = run(world)
    assert first.seed.post == posts[1] and first.seed.refused == (posts[0],)
    for seed in range(3):
        rng = random.Random(seed)
        reveals, shuffled_posts = list(world.record.reveals), list(world.record.beacon_posts)
        directives = list(world.prior.directives)
        for items in (reveals, shuffled_posts, directives):
            rng.shuffle(items)
        record = world.record.model_copy(
            update={"reveals": tuple(reveals), "beacon_posts": tuple(shuffled_posts)}
        )
        prior = world.prior.model_copy(update={"directives": tuple(directives)})
        again = merge_v2(record, world.base, world.benchmark, prior)
        assert again.manifest == first.manifest and again.merged_weights == first.merged_weights
        assert again.result_hash == first.result_hash

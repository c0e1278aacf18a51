"""Settlement (docs/merge.md "Settlement"): the score, the round's earnings, the proofs a node
settles with — and that the reference machine (the contract's spec) accepts every leaf and root
the merge computes, round after round, slashing the penalties it records."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from _machine_v2 import ETH, Chain, Contribution, beacon_round, chain
from _scenario import base_bytes, benchmark
from hypothesis import given
from hypothesis import strategies as st

from flchain.merge import MergeInputError, Reason
from flchain.merge.settlement import (
    SCORE_WINDOW_ROUNDS,
    next_score,
    round_earnings,
    settlement_proof,
)
from flchain.merge.v2 import MergeResultV2, PriorRound, merge_v2, prior_from_manifest
from flchain.protocol import machine as m
from flchain.protocol.merkle import verify_proof

ROI = st.integers(-10_000, 1_000_000)


@given(st.lists(ROI, min_size=1, max_size=40))
def test_score_is_a_trailing_average_within_what_it_has_seen(rois: list[int]) -> None:
    score, seen = 0, []
    for merged, roi in enumerate(rois):
        score = next_score(score, merged, roi)
        seen.append(roi)
        assert min(seen) <= score <= max(seen)
    assert next_score(123, 0, rois[0]) == rois[0]  # the first merged round sets it


def test_score_recovers_from_a_bad_spell() -> None:
    score, merged = 0, 0
    for roi in [-9_000] * 20:
        score, merged = next_score(score, merged, roi), merged + 1
    assert score == -9_000
    trace = []
    for _ in range(100):
        score, merged = next_score(score, merged, 500), merged + 1
        trace.append(score)
    # past the window each round closes 1/8 of the gap (less under 8 bps of rounding)
    keep = Fraction(SCORE_WINDOW_ROUNDS - 1, SCORE_WINDOW_ROUNDS)
    for k, value in enumerate(trace, start=1):
        assert 500 - value <= 9_500 * keep**k + SCORE_WINDOW_ROUNDS
    assert trace[22] > 0, "a −90 % spell is forgotten in about 23 good rounds"
    assert 500 - SCORE_WINDOW_ROUNDS < trace[-1] <= 500
    mean = 0
    for n, roi in enumerate([100, 300, 200], start=0):
        mean = next_score(mean, n, roi)
    assert mean == 200  # within the window it is the running mean (exact here)


@given(
    st.integers(0, 2**128 - 1),
    st.dictionaries(st.text("abcdef", min_size=1, max_size=4), st.integers(1, 2**40), max_size=8),
)
def test_earnings_never_exceed_the_reservation(reserved: int, weights: dict[str, int]) -> None:
    earned = round_earnings(reserved, weights)
    assert sum(earned.values()) <= reserved
    assert set(earned) == set(weights)
    if weights:  # the dust is less than one wei per merged node
        assert reserved - sum(earned.values()) < len(weights)


# --- on the reference machine ---------------------------------------------------------------


def merge_round(
    c: Chain, r: int, base: bytes, prior: PriorRound, contributions: list[Contribution]
) -> MergeResultV2:
    """Round `r` on the machine, a forged beacon post before the real one, then the merge."""
    nodes = c.world.active(r)
    posts = [(nodes[0], beacon_round(c, r) + 1), (nodes[1], beacon_round(c, r))]  # bad, good
    record = c.round(r, base, contributions, posts)
    result = merge_v2(record, base, benchmark(), prior)
    assert result.seed.post is not None and len(result.seed.refused) == 1
    return result


def settle_all(c: Chain, result: MergeResultV2) -> dict[str, list[m.Event]]:
    """Every node settles its own leaf, with the proof a node gets from the manifest."""
    events = {}
    for leaf in result.settlement.leaves:
        got, proof = settlement_proof(result.manifest, leaf.node)
        assert got == leaf
        hashed = leaf.hash(c.state.chain_id, c.state.contract)
        assert verify_proof(result.settlement.root, leaf.index, hashed, proof)
        events[leaf.node] = c.world.call(m.process_settle, leaf.node, leaf, proof)
    return events


def test_the_machine_settles_every_leaf_the_merge_computes() -> None:
    base = base_bytes()
    c = chain(base, nodes=5, emission=ETH + 3)  # 4 equal weights: 3 wei of dust a round
    nodes = list(c.world.nodes)
    cheat = nodes[4]

    # round 0, from genesis: four honest updates, one sent through a contract
    r0 = [Contribution(n, seed=300 + i) for i, n in enumerate(nodes[:4])]
    r0.append(Contribution(cheat, seed=304, through_contract=True))
    first = merge_round(c, 0, base, PriorRound.genesis(), r0)
    late = c.world.register("joins in round 0")  # a row from round 1 on, with no prior leaf
    assert {d.node: d.reason for d in first.decisions}[cheat] == Reason.PAYLOAD_UNREADABLE
    assert first.penalised == (cheat,)
    assert [leaf.node for leaf in first.settlement.leaves] == nodes
    c.finish(0, first.result)
    assert m.get_latest(c.state).settlement_root == first.settlement.root
    settled = settle_all(c, first)
    for leaf in first.settlement.leaves:
        view = m.get_node_view(c.state, leaf.node, c.world.now)
        assert (view.cum_earned, view.cum_penalties, view.merged_rounds, view.score_bps) == (
            leaf.cum_earned,
            leaf.cum_penalties,
            leaf.merged_rounds,
            leaf.score_bps,
        )
        assert view.claimed == 0  # settle records; collect pays
        if leaf.cum_earned:
            (paid,) = c.world.call(m.process_collect, leaf.node)
            assert paid["amount"] == leaf.cum_earned
    penalty = [e for e in settled[cheat] if e.name == "Slashed"]
    assert [e["fault"] for e in penalty] == [m.Fault.PENALTY]
    assert penalty[0]["amount"] == m.RulesV2().penalty_slash_wei  # security.md row 13: 0.1 ETH
    assert m.get_accounts(c.state).claimable == 0  # every earned wei was collected

    # round 1, on round 0's model and table: the late node joins, one claim is not reproduced
    base1 = first.merged_weights
    prior1 = prior_from_manifest(first.manifest)
    r1 = [Contribution(n, seed=400 + i) for i, n in enumerate([*nodes[:3], late])]
    r1.append(Contribution(nodes[3], seed=499, claim_offset=50))
    second = merge_round(c, 1, base1, prior1, r1)
    assert second.penalised == (nodes[3],)
    rows = {leaf.node: leaf for leaf in second.settlement.leaves}
    before = {leaf.node: leaf for leaf in first.settlement.leaves}
    assert rows[late].merged_rounds == 1 and rows[late].cum_earned == second.settlement.earned[late]
    for n in nodes[:3]:
        assert rows[n].cum_earned == before[n].cum_earned + second.settlement.earned[n]
        assert rows[n].merged_rounds == 2
    assert rows[cheat] == before[cheat]  # did not take part: carried over
    c.finish(1, second.result)
    settled = settle_all(c, second)
    assert [e["fault"] for e in settled[nodes[3]] if e.name == "Slashed"] == [m.Fault.PENALTY]
    assert all(e.name != "Collected" for ev in settled.values() for e in ev)  # settle pays none
    collected = 0
    for node in settled:
        if m.get_collectable(c.state, node):
            (paid,) = c.world.call(m.process_collect, node)
            collected += paid["amount"]
    assert collected == second.settlement.round_earned  # round 0's was collected already
    # the pool got back each round's dust and both penalties (applied by the nodes themselves:
    # no bounty); every reserved wei is accounted for
    assert first.settlement.dust == second.settlement.dust == 3
    reserved = 2 * (ETH + 3)
    penalties = 2 * m.RulesV2().penalty_slash_wei
    assert m.get_accounts(c.state).pool == 10 * ETH - reserved + 2 * 3 + penalties


def test_a_proof_comes_only_from_a_consistent_manifest() -> None:
    base = base_bytes()
    c = chain(base, nodes=3)
    contributions = [Contribution(n, seed=500 + i) for i, n in enumerate(c.world.nodes)]
    result = merge_round(c, 0, base, PriorRound.genesis(), contributions)
    doc = json.loads(result.manifest)
    doc["settlement"]["leaves"][1]["cum_earned"] = str(10**30)
    forged = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(MergeInputError, match="root"):
        settlement_proof(forged, c.world.nodes[0])
    with pytest.raises(MergeInputError, match="no leaf"):
        settlement_proof(result.manifest, "0x" + "11" * 20)

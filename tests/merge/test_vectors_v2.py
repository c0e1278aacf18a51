"""Pinned v2 merge vectors: the v2 merge of committed inputs must give the committed bytes.

Every aggregation method, plus the salts-only fallback, on one round of 24 reveals that reaches
every v2 step and reason, with a prior table from the previous round's real manifest and beacon
posts from a fixed devnet key, a forged one first (tests/merge/vectors_v2/, docs/merge.md
"Pinned v2 vectors"). The leaves are checked against the reference machine's settle rules in
tests/merge/test_settlement.py; here against the root they pin.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from _vectors import VectorSuite

from flchain.merge import PENALISED_REASONS, Reason
from flchain.merge.reasons import FORWARD_REASONS, V1_ONLY_REASONS
from flchain.merge.settlement import SCORE_WINDOW_ROUNDS, leaf_from_doc, settlement_root
from flchain.protocol import digests as dg
from flchain.protocol.types import Aggregation
from flchain.storage.cid import cid_for_bytes, parse_cid

VECTORS = Path(__file__).resolve().parent / "vectors_v2"
if str(VECTORS) not in sys.path:
    sys.path.insert(0, str(VECTORS))  # pinned_v2.py is shared with regenerate.py, not a package

import pinned_v2  # noqa: E402
from pinned_v2 import CASES, Case, Inputs  # noqa: E402


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return pinned_v2.load_inputs()  # fails with BenchmarkChanged if the market data moved


SUITE = VectorSuite(
    pinned_v2,
    VECTORS / "pinned_v2.py",
    ("merged_digest", "manifest_cid", "result_hash"),
    "reveals, beacon posts and directives",
)
all_expected = SUITE.all_expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_v2_merge_reproduces_its_vector(inputs: Inputs, case: Case) -> None:
    SUITE.check_reproduced(inputs, case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_shuffled_inputs_reproduce_the_v2_vector(inputs: Inputs, case: Case) -> None:
    SUITE.check_shuffled(inputs, case)


@pytest.mark.slow
def test_separate_processes_with_other_thread_settings_reproduce_the_v2_vectors() -> None:
    SUITE.check_separate_processes()


def test_v2_vector_files_agree_with_each_other(inputs: Inputs) -> None:
    """A hand edit of one file without the others is caught before any merge runs."""
    names = {p.name for p in pinned_v2.EXPECTED.iterdir()}
    assert names == {
        f(c, pinned_v2.EXPECTED).name
        for c in CASES
        for f in (pinned_v2.pinned.summary_path, pinned_v2.pinned.manifest_path)
    }
    record = inputs.record
    for case, summary, manifest in all_expected():
        doc = json.loads(manifest)
        assert cid_for_bytes(manifest) == summary["manifest_cid"], case.title
        assert doc["version"] == 2 and doc["merged"]["digest"] == summary["merged_digest"]
        assert doc["rules"]["aggregation"] == case.aggregation
        assert doc["seed"] == summary["seed"]
        assert [e["reason"] for e in doc["inputs"]] == [d["reason"] for d in summary["decisions"]]
        assert summary["penalised"] == [
            d["node"] for d in summary["decisions"] if Reason(d["reason"]) in PENALISED_REASONS
        ]
        leaves = [leaf_from_doc(leaf) for leaf in summary["leaves"]]
        root = settlement_root(leaves, record.chain_id, record.contract)
        assert "0x" + root.hex() == summary["settlement_root"] == doc["settlement"]["root"]
        earned = sum(int(e["earned"]) for e in summary["earned"])
        assert earned == int(summary["round_earned"]) <= record.reserved
        assert int(summary["dust"]) == record.reserved - earned
        result_hash = dg.result_hash_v2(
            record.chain_id,
            record.contract,
            record.round,
            bytes.fromhex(summary["merged_digest"][2:]),
            parse_cid(summary["merged_cid"]).to_bytes(),
            parse_cid(summary["manifest_cid"]).to_bytes(),
            root,
            earned,
        )
        assert "0x" + result_hash.hex() == summary["result_hash"]


def test_v2_vectors_reach_every_step_and_reason(inputs: Inputs) -> None:
    """What the inputs were built to exercise, so a later regeneration cannot lose it quietly."""
    record, prior = inputs.record, inputs.prior
    cap = Fraction(record.rules.cluster_cap_ppm, 10**6)
    merged: dict[Case, str] = {}
    summaries = {case: summary for case, summary, _ in all_expected()}
    for case, summary in summaries.items():
        merged[case] = summary["merged_digest"]
        reasons = {d["reason"] for d in summary["decisions"]}
        expected = {r.value for r in Reason if r not in V1_ONLY_REASONS | FORWARD_REASONS}
        if case.forward:  # the forward record decides who is merged: its own test below
            wanted = (expected - {Reason.BEYOND_PARTICIPANT_CAP.value}) | {Reason.PROBATION.value}
            assert reasons == wanted, case.title
            continue
        assert reasons == expected, case.title
        share = {w["node"]: Fraction(w["share"]) for w in summary["weights"]}
        if case.aggregation in (Aggregation.MEAN_EQUAL, Aggregation.MEAN_ROI):
            assert any(sum(share[n] for n in c) == cap for c in summary["clusters"] if len(c) > 1)
        assert summary["directives"] and int(summary["dust"]) > 0
        seed = summary["seed"]
        assert len(seed["refused_posts"]) == 1
        if case.fallback:
            assert seed["beacon_post"] is None and seed["randomness"] == "0x" + "00" * 32
        else:
            assert seed["beacon_post"]["block_number"] > seed["refused_posts"][0]["block_number"]
    assert len({merged[c] for c in CASES if not c.fallback | c.forward}) == len(Aggregation)
    # the beacon moves a tie: who of the equal-ROI pair explores next round
    beacon, fallback = (
        summaries[c] for c in (Case(Aggregation.MEAN_EQUAL), Case(Aggregation.MEAN_EQUAL, True))
    )
    assert beacon["directives"] != fallback["directives"]
    assert {d["node"] for d in beacon["directives"]} != {d["node"] for d in fallback["directives"]}
    # the table: every registration, prior rows carried, the late ones new, a prior penalty
    rows = [leaf["node"] for leaf in beacon["leaves"]]
    assert rows == [n.address for n in record.nodes]
    assert 0 < len(prior.leaves) < len(rows)
    assert any(leaf.cum_penalties for leaf in prior.leaves)
    assert prior.directives, "the base manifest assigned directives this round follows"
    revealed = {r.node for r in record.reveals}
    carried = [leaf for leaf in prior.leaves if leaf.node not in revealed and leaf.merged_rounds]
    assert carried, "a node merged before and absent now keeps its row"
    merged_now = {w["node"] for w in beacon["weights"]}
    steady = [leaf for leaf in prior.leaves if leaf.merged_rounds >= SCORE_WINDOW_ROUNDS]
    assert {leaf.node for leaf in steady} & merged_now, "the score's trailing window is reached"


def test_the_forward_vector_scores_round_9_and_the_record_decides() -> None:
    """The forward case (pinned_v2.FORWARD_RULES): round 9's updates scored on its window as
    the excess over the base; a commitment never revealed and an unreadable update the worst;
    the nodes with one scored round merged by their record, the unscored in probation."""
    (case,) = [c for c in CASES if c.forward]
    summary, manifest = pinned_v2.load_expected(case) or pytest.fail("no forward vector")
    window = json.loads(manifest)["forward"]["window"]
    assert window["status"] == "scored" and window["round"] == 9
    reasons = {s["reason"] for s in window["scores"]}
    assert {"scored", "unrevealed", "non_finite"} <= reasons
    worst = [s for s in window["scores"] if s["reason"] != "scored"]
    assert worst and all(s["excess_bps"] == -10_000 for s in worst)
    scored = {r["node"] for r in summary["forward"]["records"]}
    merged = {w["node"] for w in summary["weights"]}
    assert merged and merged <= scored
    probation = {d["node"] for d in summary["decisions"] if d["reason"] == "probation"}
    assert probation and not probation & scored
    plain = pinned_v2.load_expected(Case(case.aggregation))
    assert plain is not None and plain[0]["merged_digest"] != summary["merged_digest"]

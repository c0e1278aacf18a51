"""Pinned merge vectors: the merge of committed inputs must give the committed bytes.

Every aggregation method x similarity metric, on one round of 25 reveals that reaches every
step and every reason code (tests/merge/vectors/, docs/merge.md "Pinned vectors"). Unlike the
determinism tests, which compare two runs with each other, these compare with files: a change
to the merged bytes fails here until the vectors are regenerated and committed on purpose.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from _vectors import VectorSuite

from flchain.merge import PENALISED_REASONS, Reason
from flchain.merge.reasons import V2_ONLY_REASONS
from flchain.protocol import PPM, Aggregation, SimilarityMetric
from flchain.storage.cid import cid_for_bytes

VECTORS = Path(__file__).resolve().parent / "vectors"
if str(VECTORS) not in sys.path:
    sys.path.insert(0, str(VECTORS))  # pinned.py is shared with regenerate.py, not a package

import pinned  # noqa: E402
from pinned import CASES, Case, Inputs  # noqa: E402


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return pinned.load_inputs()  # fails with BenchmarkChanged if the market data moved


SUITE = VectorSuite(
    pinned,
    VECTORS / "pinned.py",
    ("merged_digest", "merged_cid", "manifest_cid"),
    "reveals, payload entries and directives",
)
all_expected = SUITE.all_expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_merge_reproduces_its_vector(inputs: Inputs, case: Case) -> None:
    SUITE.check_reproduced(inputs, case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_shuffled_inputs_reproduce_the_vector(inputs: Inputs, case: Case) -> None:
    SUITE.check_shuffled(inputs, case)


@pytest.mark.slow
def test_separate_processes_with_other_thread_settings_reproduce_the_vectors() -> None:
    SUITE.check_separate_processes()


def test_vector_files_agree_with_each_other() -> None:
    """A hand edit of one file without the others is caught before any merge runs."""
    names = {p.name for p in pinned.EXPECTED.iterdir()}
    assert names == {p(c).name for c in CASES for p in (pinned.summary_path, pinned.manifest_path)}
    for case, summary, manifest in all_expected():
        doc = json.loads(manifest)
        assert cid_for_bytes(manifest) == summary["manifest_cid"], case.title
        assert doc["merged"] == {"digest": summary["merged_digest"], "cid": summary["merged_cid"]}
        assert doc["rules"]["aggregation"] == case.aggregation
        assert doc["rules"]["similarity_metric"] == case.metric
        assert [e["reason"] for e in doc["inputs"]] == [d["reason"] for d in summary["decisions"]]
        assert summary["penalised"] == [
            d["node"] for d in summary["decisions"] if Reason(d["reason"]) in PENALISED_REASONS
        ]


def test_vectors_reach_every_step_and_reason(inputs: Inputs) -> None:
    """What the inputs were built to exercise, so a later regeneration cannot lose it quietly."""
    rules = inputs.record.rules
    cap = Fraction(rules.cluster_cap_ppm, PPM)
    reasons: set[str] = set()
    clusterings = set()
    merged: dict[tuple[Aggregation, SimilarityMetric], str] = {}
    for case, summary, manifest in all_expected():
        merged[case.aggregation, case.metric] = summary["merged_digest"]
        doc = json.loads(manifest)
        reasons |= {d["reason"] for d in summary["decisions"]}
        assert not summary["kept_base"], case.title
        share = {w["node"]: Fraction(w["share"]) for w in summary["weights"]}
        if case.aggregation in (Aggregation.MEAN_EQUAL, Aggregation.MEAN_ROI):
            assert any(sum(share[n] for n in c) == cap for c in summary["clusters"] if len(c) > 1)
        if case.aggregation == Aggregation.MEAN_ROI:
            assert len(set(share.values())) > 2, "ROI weights should differ inside clusters"
        assert summary["directives"], f"{case.title}: no cluster got exploration directives"
        assert len(doc["directives_in_force"]) == len(inputs.directives) >= 2
        clusterings.add(json.dumps(summary["clusters"]))
    assert reasons == {r.value for r in Reason if r not in V2_ONLY_REASONS}
    assert len(clusterings) == 2, "the two metrics should cluster the same round differently"
    for aggregation in (Aggregation.MEAN_EQUAL, Aggregation.MEAN_ROI):
        assert (
            merged[aggregation, SimilarityMetric.BEHAVIOURAL]
            != merged[aggregation, SimilarityMetric.WEIGHT_DELTA]
        ), f"{aggregation.name}: the metric should move the merged bytes through the cap"
    assert len({merged[a, SimilarityMetric.BEHAVIOURAL] for a in Aggregation}) == len(Aggregation)
    # validation and selection do not depend on the case: the last case's decisions stand for all
    kept = [d for d in summary["decisions"] if d["reason"] == Reason.ACCEPTED.value]
    assert len(kept) == rules.max_participants
    assert len(kept) % 2 == 0, "an even count takes the median's midpoint path"
    assert len(kept) * rules.trim_ppm // PPM >= 1, "the trimmed mean should cut something"
    directed = {d.node for d in inputs.directives}
    followed = [d for d in kept if d["node"] in directed]
    ignored = [d for d in summary["decisions"] if d["reason"] == Reason.IGNORED_DIRECTIVE.value]
    assert followed and ignored

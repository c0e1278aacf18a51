"""Similarity, clustering, cluster caps and directive draws: integer/exact decisions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flchain.merge.diversity import (
    behavioural_similarity_ppm,
    cap_cluster_weights,
    cluster_best,
    directive_seed,
    integer_weights,
    quantise_deltas,
    single_linkage_clusters,
    weight_delta_similarity_ppm,
)
from flchain.protocol import PPM

A, B, C, D = ("0x" + c * 40 for c in "abcd")


def test_behavioural_similarity_counts_agreeing_bars() -> None:
    a = np.array([1, 0, -1, 1, 1, 0, 0], np.int8)
    b = np.array([1, 0, 1, 1, -1, 0, 1], np.int8)
    assert behavioural_similarity_ppm(a, b) == 4 * PPM // 7
    assert behavioural_similarity_ppm(a, a) == PPM


def test_weight_delta_cosine_is_exact_and_signed() -> None:
    d = {A: np.array([1.0, 0.0, 0.0]), B: np.array([1.0, 1.0, 0.0]), C: np.array([-2.0, 0.0, 0.0])}
    q, shift = quantise_deltas(d)
    assert weight_delta_similarity_ppm(q[A], q[A]) == PPM
    assert weight_delta_similarity_ppm(q[A], q[B]) == 707_106  # floor(1e6 / sqrt 2)
    assert weight_delta_similarity_ppm(q[A], q[C]) == -PPM
    assert shift > 0


def test_clusters_are_single_linkage_and_canonical() -> None:
    sim = {(A, B): 960_000, (B, C): 951_000, (A, C): 10, (A, D): 0, (B, D): 0, (C, D): 949_999}
    assert single_linkage_clusters([D, C, B, A], sim, 950_000) == ((A, B, C), (D,))
    assert single_linkage_clusters([D, C, B, A], sim, 955_000) == ((A, B), (C,), (D,))


def test_cluster_cap_water_fills_exactly() -> None:
    raw = {A: 1, B: 1, C: 1, D: 1}
    w = cap_cluster_weights(raw, [(A, B, C), (D,)], 500_000)
    assert w == {A: Fraction(1, 6), B: Fraction(1, 6), C: Fraction(1, 6), D: Fraction(1, 2)}
    assert sum(w.values()) == 1
    assert integer_weights(w) == {A: 1, B: 1, C: 1, D: 3}
    # no cap binding
    assert cap_cluster_weights(raw, [(A, B, C), (D,)], PPM) == {n: Fraction(1, 4) for n in raw}
    # infeasible cap: equal share per cluster
    assert cap_cluster_weights(raw, [(A, B, C), (D,)], 400_000)[D] == Fraction(1, 2)


@settings(max_examples=80, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=5),
    cap=st.integers(0, PPM),
    data=st.data(),
)
def test_cluster_cap_invariants(sizes: list[int], cap: int, data: st.DataObject) -> None:
    nodes = [f"0x{i:040x}" for i in range(sum(sizes))]
    clusters, i = [], 0
    for s in sizes:
        clusters.append(tuple(nodes[i : i + s]))
        i += s
    raw = {n: data.draw(st.integers(1, 50)) for n in nodes}
    w = cap_cluster_weights(raw, clusters, cap)
    assert sum(w.values()) == 1
    shares = [sum(w[n] for n in c) for c in clusters]
    if Fraction(cap, PPM) * len(clusters) >= 1:
        assert all(s <= Fraction(cap, PPM) for s in shares)
    else:
        assert all(s == Fraction(1, len(clusters)) for s in shares)


def test_seed_depends_on_every_salt_not_on_order() -> None:
    salts = {A: "0x" + "11" * 32, B: "0x" + "22" * 32}
    s1 = directive_seed(1, A, 3, salts)
    assert s1 == directive_seed(1, A, 3, {B: salts[B], A: salts[A]})
    assert s1 != directive_seed(1, A, 3, {A: salts[A], B: "0x" + "23" * 32})
    assert s1 != directive_seed(1, A, 4, salts)


def test_cluster_best_is_highest_verified_roi_then_lowest_address() -> None:
    roi = {A: 10, B: 30, C: 30, D: 5}
    assert cluster_best([C, A, B], roi) == B
    assert cluster_best([D], roi) == D


def test_mismatched_series_refused() -> None:
    from flchain.merge.errors import MergeInputError

    with pytest.raises(MergeInputError):
        behavioural_similarity_ppm(np.zeros(3, np.int8), np.zeros(4, np.int8))

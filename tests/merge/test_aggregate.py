"""Aggregation arithmetic: exact properties (hypothesis) and agreement with exact references."""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from flchain.merge.aggregate import (
    aggregate_median,
    aggregate_trimmed_mean,
    aggregate_weighted_mean,
    aggregate_weighted_mean_streaming,
    trim_count,
)
from flchain.merge.errors import AggregationError

FINITE_F32 = st.floats(
    width=32, allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6
)
SHAPES = st.sampled_from([(3,), (2, 2), (1,), (4, 1)])


def _address(i: int) -> str:
    # mixed case on purpose: canonical order is by lower-case hex
    return "0x" + f"{i:040x}".upper() if i % 2 else "0x" + f"{i:040x}"


@st.composite
def update_sets(
    draw: st.DrawFn, min_n: int = 1, max_n: int = 7
) -> dict[str, dict[str, np.ndarray]]:
    n = draw(st.integers(min_n, max_n))
    shape_a, shape_b = draw(SHAPES), draw(SHAPES)
    out = {}
    for i in range(n):
        out[_address(i + 1)] = {
            "a": draw(arrays(np.float32, shape_a, elements=FINITE_F32)),
            "b.weight": draw(arrays(np.float32, shape_b, elements=FINITE_F32)),
        }
    return out


def _shuffled(d: dict, seed: int) -> dict:
    keys = list(d)
    random.Random(seed).shuffle(keys)
    return {k: d[k] for k in keys}


def _bits(t: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {k: v.tobytes() for k, v in t.items()}


AGGREGATORS = {
    "mean_equal": lambda u: aggregate_weighted_mean(u, {k: 1 for k in u}),
    "mean_weighted": lambda u: aggregate_weighted_mean(
        u, {k: 3 + 7 * i for i, k in enumerate(sorted(u, key=str.lower))}
    ),
    "median": aggregate_median,
    "trimmed": lambda u: aggregate_trimmed_mean(u, 200_000),
}


@pytest.mark.parametrize("method", sorted(AGGREGATORS))
@settings(max_examples=40, deadline=None)
@given(updates=update_sets(), seed=st.integers(0, 2**32))
def test_permutation_invariance(method: str, updates: dict, seed: int) -> None:
    agg = AGGREGATORS[method]
    assert _bits(agg(updates)) == _bits(agg(_shuffled(updates, seed)))


@pytest.mark.parametrize("method", sorted(AGGREGATORS))
@settings(max_examples=40, deadline=None)
@given(updates=update_sets(min_n=1, max_n=1), weight=st.integers(1, 2**40))
def test_single_update_is_returned_bit_for_bit(method: str, updates: dict, weight: int) -> None:
    (only,) = updates.values()
    if method.startswith("mean"):
        merged = aggregate_weighted_mean(updates, {k: weight for k in updates})
    else:
        merged = AGGREGATORS[method](updates)
    assert _bits(merged) == _bits(only)


@pytest.mark.parametrize("method", sorted(AGGREGATORS))
@settings(max_examples=40, deadline=None)
@given(updates=update_sets(min_n=1, max_n=1), n=st.integers(1, 9))
def test_identical_updates_give_that_update(method: str, updates: dict, n: int) -> None:
    (only,) = updates.values()
    copies = {_address(i + 1): only for i in range(n)}
    assert _bits(AGGREGATORS[method](copies)) == _bits(only)


@settings(max_examples=60, deadline=None)
@given(updates=update_sets(min_n=1, max_n=6), data=st.data())
def test_blocked_and_streaming_mean_give_identical_bits(updates: dict, data: st.DataObject) -> None:
    weights = {k: data.draw(st.integers(1, 2**35)) for k in updates}
    blocked = aggregate_weighted_mean(updates, weights)
    assert _bits(blocked) == _bits(aggregate_weighted_mean_streaming(updates, weights))


def test_median_keeps_negative_zero_and_orders_by_total_order() -> None:
    neg, pos = np.array([-0.0], np.float32), np.array([0.0], np.float32)
    assert np.signbit(aggregate_median({_address(1): {"x": neg}, _address(2): {"x": neg}})["x"][0])
    # -0.0 < +0.0 in totalOrder: odd median of (-0, -0, +0) is -0 in any input order
    three = {_address(1): {"x": pos}, _address(2): {"x": neg}, _address(3): {"x": neg}}
    for seed in range(5):
        assert np.signbit(aggregate_median(_shuffled(three, seed))["x"][0])


@settings(max_examples=60, deadline=None)
@given(updates=update_sets(min_n=2, max_n=6), data=st.data())
def test_weighted_mean_is_the_exact_mean_rounded(updates: dict, data: st.DataObject) -> None:
    weights = {k: data.draw(st.integers(1, 1000)) for k in updates}
    merged = aggregate_weighted_mean(updates, weights)
    total = sum(weights.values())
    for name, got in merged.items():
        flat = got.reshape(-1)
        for j in range(flat.size):
            exact = (
                sum(
                    Fraction(float(updates[k][name].reshape(-1)[j])) * w for k, w in weights.items()
                )
                / total
            )
            # float64 accumulation then one float32 rounding: within 1 float32 ulp of exact
            ref = np.float32(float(exact))
            assert abs(float(flat[j]) - float(ref)) <= float(np.spacing(np.abs(ref))) + 1e-30


def test_median_and_trimmed_match_numpy_on_distinct_values() -> None:
    rng = np.random.default_rng(7)
    ups = {
        _address(i + 1): {"w": rng.standard_normal((50, 3)).astype(np.float32)} for i in range(8)
    }
    stack = np.stack([ups[k]["w"] for k in sorted(ups, key=str.lower)])
    np.testing.assert_array_equal(
        aggregate_median(ups)["w"], np.median(stack.astype(np.float64), axis=0).astype(np.float32)
    )
    k = trim_count(8, 250_000)
    assert k == 2
    ref = np.sort(stack.astype(np.float64), axis=0)[k : 8 - k].mean(axis=0).astype(np.float32)
    np.testing.assert_allclose(aggregate_trimmed_mean(ups, 250_000)["w"], ref, rtol=0, atol=1e-6)


def test_trimmed_mean_drops_outliers() -> None:
    ups = {_address(i + 1): {"w": np.array([1.0], np.float32)} for i in range(9)}
    ups[_address(10)] = {"w": np.array([1e6], np.float32)}
    assert aggregate_trimmed_mean(ups, 100_000)["w"][0] == np.float32(1.0)
    assert aggregate_weighted_mean(ups, {k: 1 for k in ups})["w"][0] > 1000


def test_mismatched_layouts_and_bad_weights_are_refused() -> None:
    a = {_address(1): {"w": np.zeros(3, np.float32)}, _address(2): {"w": np.zeros(4, np.float32)}}
    with pytest.raises(AggregationError, match="tensors"):
        aggregate_weighted_mean(a, {k: 1 for k in a})
    with pytest.raises(AggregationError, match="tensors"):
        aggregate_median(a)
    b = {_address(1): {"w": np.zeros(3, np.float32)}}
    with pytest.raises(AggregationError, match="positive integer"):
        aggregate_weighted_mean(b, {_address(1): 0})
    with pytest.raises(AggregationError, match="exactly"):
        aggregate_weighted_mean(b, {_address(2): 1})
    with pytest.raises(AggregationError, match="zero updates"):
        aggregate_weighted_mean({}, {})
    with pytest.raises(AggregationError, match="float32"):
        aggregate_weighted_mean({_address(1): {"w": np.zeros(3, np.float64)}}, {_address(1): 1})


def test_large_tensor_crosses_chunk_boundaries_exactly() -> None:
    # 3 chunks and a tail: weights 2 and 6 -> (2x + 6y) / 8 computed exactly for dyadic inputs
    size = 3 * (1 << 16) + 17
    x = np.full(size, 0.5, np.float32)
    y = np.full(size, -0.25, np.float32)
    merged = aggregate_weighted_mean(
        {_address(1): {"w": x}, _address(2): {"w": y}}, {_address(1): 2, _address(2): 6}
    )
    assert np.all(merged["w"] == np.float32((2 * 0.5 - 6 * 0.25) / 8))

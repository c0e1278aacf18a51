"""The arithmetic of the merge: how accepted updates are combined (never which ones).

Policy (which updates, which weights) lives in `flchain.merge.core`; this module only turns
updates and integer weights into float32 tensors, bit-identically on every machine:

* Updates are visited in canonical address order, whatever order the mapping has.
* Only element-wise IEEE operations are used (add, multiply, divide, each correctly rounded in
  every numpy build and on every CPU); no `np.sum` / `np.mean` / `np.median` / `np.dot` over the
  update axis, whose reduction order numpy or BLAS may choose.
* Accumulation is in float64; the result is rounded to float32 once, at the end.
* Weights are exact positive integers (numerators over their sum), reduced by their gcd, so one
  update of any weight is reproduced bit for bit.

An update is a mapping tensor name -> float32 array. The `updates` argument may be a lazy
mapping that decodes each update only when it is looked up: the weighted mean looks each one
up once, in canonical order, and drops it before the next, so its memory stays near one model
in float64 plus one input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import NDArray

from flchain.merge.errors import AggregationError
from flchain.protocol import PPM, canonical_address_key

__all__ = [
    "CHUNK_ELEMENTS",
    "Tensors",
    "aggregate_median",
    "aggregate_trimmed_mean",
    "aggregate_weighted_mean",
    "aggregate_weighted_mean_streaming",
    "canonical_keys",
    "trim_count",
]

Tensors = Mapping[str, NDArray[np.float32]]

#: Elements processed per step where a scratch buffer is needed: 64 Ki float64 = 512 KiB, small
#: enough to stay in L2 cache, so the scaled copy of an input never round-trips through RAM.
CHUNK_ELEMENTS = 1 << 16

#: Sign-magnitude float32 bits -> two's-complement order (IEEE totalOrder): -0.0 sorts before
#: +0.0, so a sort has exactly one correct output whatever algorithm (SIMD or not) numpy picks.
_MAGNITUDE_MASK = np.int32(0x7FFFFFFF)


def canonical_keys(keys: Iterable[str]) -> list[str]:
    """Node keys in canonical order (by lower-case address), never by arrival."""
    return sorted(keys, key=canonical_address_key)


def _layout(update: Tensors) -> dict[str, tuple[int, ...]]:
    return {name: tuple(int(d) for d in update[name].shape) for name in sorted(update)}


def _check_same_layout(key: str, update: Tensors, layout: Mapping[str, tuple[int, ...]]) -> None:
    got = _layout(update)
    if got != layout:
        raise AggregationError(f"update {key} has tensors {got}, expected {dict(layout)}")
    for name in layout:
        if update[name].dtype != np.float32:
            raise AggregationError(
                f"update {key} tensor {name!r} is {update[name].dtype}, not float32"
            )


def _reduced_weights(keys: list[str], weights: Mapping[str, int]) -> list[int]:
    if set(weights) != set(keys):
        raise AggregationError("weights must name exactly the updates being aggregated")
    values = [weights[k] for k in keys]
    for k, w in zip(keys, values, strict=True):
        if not isinstance(w, int) or isinstance(w, bool) or w <= 0:
            raise AggregationError(f"weight of {k} must be a positive integer, got {w!r}")
    divisor = math.gcd(*values)
    return [w // divisor for w in values]


def _accumulate_scaled(
    acc: NDArray[np.float64], x: NDArray[np.float32], weight: int, scratch: NDArray[np.float64]
) -> None:
    """acc += weight * x, element by element, in float64."""
    if weight == 1:
        np.add(acc, x, out=acc)
        return
    # float(weight) is exact below 2**53; the product of a float32 and an integer below 2**29
    # is exact in float64, larger ones are still one correctly rounded multiply.
    w = float(weight)
    for start in range(0, acc.size, CHUNK_ELEMENTS):
        stop = min(start + CHUNK_ELEMENTS, acc.size)
        part = scratch[: stop - start]
        np.multiply(x[start:stop], w, out=part, dtype=np.float64)
        np.add(acc[start:stop], part, out=acc[start:stop])


def _flat(array: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.ascontiguousarray(array).reshape(-1)


def _materialise(
    updates: Mapping[str, Tensors],
) -> tuple[list[str], list[Tensors], dict[str, tuple[int, ...]]]:
    keys = canonical_keys(updates.keys())
    if not keys:
        raise AggregationError("cannot aggregate zero updates")
    materialised = [updates[k] for k in keys]
    layout = _layout(materialised[0])
    for key, update in zip(keys, materialised, strict=True):
        _check_same_layout(key, update, layout)
    return keys, materialised, layout


def aggregate_weighted_mean(
    updates: Mapping[str, Tensors], weights: Mapping[str, int]
) -> dict[str, NDArray[np.float32]]:
    """Weighted mean `sum_i w_i x_i / sum_i w_i`, blocked over coordinates.

    For each block of `CHUNK_ELEMENTS` coordinates a float64 accumulator (cache-resident) takes
    `w_i * x_i` for every update in canonical order, then is divided once by the weight total and
    rounded once to float32. Per coordinate this is exactly the sequence of operations of
    `aggregate_weighted_mean_streaming`, so both give the same bits; this one reads each input
    once and never writes a model-sized float64 array, but holds every update at once (free when
    they are zero-copy views of payload bytes, as `decode_weights` returns).

    @param updates node -> tensors.
    @param weights node -> positive integer weight (exact; only ratios matter).
    @return name -> float32 array.
    @raises AggregationError on no updates, bad weights, or mismatched tensor layouts.
    """
    keys, materialised, layout = _materialise(updates)
    numerators = _reduced_weights(keys, weights)
    total = float(sum(numerators))
    scale = [float(w) for w in numerators]
    acc: NDArray[np.float64] = np.empty(CHUNK_ELEMENTS, dtype=np.float64)
    scratch: NDArray[np.float64] = np.empty(CHUNK_ELEMENTS, dtype=np.float64)
    out: dict[str, NDArray[np.float32]] = {}
    for name, shape in layout.items():
        inputs = [_flat(u[name]) for u in materialised]
        size = math.prod(shape)
        result = np.empty(size, dtype=np.float32)
        for start in range(0, size, CHUNK_ELEMENTS):
            stop = min(start + CHUNK_ELEMENTS, size)
            block, part = acc[: stop - start], scratch[: stop - start]
            # block starts as w*x, not 0 + w*x: 0.0 + -0.0 would turn a -0.0 into +0.0
            np.multiply(inputs[0][start:stop], scale[0], out=block, dtype=np.float64)
            for x, w in zip(inputs[1:], scale[1:], strict=True):
                if w == 1.0:
                    np.add(block, x[start:stop], out=block)
                else:
                    np.multiply(x[start:stop], w, out=part, dtype=np.float64)
                    np.add(block, part, out=block)
            if total != 1.0:
                np.divide(block, total, out=block)
            result[start:stop] = block  # the one rounding to float32 (round-to-nearest-even)
        out[name] = result.reshape(shape)
    return out


def aggregate_weighted_mean_streaming(
    updates: Mapping[str, Tensors], weights: Mapping[str, int]
) -> dict[str, NDArray[np.float32]]:
    """Same bits as `aggregate_weighted_mean`, looking each update up once, in canonical order,
    and dropping it before the next: for lazy sources that cannot all be held at once. Memory:
    one model in float64 plus one input.
    """
    keys = canonical_keys(updates.keys())
    if not keys:
        raise AggregationError("cannot aggregate zero updates")
    numerators = _reduced_weights(keys, weights)
    total = sum(numerators)
    layout: dict[str, tuple[int, ...]] = {}
    acc: dict[str, NDArray[np.float64]] = {}
    scratch: NDArray[np.float64] = np.empty(0, dtype=np.float64)
    for index, (key, weight) in enumerate(zip(keys, numerators, strict=True)):
        update = updates[key]
        if index == 0:
            layout = _layout(update)
            acc = {
                name: np.empty(math.prod(shape), dtype=np.float64) for name, shape in layout.items()
            }
            largest = max((a.size for a in acc.values()), default=0)
            scratch = np.empty(min(largest, CHUNK_ELEMENTS), dtype=np.float64)
        _check_same_layout(key, update, layout)
        for name in layout:
            x = _flat(update[name])
            if index == 0:
                # acc starts as w*x, not 0 + w*x: 0.0 + -0.0 would turn a -0.0 into +0.0
                np.multiply(x, float(weight), out=acc[name], dtype=np.float64)
            else:
                _accumulate_scaled(acc[name], x, weight, scratch)
        del update  # a lazy mapping's decoded tensors can go before the next one is decoded
    out: dict[str, NDArray[np.float32]] = {}
    for name, shape in layout.items():
        summed = acc.pop(name)
        if total != 1:
            np.divide(summed, float(total), out=summed)
        out[name] = summed.astype(np.float32).reshape(shape)
        del summed
    return out


def _to_order_keys(block: NDArray[np.float32]) -> NDArray[np.int32]:
    bits = block.view(np.int32)
    bits ^= (bits >> 31) & _MAGNITUDE_MASK
    return bits


def _from_order_keys(keys: NDArray[np.int32]) -> NDArray[np.float32]:
    keys ^= (keys >> 31) & _MAGNITUDE_MASK  # the map is its own inverse
    return keys.view(np.float32)


def _sorted_columns(
    arrays: list[NDArray[np.float32]], start: int, stop: int
) -> NDArray[np.float32]:
    """Rows = updates, columns = coordinates [start, stop), each column sorted ascending."""
    block = np.empty((len(arrays), stop - start), dtype=np.float32)
    for row, arr in enumerate(arrays):
        block[row] = arr[start:stop]
    keys = _to_order_keys(block)
    keys.sort(axis=0)
    return _from_order_keys(keys)


def _coordinatewise(
    updates: Mapping[str, Tensors], pick: str, trim: int
) -> dict[str, NDArray[np.float32]]:
    keys, materialised, layout = _materialise(updates)
    n = len(keys)
    out: dict[str, NDArray[np.float32]] = {}
    for name, shape in layout.items():
        arrays = [_flat(u[name]) for u in materialised]
        size = math.prod(shape)
        result = np.empty(size, dtype=np.float32)
        step = max(1, CHUNK_ELEMENTS // n)
        for start in range(0, size, step):
            stop = min(start + step, size)
            ordered = _sorted_columns(arrays, start, stop)
            if pick == "median":
                result[start:stop] = _middle(ordered, n)
            else:
                result[start:stop] = _mean_of_rows(ordered, trim, n - trim)
        out[name] = result.reshape(shape)
    return out


def _middle(ordered: NDArray[np.float32], n: int) -> NDArray[np.float32]:
    if n % 2 == 1:
        return ordered[n // 2]
    low = ordered[n // 2 - 1].astype(np.float64)
    np.add(low, ordered[n // 2], out=low)
    np.divide(low, 2.0, out=low)
    return low.astype(np.float32)


def _mean_of_rows(ordered: NDArray[np.float32], first: int, stop: int) -> NDArray[np.float32]:
    acc = ordered[first].astype(np.float64)
    for row in range(first + 1, stop):  # row by row: a fixed order, not a library reduction
        np.add(acc, ordered[row], out=acc)
    count = stop - first
    if count != 1:
        np.divide(acc, float(count), out=acc)
    return acc.astype(np.float32)


def aggregate_median(updates: Mapping[str, Tensors]) -> dict[str, NDArray[np.float32]]:
    """Coordinate-wise median (unweighted); for an even count, the float64 midpoint of the two
    middle values rounded once to float32. Values are ordered by IEEE totalOrder (-0.0 < +0.0).

    Needs every update at once (a median cannot stream), processed in column chunks.
    """
    return _coordinatewise(updates, "median", 0)


def trim_count(n: int, trim_ppm: int) -> int:
    """Values cut from each end of a column of `n`: floor(n * trim_ppm / 1e6), integer."""
    if not 0 <= trim_ppm < PPM // 2:
        raise AggregationError(f"trim_ppm must be in [0, {PPM // 2}), got {trim_ppm}")
    return n * trim_ppm // PPM


def aggregate_trimmed_mean(
    updates: Mapping[str, Tensors], trim_ppm: int
) -> dict[str, NDArray[np.float32]]:
    """Coordinate-wise trimmed mean (unweighted): sort each coordinate, drop `trim_count` values
    at each end, average the rest row by row in float64, round once to float32."""
    n = len(updates)
    return _coordinatewise(updates, "trimmed", trim_count(n, trim_ppm))

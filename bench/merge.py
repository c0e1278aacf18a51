"""Benchmark: flchain's deterministic aggregation vs Flower's `aggregate_inplace` vs a floor.

For N updates of P float32 parameters it measures, in one run and on the same inputs:

* flchain `aggregate_weighted_mean` (equal weights, and integer weights 1..N), and
  `aggregate_median` where feasible (P * N <= --median-max elements);
* Flower's real `flwr.server.strategy.aggregate.aggregate_inplace` (FitRes built with
  `ndarrays_to_parameters`, weights = num_examples) if `flwr` imports, else a skip message;
* a memory-bandwidth floor: one pass copying every input into a preallocated buffer.

Inputs are a pool of K distinct seeded updates (K = N when N*P*4 bytes <= --pool-bytes, else
the fewest that exceed the last-level cache many times over); update i is pool[i % K], so
P = 1e7 x N = 100 (4 GB of input) runs in well under 2 GB of RAM. flchain reads each update
lazily through a mapping, as the merge does with decoded payloads (zero-copy views).

Time: best of --repeat runs (wall clock, perf_counter). Peak memory: tracemalloc peak of a
separate run (numpy reports its buffers to tracemalloc); for that run flchain's lazy mapping
hands out a fresh copy of each input so "one input" is counted, as it would be after decoding.

    . .venv/bin/activate && python bench/merge.py            # full grid
    python bench/merge.py --quick                            # P <= 1e6 only
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from flchain.merge.aggregate import (
    Tensors,
    aggregate_median,
    aggregate_weighted_mean,
    aggregate_weighted_mean_streaming,
)

Pool = list[dict[str, NDArray[np.float32]]]


def _address(i: int) -> str:
    return "0x" + f"{i:040x}"


def make_pool(k: int, p: int, seed: int = 0) -> Pool:
    """K seeded updates with two tensors (3/4 and 1/4 of P), like a weight matrix and the rest."""
    rng = np.random.default_rng(seed)
    big = p * 3 // 4
    return [
        {
            "layer.weight": rng.standard_normal(big, dtype=np.float32),
            "layer.other": rng.standard_normal(p - big, dtype=np.float32),
        }
        for _ in range(k)
    ]


class LazyUpdates(Mapping[str, Tensors]):
    """node -> tensors, produced on lookup (a view of the pool, or a copy when `copy`)."""

    def __init__(self, pool: Pool, n: int, copy: bool) -> None:
        self._pool, self._n, self._copy = pool, n, copy
        self._keys = [_address(i + 1) for i in range(n)]
        self._index = {k: i for i, k in enumerate(self._keys)}

    def __getitem__(self, key: str) -> Tensors:
        update = self._pool[self._index[key] % len(self._pool)]
        return {k: v.copy() for k, v in update.items()} if self._copy else update

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return self._n


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        del result
    return best


def peak_bytes(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


def load_flower() -> tuple[Callable[..., Any], Callable[..., Any]] | str:
    try:
        from flwr.common import Code, FitRes, Status, ndarrays_to_parameters
        from flwr.server.strategy.aggregate import aggregate_inplace
    except Exception as exc:  # flwr is an optional extra; any import failure means "skip"
        return f"flwr not importable ({type(exc).__name__}: {exc}); pip install '.[bench]'"

    def build(pool: Pool, n: int, weights: list[int]) -> list[tuple[None, Any]]:
        params = [ndarrays_to_parameters([u["layer.other"], u["layer.weight"]]) for u in pool]
        return [
            (
                None,
                FitRes(
                    status=Status(code=Code.OK, message=""),
                    parameters=params[i % len(pool)],
                    num_examples=weights[i],
                    metrics={},
                ),
            )
            for i in range(n)
        ]

    return aggregate_inplace, build


def copy_floor(pool: Pool, n: int) -> Callable[[], None]:
    buffers = {k: np.empty_like(v) for k, v in pool[0].items()}

    def run() -> None:
        for i in range(n):
            for name, arr in pool[i % len(pool)].items():
                np.copyto(buffers[name], arr)

    return run


def fmt_bytes(n: float) -> str:
    return f"{n / 2**20:8.1f} MiB"


def measure(p: int, n: int, args: argparse.Namespace, flower: Any) -> dict[str, Any]:
    """One grid cell: every variant on the same pool of inputs."""
    k = n if n * p * 4 <= args.pool_bytes else max(8, args.pool_bytes // (4 * p))
    pool = make_pool(k, p)
    repeat = args.repeat if p < 10**7 else 1
    equal = dict.fromkeys(LazyUpdates(pool, n, False), 1)
    ranked = {key: i + 1 for i, key in enumerate(LazyUpdates(pool, n, False))}
    row: dict[str, Any] = {"N": n, "P": p, "K": k}
    views = LazyUpdates(pool, n, copy=False)
    row["mean"] = best_time(lambda: aggregate_weighted_mean(views, equal), repeat)
    row["mean_w"] = best_time(lambda: aggregate_weighted_mean(views, ranked), repeat)
    row["stream_w"] = best_time(lambda: aggregate_weighted_mean_streaming(views, ranked), repeat)
    # blocked mean holds all inputs: as zero-copy views of payload bytes (count: none)
    row["mean_mem"] = peak_bytes(lambda: aggregate_weighted_mean(views, ranked))
    # streaming mean with a fresh copy per input: one input counted
    row["stream_mem"] = peak_bytes(
        lambda: aggregate_weighted_mean_streaming(LazyUpdates(pool, n, copy=True), ranked)
    )
    row["floor"] = best_time(copy_floor(pool, n), repeat)
    if n * p <= args.median_max:
        row["median"] = best_time(lambda: aggregate_median(views), 1)
    if not isinstance(flower, str):
        aggregate_inplace, build = flower
        weights_eq, weights_rk = [1] * n, list(range(1, n + 1))
        # serialised once, outside the timing; aggregate_inplace deserialises (copies)
        # every update itself, which is part of the real function
        fit_eq, fit_rk = build(pool, n, weights_eq), build(pool, n, weights_rk)
        row["flower"] = best_time(lambda: aggregate_inplace(fit_eq), repeat)
        row["flower_w"] = best_time(lambda: aggregate_inplace(fit_rk), repeat)
        row["flower_mem"] = peak_bytes(lambda: aggregate_inplace(fit_rk))
        del fit_eq, fit_rk
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="P in {1e5, 1e6} only")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pool-bytes", type=int, default=512 * 2**20)
    parser.add_argument("--median-max", type=int, default=10**8, help="max N*P for the median")
    args = parser.parse_args()

    flower = load_flower()
    if isinstance(flower, str):
        print(f"Flower: skipped - {flower}")
    sizes = [10**5, 10**6] if args.quick else [10**5, 10**6, 10**7]
    rows: list[dict[str, Any]] = []
    for p in sizes:
        for n in (10, 100):
            row = measure(p, n, args, flower)
            rows.append(row)
            report(row)
            gc.collect()
    check_targets(rows)


def report(row: dict[str, Any]) -> None:
    n, p = row["N"], row["P"]
    model64, one_input = 8 * p, 4 * p
    line = (
        f"N={n:>3} P={p:>8.0e} pool={row['K']:>3} | mean {row['mean'] * 1e3:8.1f} ms"
        f" (weighted {row['mean_w'] * 1e3:8.1f} ms, streaming {row['stream_w'] * 1e3:8.1f} ms) | floor {row['floor'] * 1e3:8.1f} ms"
        f" -> x{row['mean'] / row['floor']:.2f} / x{row['mean_w'] / row['floor']:.2f} of floor"
    )
    if "flower" in row:
        line += (
            f" | flower {row['flower'] * 1e3:8.1f} ms (weighted {row['flower_w'] * 1e3:8.1f})"
            f" -> x{row['mean'] / row['flower']:.2f} / x{row['mean_w'] / row['flower_w']:.2f} of flower"
        )
    if "median" in row:
        line += f" | median {row['median'] * 1e3:9.1f} ms"
    print(line)
    mem = (
        f"{'':28}peak mem: flchain {fmt_bytes(row['mean_mem'])}"
        f" (streaming {fmt_bytes(row['stream_mem'])}"
        f" = x{row['stream_mem'] / (model64 + one_input):.2f} of f64 model + input)"
    )
    if "flower_mem" in row:
        mem += f" | flower {fmt_bytes(row['flower_mem'])}"
    print(mem, flush=True)


def check_targets(rows: list[dict[str, Any]]) -> None:
    target = next((r for r in rows if r["N"] == 100 and r["P"] == 10**6), None)
    if target is None:
        return
    p = target["P"]
    print("\nTargets at N=100, P=1e6:")
    for label, key in (("equal weights", "mean"), ("integer weights 1..N", "mean_w")):
        ratio = target[key] / target["floor"]
        print(f"  time <= 3.0x floor, {label}: x{ratio:.2f} -> {'OK' if ratio <= 3 else 'MISSED'}")
    if "flower" in target:
        fr = max(target["mean"] / target["flower"], target["mean_w"] / target["flower_w"])
        print(f"  time <= 1.0x Flower: x{fr:.2f} -> {'OK' if fr <= 1 else 'MISSED'}")
    limit = 3 * 8 * p + 4 * p
    print(
        f"  peak <= 3 x f64 model + one input ({fmt_bytes(limit)}): blocked"
        f" {fmt_bytes(target['mean_mem'])}, streaming {fmt_bytes(target['stream_mem'])}"
        f" -> {'OK' if max(target['mean_mem'], target['stream_mem']) <= limit else 'MISSED'}"
    )


if __name__ == "__main__":
    main()

"""The overfitter in `flchain simulate` with and without forward scoring, over seeds.

For each seed, two runs of the real simulation (embedded chain, local store, the daemon's
`NodeRunnerV2` for every node) on the planted-signal market, one node of `--nodes` the
`overfitter` (a black-box search of the weights on the public claim window): `--market
planted` (the claim ranks, weighs and pays; the baseline) and `--forward` (the forward record
does). Printed per seed and as a mean: the overfitter's share of the rewards paid, its share of
the merge weights (summed over the final merged rounds), and the forward windows scored /
missing. A fair share is 1 / nodes.

Run: ``python bench/simulate_forward.py [--seeds 3] [--nodes 5] [--days 7]`` (about 100 s a
seed on an idle 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from flchain.simulate import SimulationConfig, SimulationResult, run_simulation


def shares(run: SimulationResult) -> tuple[float, float]:
    """The overfitter's share of the rewards and of the summed merge weights."""
    (cheat,) = [r.address for r in run.roles if r.behaviour == "overfitter"]
    earned = sum(b.earned for b in run.balances)
    weight = sum(r.weight_ppm for r in run.ranking)
    mine = next(r for r in run.ranking if r.address == cheat)
    return (mine.earned / earned if earned else 0.0, mine.weight_ppm / weight if weight else 0.0)


def windows(run: SimulationResult) -> tuple[int, int]:
    """(scored, missing) forward windows over the run's manifests."""
    statuses = []
    for path in (Path(run.run_dir) / "manifests").glob("*.json"):
        window = (json.loads(path.read_text()).get("forward") or {}).get("window")
        if window is not None:
            statuses.append(window["status"])
    return statuses.count("scored"), statuses.count("missing")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args(argv)
    rows: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    print(f"overfitter: 1 of {args.nodes} nodes, {args.days} days; fair share {1 / args.nodes:.1%}")
    print("seed  claim decides: reward  weight | record decides: reward  weight  windows")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            got = {}
            started = time.perf_counter()
            for forward in (False, True):
                config = SimulationConfig(
                    nodes=args.nodes, days=args.days, seed=seed, market="planted",
                    forward=forward, adversaries=("overfitter",),
                )  # fmt: skip
                run = run_simulation(config, Path(tmp) / f"s{seed}-{forward}", progress=False)
                got[forward] = run
                rows[forward].append(shares(run))
            (r0, w0), (r1, w1) = rows[False][-1], rows[True][-1]
            scored, missing = windows(got[True])
            print(
                f"{seed:4d}  {r0:20.1%}  {w0:6.1%} | {r1:21.1%}  {w1:6.1%}  "
                f"{scored} scored, {missing} missing  ({time.perf_counter() - started:.0f} s)"
            )
    mean = {k: [statistics.fmean(x[i] for x in v) for i in (0, 1)] for k, v in rows.items()}
    print(
        f"mean  {mean[False][0]:20.1%}  {mean[False][1]:6.1%} | "
        f"{mean[True][0]:21.1%}  {mean[True][1]:6.1%}"
    )


if __name__ == "__main__":
    main()

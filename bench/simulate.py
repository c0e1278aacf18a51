"""Wall time and peak memory of `flchain simulate` runs (prints figures; no asserts).

    python bench/simulate.py                 # 10×7 and 100×2, all adversaries, embedded and anvil
    python bench/simulate.py --only embedded

Each case runs in its own child process, so its peak memory is that process's max RSS
(`resource.getrusage`) and imports are paid once per case, as a user running the command would.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = ((10, 7), (100, 2))


def run_case(chain: str, nodes: int, days: int) -> None:
    """Child: one simulation; prints a JSON line with wall seconds and max RSS."""
    from flchain.simulate import SimulationConfig, parse_adversaries, run_simulation

    started = time.perf_counter()
    config = SimulationConfig(
        nodes=nodes, days=days, adversaries=parse_adversaries("all"), chain=chain
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = run_simulation(config, Path(tmp) / "run", progress=False)
    total = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"sim_s": result.wall_seconds, "total_s": round(total, 1), "rss_mib": round(rss)}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=("embedded", "anvil"))
    parser.add_argument("--case", nargs=3, metavar=("CHAIN", "NODES", "DAYS"))
    args = parser.parse_args()
    if args.case:
        run_case(args.case[0], int(args.case[1]), int(args.case[2]))
        return
    chains = (args.only,) if args.only else ("embedded", "anvil")
    print(
        f"{'chain':9s} {'nodes':>5s} {'days':>4s} {'sim s':>7s} {'+import s':>9s} {'s/round':>8s} {'max RSS MiB':>11s}"
    )
    for chain in chains:
        for nodes, days in CASES:
            out = subprocess.run(
                [sys.executable, __file__, "--case", chain, str(nodes), str(days)],
                capture_output=True,
                text=True,
                check=True,
            )
            fig = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{chain:9s} {nodes:5d} {days:4d} {fig['sim_s']:7.1f} {fig['total_s']:9.1f} "
                f"{fig['sim_s'] / days:8.1f} {fig['rss_mib']:11d}",
                flush=True,
            )


if __name__ == "__main__":
    main()

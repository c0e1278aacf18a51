"""Wall time and peak memory of `flchain simulate` runs (prints figures; no asserts).

    python bench/simulate.py                 # 10×7 and 100×2 on embedded and on anvil
    python bench/simulate.py --only embedded # one chain

Peak memory is Python's tracemalloc peak (allocations by Python code and numpy/torch buffers
reported to it), plus the process's max RSS from `resource` for the whole run.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

from flchain.simulate import SimulationConfig, parse_adversaries, run_simulation

CASES = ((10, 7), (100, 2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=("embedded", "anvil"))
    args = parser.parse_args()
    chains = (args.only,) if args.only else ("embedded", "anvil")
    print(
        f"{'chain':9s} {'nodes':>5s} {'days':>4s} {'wall s':>8s} {'s/round':>8s} {'py peak MiB':>11s}"
    )
    for chain in chains:
        for nodes, days in CASES:
            config = SimulationConfig(
                nodes=nodes, days=days, adversaries=parse_adversaries("all"), chain=chain
            )
            with tempfile.TemporaryDirectory() as tmp:
                result = run_simulation(
                    config, Path(tmp) / "run", progress=False, measure_memory=True
                )
            print(
                f"{chain:9s} {nodes:5d} {days:4d} {result.wall_seconds:8.1f} {result.wall_seconds / days:8.1f} "
                f"{result.peak_memory_mib or 0:11.1f}",
                flush=True,
            )
    print(
        f"max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()

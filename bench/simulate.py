"""Wall time, CPU time and peak memory of `flchain simulate` runs (prints figures; no asserts).

    python bench/simulate.py                     # the cases below, embedded and anvil
    python bench/simulate.py --only embedded
    python bench/simulate.py --only embedded --cases 0 1 4   # the 10 × 7 runs and 100 × 2
    python bench/simulate.py --case embedded 2 20 7 all

The baseline is measured in the same run: protocol v1's 10 × 7 with every v1 adversary (the
README's command before protocol v2), then the same command on v2 (every v1 and v2 adversary),
v2 without adversaries, v2's 20 × 7 with every adversary and v2's 100 × 2 (issue 14). Each case runs in its own child
process, so its peak memory is that process's max RSS (`resource.getrusage`) and imports are
paid once per case, as a user running the command would. On a shared machine compare the CPU
seconds: wall time grows with the other processes' load, CPU time much less. On the embedded
chain the counts of contract calls (`calls`: every call the chain was asked, through web3's
`eth_call` or straight to py-evm as views go), transactions and py-evm executions (`evm runs`:
calls and transactions py-evm actually ran — a call answered from the block's memory, or a
transaction staged once, runs once) are printed too: they do not depend on the load at all, and
py-evm executing them is most of a run's CPU.
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
from typing import Any

#: (protocol, nodes, days, adversaries); the first is the baseline.
CASES = (
    (1, 10, 7, "all"),
    (2, 10, 7, "all"),
    (2, 10, 7, "none"),
    (2, 20, 7, "all"),
    (2, 100, 2, "none"),
)


def run_case(chain: str, protocol: int, nodes: int, days: int, adversaries: str) -> None:
    """Child: one simulation; prints a JSON line with wall and CPU seconds and max RSS."""
    from collections import Counter

    from eth.vm.state import BaseTransactionExecutor
    from web3.providers.eth_tester import EthereumTesterProvider

    from flchain.ledger.backends import _staging_pyevm_class
    from flchain.simulate import SimulationConfig, parse_adversaries, run_simulation

    requests: Counter[str] = Counter()
    plain = EthereumTesterProvider.make_request
    staging = _staging_pyevm_class()
    call = staging.call
    unfinalized = staging._unfinalized_call
    execute = BaseTransactionExecutor.__call__

    def counting(self: EthereumTesterProvider, method: Any, params: Any) -> Any:
        requests[str(method)] += 1
        return plain(self, method, params)

    def calling(self: Any, transaction: Any, block_number: Any = "latest") -> Any:
        requests["call"] += 1  # views reach py-evm without web3 (`Backend.call_latest`)
        return call(self, transaction, block_number)

    def executing(self: BaseTransactionExecutor, transaction: Any) -> Any:
        requests["evm"] += 1
        return execute(self, transaction)

    def executing_unfinalized(self: Any, transaction: Any) -> Any:
        requests["evm"] += 1  # a view run without the executor's finalization: still a run
        return unfinalized(self, transaction)

    EthereumTesterProvider.make_request = counting  # type: ignore[method-assign]
    staging.call = calling
    staging._unfinalized_call = executing_unfinalized
    BaseTransactionExecutor.__call__ = executing  # type: ignore[method-assign]
    started = time.perf_counter()
    config = SimulationConfig(
        nodes=nodes,
        days=days,
        protocol=2 if protocol == 2 else 1,
        adversaries=parse_adversaries(adversaries, protocol),
        chain="anvil" if chain == "anvil" else "embedded",
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = run_simulation(config, Path(tmp) / "run", progress=False)
    total = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # anvil, js-ipfs once reaped
    cpu = usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime
    print(
        json.dumps(
            {
                "sim_s": result.wall_seconds,
                "total_s": round(total, 1),
                "cpu_s": round(cpu, 1),
                "rss_mib": round(usage.ru_maxrss / 1024),
                "calls": requests["call"],
                "txs": requests["eth_sendRawTransaction"],
                "evm": requests["evm"],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=("embedded", "anvil"))
    parser.add_argument("--case", nargs=5, metavar=("CHAIN", "PROTOCOL", "NODES", "DAYS", "ADV"))
    parser.add_argument("--cases", nargs="+", type=int, metavar="I", help="indices into CASES")
    args = parser.parse_args()
    if args.case:
        chain, protocol, nodes, days, adversaries = args.case
        run_case(chain, int(protocol), int(nodes), int(days), adversaries)
        return
    chains = (args.only,) if args.only else ("embedded", "anvil")
    print(
        f"{'chain':9s} {'v':>2s} {'nodes':>5s} {'days':>4s} {'adversaries':>11s} {'sim s':>7s} "
        f"{'+import s':>9s} {'CPU s':>6s} {'max RSS MiB':>11s} {'calls':>9s} {'txs':>5s} "
        f"{'evm runs':>8s}"
    )
    cases = [CASES[i] for i in args.cases] if args.cases else list(CASES)
    for chain in chains:
        for protocol, nodes, days, adversaries in cases:
            out = subprocess.run(
                [sys.executable, __file__, "--case", chain, str(protocol), str(nodes),
                 str(days), adversaries],
                capture_output=True,
                text=True,
                check=True,
            )  # fmt: skip
            fig = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{chain:9s} {protocol:2d} {nodes:5d} {days:4d} {adversaries:>11s} "
                f"{fig['sim_s']:7.1f} {fig['total_s']:9.1f} {fig['cpu_s']:6.1f} "
                f"{fig['rss_mib']:11d} {fig['calls'] or '-':>9} {fig['txs'] or '-':>5} "
                f"{fig['evm'] or '-':>8}",
                flush=True,
            )


if __name__ == "__main__":
    main()

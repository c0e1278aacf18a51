"""Gas of every FLChainV2 (protocol v2) entry point, with 1, 100 (and 1 000) registered nodes.

    python bench/gas_v2.py                      # anvil from node_modules: 1 and 100 nodes
    python bench/gas_v2.py --nodes 1,100,1000   # the issue's three sizes (minutes on anvil)
    python bench/gas_v2.py --backend embedded --rounds 3

The federation is the daemon's code (`flchain.testing.RoundDriverV2` stepping `NodeRunnerV2`):
every node commits and reveals a real update with its payload in calldata; from round 1 one
node in ten withholds its reveal and an honest node slashes it (`slashNoReveal`, paying the
bounty); every round one node posts the beacon, the nodes attest the merge they computed, and
the attestation that reaches q finalizes; each node settles its own leaf at its next step.
Gas is read afterwards from the receipts of every transaction the run mined (the function from
the calldata's selector), so it is what each sender paid, whoever sent it. Each row is
min..max over every sample, so growth with nodes or rounds shows as a range; the verdict
compares the worst sample with the issue's target (reveal: 70 000 + 16 per payload byte).

The baseline printed beside it is protocol v1's budget for the same step (bench/gas.py), where
one exists: what v2's stake, payloads and settlement cost on top.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flchain.ledger import Backend, EmbeddedBackend, RpcBackend
from flchain.ledger.deployment import load_artifact
from flchain.protocol.machine import ETHER, Phase, RulesV2
from flchain.storage.blockstore import LocalStore
from flchain.testing.driver import RoundDriverV2, RoundPlanV2

REVEAL_BASE_TARGET = 70_000
REVEAL_PER_BYTE_TARGET = 16
TARGETS: dict[str, int] = {
    "commit": 55_000,
    "attest": 80_000,
    "finalize": 120_000,
    "settle": 60_000,
    "slashNoReveal": 70_000,
}
V1_BUDGET: dict[str, int] = {"commit": 50_000, "reveal": 65_000, "attest": 75_000}
WITHHOLD_EVERY = 10  # from round 1, nodes 0, 10, 20, ... withhold their reveal


@dataclass
class Sample:
    gas: int
    payload: int = 0  # reveal: payload bytes in calldata


@dataclass
class Run:
    nodes: int
    samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0
    finalized: int = 0
    rounds: int = 0


@contextmanager
def open_backend(kind: str) -> Iterator[Backend]:
    if kind == "embedded":
        yield EmbeddedBackend()
        return
    from flchain.devnet.anvil import AnvilProcess

    with AnvilProcess() as node:
        yield RpcBackend(node.url, kind="anvil", expected_chain_id=node.chain_id)


def selectors() -> dict[bytes, tuple[str, list[str]]]:
    """The v2 ABI's function selectors -> (name, argument types)."""
    from eth_utils import function_abi_to_4byte_selector

    out: dict[bytes, tuple[str, list[str]]] = {}
    for item in load_artifact(2)["abi"]:
        if item.get("type") == "function":
            types = [i["type"] for i in item["inputs"]]
            out[bytes(function_abi_to_4byte_selector(item))] = (item["name"], types)
    return out


def collect_samples(driver: RoundDriverV2, run: Run) -> None:
    """Every transaction to the contract since its deployment, by function, with its gas."""
    w3 = driver.backend.w3
    by_selector = selectors()
    address = driver.gov.address.lower()
    for number in range(driver.gov.from_block, w3.eth.block_number + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for entry in block["transactions"]:
            tx: dict[str, Any] = dict(entry)  # type: ignore[arg-type]  # full transactions
            if tx.get("to") is None or str(tx["to"]).lower() != address:
                continue
            data = bytes(tx.get("input", tx.get("data", b"")))  # "data" on the embedded chain
            name, types = by_selector.get(data[:4], ("?", []))
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            if receipt["status"] != 1:
                name = f"{name} (reverted)"
            payload = 0
            if name == "reveal":
                args = w3.codec.decode(types, data[4:])
                payload = next(len(a) for a, t in zip(args, types, strict=True) if t == "bytes")
            run.samples[name].append(Sample(int(receipt["gasUsed"]), payload))


def play(backend: Backend, n_nodes: int, rounds: int, work: Path) -> Run:
    run = Run(n_nodes)
    start = time.perf_counter()
    rules = RulesV2(
        roi_min_bps=-10_000,
        probation_rounds=0,
        emission_wei=ETHER,
        notice_rounds=1,
        max_participants=min(max(n_nodes, 1), 64),
    )
    store = LocalStore(work / f"store-{n_nodes}", fsync=False)
    driver = RoundDriverV2.deploy(backend, store, n_nodes, rules=rules, seed=n_nodes)
    for r in range(rounds):
        withheld = [a for i, a in enumerate(driver.addresses) if r and i % WITHHOLD_EVERY == 0]
        if len(withheld) == n_nodes:  # a one-node federation never withholds
            withheld = []
        driver.play_round(r, RoundPlanV2(withheld=withheld))
        if r + 1 == rounds:  # the last round's leaves are settled in the next round's commit
            driver.step_phase(r + 1, Phase.COMMIT)
        print(f"  {n_nodes} nodes: round {r} played ({time.perf_counter() - start:.0f} s)")
    run.finalized = sum(driver.gov.round_view(r).final_result != bytes(32) for r in range(rounds))
    run.rounds = rounds
    collect_samples(driver, run)
    run.seconds = time.perf_counter() - start
    return run


def span(samples: list[Sample]) -> str:
    if not samples:
        return "-"
    gas = [s.gas for s in samples]
    low, high = min(gas), max(gas)
    return f"{low:,}" if low == high else f"{low:,}..{high:,}"


def reveal_verdict(samples: list[Sample]) -> str:
    worst = max(s.gas - REVEAL_PER_BYTE_TARGET * s.payload for s in samples)
    return "PASS" if worst <= REVEAL_BASE_TARGET else f"MISS ({worst:,} + 16/B)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["anvil", "embedded"], default="anvil")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per deployment (>= 2)")
    parser.add_argument("--nodes", default="1,100", help="comma-separated node counts")
    opts = parser.parse_args()
    counts = [int(n) for n in opts.nodes.split(",")]
    if opts.rounds < 2 or min(counts) < 1:
        parser.error("need --rounds >= 2 and node counts >= 1")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="flchain-gas-v2-") as tmp:
        for n in counts:
            with open_backend(opts.backend) as backend:  # a fresh chain per size
                runs.append(play(backend, n, opts.rounds, Path(tmp)))
    names = sorted({k for run in runs for k in run.samples})
    print(
        f"\nFLChainV2 gas ({opts.backend}, {opts.rounds} rounds, 1 in {WITHHOLD_EVERY} nodes "
        "withholding from round 1; min..max over every transaction mined)"
    )
    width = 22
    header = f"{'function':<22}" + "".join(f"{f'{r.nodes} nodes':>{width}}" for r in runs)
    header += f"{'target':>18}{'v1 budget':>11}  result"
    print(header)
    print("-" * len(header))
    for name in names:
        cols = "".join(f"{span(r.samples.get(name, [])):>{width}}" for r in runs)
        every = [s for r in runs for s in r.samples.get(name, [])]
        if name == "reveal":
            target, verdict = "70,000+16/B", reveal_verdict(every)
        elif name in TARGETS:
            target = f"{TARGETS[name]:,}"
            verdict = "PASS" if max(s.gas for s in every) <= TARGETS[name] else "MISS"
        else:
            target, verdict = "", ""
        v1 = f"{V1_BUDGET[name]:,}" if name in V1_BUDGET else ""
        print(f"{name:<22}{cols}{target:>18}{v1:>11}  {verdict}")
    payloads = sorted({s.payload for r in runs for s in r.samples.get("reveal", [])})
    if payloads:
        print(f"\nreveal payloads: {payloads[0]:,}..{payloads[-1]:,} bytes")
    for r in runs:
        print(
            f"{r.nodes} nodes: {r.finalized} of {r.rounds} rounds final, "
            f"{sum(len(v) for v in r.samples.values())} transactions, {r.seconds:.0f} s"
        )


if __name__ == "__main__":
    main()

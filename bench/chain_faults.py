"""The node daemon's loop through fee spikes and reorgs on anvil: rounds missed, gas paid.

    python bench/chain_faults.py                 # 3 nodes, quorum 2, 5 rounds
    python bench/chain_faults.py --nodes 4 --rounds 8 --depth 3 --spike 10

Two federations, each on its own anvil, set up alike, run by the loop `flchain node run` runs
(`flchain.node.daemon.Daemon` around each node's `NodeRunner`, one step per node per tick):

- fault-free: each phase (commit, reveal, attest) the chain moves into it and every node steps;
- faulty: the same, but before the nodes step the next block's base fee is set to `--spike`
  times the base fee at the start (`anvil_setNextBlockBaseFeePerGas`), and once they have acted the last
  `--depth` blocks — their transactions — are replaced by empty ones (`anvil_reorg [depth, []]`);
  the nodes then step until they have nothing left to do.

Printed: rounds missed (a node without an accepted reveal, or a round not finalized; target 0),
duplicates (more than one commit, reveal or attestation of a node in a round, or more than one
finalization; target 0), the steps that noticed a reorg had taken one of their node's
transactions (each then sent it again), the gas the node wallets used and paid on
the canonical chain (balance difference), and the faulty run's extra over the fault-free one.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from flchain.devnet.anvil import AnvilProcess
from flchain.ledger import Phase, RpcBackend
from flchain.node.daemon import Backoff, Daemon
from flchain.node.runner import NodeRunner, StepReport
from flchain.protocol import Rules
from flchain.storage import LocalStore
from flchain.testing import RoundDriver

PHASES = (Phase.COMMIT, Phase.REVEAL, Phase.CLOSED)
#: Ticks (one step of every node each) after a fault before a phase must be done.
SETTLE_TICKS = 4


@dataclass
class Outcome:
    rounds: int
    missed: int
    duplicates: int
    reorgs_noticed: int
    gas_used: int
    paid_wei: int
    seconds: float


def eth(wei: int) -> str:
    return f"{Decimal(wei) / 10**18:.9f}"


def tick(daemons: list[Daemon]) -> None:
    """One step of every node, through the daemon's loop (errors logged and retried)."""
    for daemon in daemons:
        daemon.run(max_steps=1)


class CountingRunner(NodeRunner):
    """The daemon's runner, counting the reorgs its steps noticed that took one of its
    transactions (for the printout only)."""

    reorgs = 0

    def step(self) -> StepReport:
        report = super().step()
        self.reorgs += bool(report.reorged)
        return report


def run(nodes: int, rounds: int, faulty: bool, spike: int, depth: int, root: Path) -> Outcome:
    with AnvilProcess() as anvil:
        chain = RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)
        rules = Rules(roi_min_bps=-10_000, probation_rounds=0, quorum=min(2, nodes))
        driver = RoundDriver.deploy(
            chain, LocalStore(root / "store", fsync=False), nodes, rules=rules
        )
        runners = [
            CountingRunner(driver.gov, driver.account(n), driver.store, driver.bars_for, driver.updates)
            for n in driver.addresses
        ]  # fmt: skip
        daemons = [Daemon(r, poll_s=0.0, backoff=Backoff(0.0, 0.0)) for r in runners]
        w3 = chain.w3
        start_block = chain.head()[0] + 1
        balances = {r.address: int(w3.eth.get_balance(r.address)) for r in runners}
        # spikes are `spike` x the base fee at the start, not of the last spike's leftovers
        # (the base fee falls only 12.5 % a block: spikes on spikes would compound)
        spiked = spike * (chain.next_base_fee() or 1)
        started = time.perf_counter()
        for round in range(rounds):
            for phase in PHASES:
                driver.backend.goto(driver.gov.schedule, round, phase, 5)
                if faulty:
                    chain._rpc("anvil_setNextBlockBaseFeePerGas", [hex(spiked)])
                tick(daemons)
                if faulty:
                    chain._rpc("anvil_reorg", [depth, []])
                for _ in range(SETTLE_TICKS):
                    tick(daemons)
        seconds = time.perf_counter() - started

        gov = driver.gov
        missed = duplicates = 0
        for round in range(rounds):
            for kind, field in (
                ("Committed", "node"),
                ("Revealed", "node"),
                ("Attested", "attester"),
            ):
                per_node = Counter(getattr(e, field) for e in gov.events(kind, round))
                duplicates += sum(n - 1 for n in per_node.values() if n > 1)
            duplicates += max(0, len(gov.events("RoundFinalized", round)) - 1)
            accepted = {
                e.node for e in gov.events("Revealed", round) if e.outcome.name == "ACCEPTED"
            }
            missed += sum(1 for r in runners if r.address not in accepted)
            missed += gov.finalized(round) is None
        ours = {r.address.lower() for r in runners}
        gas_used = 0
        for number in range(start_block, chain.head()[0] + 1):
            block = w3.eth.get_block(number, full_transactions=True)
            for tx in block["transactions"]:
                if str(tx["from"]).lower() in ours:  # type: ignore[index]
                    gas_used += int(w3.eth.get_transaction_receipt(tx["hash"])["gasUsed"])  # type: ignore[index]
        paid = sum(balances[r.address] - int(w3.eth.get_balance(r.address)) for r in runners)
        reorgs = sum(r.reorgs for r in runners)
        return Outcome(rounds, missed, duplicates, reorgs, gas_used, paid, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spike", type=int, default=10, help="base-fee multiple at each phase")
    parser.add_argument("--depth", type=int, default=3, help="blocks each reorg replaces")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        base = run(args.nodes, args.rounds, False, args.spike, args.depth, Path(tmp) / "base")
        hit = run(args.nodes, args.rounds, True, args.spike, args.depth, Path(tmp) / "hit")
    print(
        f"{args.nodes} nodes x {args.rounds} rounds on anvil; faulty: {args.spike}x base-fee "
        f"spike and a {args.depth}-block reorg at each phase (commit, reveal, attest)"
    )
    print(f"{'':26s}{'fault-free':>14s}{'faulty':>14s}")
    rows = (
        ("rounds missed (target 0)", base.missed, hit.missed),
        ("duplicates (target 0)", base.duplicates, hit.duplicates),
        ("reorged txs noticed", base.reorgs_noticed, hit.reorgs_noticed),
        ("gas used", f"{base.gas_used:,}", f"{hit.gas_used:,}"),
        ("paid (ETH)", eth(base.paid_wei), eth(hit.paid_wei)),
        ("wall s", f"{base.seconds:.1f}", f"{hit.seconds:.1f}"),
    )
    for label, a, b in rows:
        print(f"{label:26s}{a!s:>14s}{b!s:>14s}")
    extra_gas = hit.gas_used - base.gas_used
    extra_paid = hit.paid_wei - base.paid_wei
    ratio = hit.paid_wei / base.paid_wei if base.paid_wei else float("nan")
    print(
        f"extra in the faulty run: {extra_gas:+,} gas, {eth(extra_paid)} ETH paid "
        f"({ratio:.2f}x the fault-free run)"
    )


if __name__ == "__main__":
    main()

"""Gas used by every FLChain transaction, with 1 and 100 registered nodes, over several rounds.

    python bench/gas.py                  # anvil from node_modules (fast); same gas as embedded
    python bench/gas.py --backend embedded

Gas is a property of the contract, not of the backend; the script prints min..max over every
node and round so that growth with the number of nodes or rounds would show as a range.
Finalizing attests are measured with 0, 1, 8 and MAX_PENALISED (64) penalised nodes, and the
cost per penalised node is the slope against 0.
"""

from __future__ import annotations

import argparse
import secrets
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from eth_account import Account

from flchain.hashing import sha256_hex
from flchain.ledger import (
    Backend,
    DeployConfig,
    EmbeddedBackend,
    Ledger,
    Phase,
    RpcBackend,
    commitment_hash,
)
from flchain.protocol import RevealOutcome, Rules
from flchain.storage.cid import cid_for_bytes

TARGETS = {"commit": 50_000, "reveal": 65_000, "attest": 75_000, "finalizing attest": 130_000}
PER_PENALISED_TARGET = 30_000
PENALISED_SIZES = (0, 1, 8, 64)


@contextmanager
def open_backend(kind: str) -> Iterator[Backend]:
    if kind == "embedded":
        yield EmbeddedBackend()
        return
    from flchain.devnet.anvil import AnvilProcess

    with AnvilProcess() as node:
        yield RpcBackend(node.url, kind="anvil", expected_chain_id=node.chain_id)


def run(backend: Backend, n_nodes: int, rounds: int) -> tuple[dict[str, list[int]], dict[int, int]]:
    """Gas per operation (all samples) and finalizing-attest gas per penalised-list size."""
    gas: dict[str, list[int]] = defaultdict(list)
    final_by_k: dict[int, int] = {}
    gov_acct = Account.create()
    backend.fund(gov_acct.address, 10**22)
    quorum = 1 if n_nodes == 1 else 2
    genesis = b"genesis"
    cfg = DeployConfig(
        t0=backend.latest_timestamp() + 100,
        round_length=10_000,
        commit_window=4_000,
        reveal_window=3_000,
        genesis_digest=sha256_hex(genesis),
        genesis_cid=cid_for_bytes(genesis),
        rules=Rules(quorum=quorum),
    )
    gov = Ledger.deploy(backend, gov_acct, cfg)
    nodes: list[Ledger] = []
    for _ in range(n_nodes):
        acct = Account.create()
        backend.fund(acct.address, 10**20)
        node = gov.with_account(acct)
        gas["register"].append(node.register().gas_used)
        nodes.append(node)
    base = sha256_hex(genesis)
    for rnd in range(rounds):
        gov.goto(rnd, Phase.COMMIT, 5)
        updates = []
        for node in nodes:
            payload = secrets.token_bytes(64)
            digest, cid, salt, roi = (
                sha256_hex(payload),
                cid_for_bytes(payload),
                "0x" + secrets.token_hex(32),
                123,
            )
            assert node.account is not None
            c = commitment_hash(
                gov.chain_id, gov.address, rnd, node.account.address, digest, cid, base, roi, salt
            )
            gas["commit"].append(node.commit(rnd, c).gas_used)
            updates.append((digest, cid, roi, salt))
        gov.goto(rnd, Phase.REVEAL, 5)
        for node, (digest, cid, roi, salt) in zip(nodes, updates, strict=True):
            tx, outcome = node.reveal(rnd, digest, cid, base, roi, salt)
            assert outcome == RevealOutcome.ACCEPTED
            gas["reveal"].append(tx.gas_used)
        gov.goto(rnd, Phase.CLOSED, 5)
        k = PENALISED_SIZES[rnd % len(PENALISED_SIZES)] if n_nodes > 1 else 0
        penalised = [n.account.address for n in nodes[:k] if n.account is not None]
        merged, manifest = f"merged {rnd}".encode(), f"manifest {rnd}".encode()
        args = (rnd, sha256_hex(merged), cid_for_bytes(merged), cid_for_bytes(manifest), penalised)
        if quorum == 2:
            first = nodes[0].attest(*args)
            if k == 0:
                gas["attest"].append(first.tx.gas_used)
            gas[f"attest ({k} penalised)"].append(first.tx.gas_used)
        closing = nodes[-1].attest(*args)
        assert closing.finalized
        if k == 0:
            gas["finalizing attest"].append(closing.tx.gas_used)
        final_by_k[k] = closing.tx.gas_used
        if n_nodes > 2 and k == 0:  # attestations after finality: agreeing and dissenting
            gas["attest"].append(nodes[1].attest(*args).tx.gas_used)
            other = (rnd, sha256_hex(b"x"), cid_for_bytes(b"x"), cid_for_bytes(manifest), penalised)
            gas["attest"].append(nodes[2].attest(*other).tx.gas_used)
    return gas, final_by_k


def span(values: list[int]) -> str:
    if not values:
        return "—"
    lo, hi = min(values), max(values)
    return f"{lo:,}" if lo == hi else f"{lo:,}..{hi:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["anvil", "embedded"], default="anvil")
    parser.add_argument("--rounds", type=int, default=len(PENALISED_SIZES))
    opts = parser.parse_args()
    results = {}
    with open_backend(opts.backend) as backend:
        for n in (1, 100):
            results[n] = run(backend, n, opts.rounds)
    ops = ["register", "commit", "reveal", "attest", "finalizing attest"]
    print(f"FLChain gas ({opts.backend}, {opts.rounds} rounds; min..max over all nodes and rounds)")
    print(f"{'operation':<22}{'1 node':>18}{'100 nodes':>22}{'target':>12}  ok")
    for op in ops:
        one, hundred = results[1][0].get(op, []), results[100][0].get(op, [])
        target = TARGETS.get(op)
        worst = max(one + hundred) if one + hundred else 0
        ok = "" if target is None else ("yes" if worst <= target else "NO")
        print(
            f"{op:<22}{span(one):>18}{span(hundred):>22}{target or '':>12,}  {ok}"
            if target
            else f"{op:<22}{span(one):>18}{span(hundred):>22}{'':>12}  {ok}"
        )
    print("\nfinalizing attest by penalised-list size (100 nodes, quorum 2):")
    by_k = results[100][1]
    base = by_k.get(0)
    for k in sorted(by_k):
        slope = "" if not k or base is None else f"  +{(by_k[k] - base) / k:,.0f} per penalised"
        limit = 130_000 + PER_PENALISED_TARGET * k
        print(
            f"  {k:>3} penalised: {by_k[k]:>9,}  (target {limit:,}){slope}  {'yes' if by_k[k] <= limit else 'NO'}"
        )
    nonfinal = {op: v for op, v in results[100][0].items() if op.startswith("attest (")}
    if nonfinal:
        print("first (non-finalizing) attest by penalised-list size (100 nodes):")
        for op in sorted(nonfinal, key=lambda s: int(s.split("(")[1].split()[0])):
            print(f"  {op:<24} {span(nonfinal[op])}")


if __name__ == "__main__":
    main()

"""Time to audit a v2 federation whose nodes are contract wallets, with and without traces.

    python bench/audit_traces.py [--rounds 3] [--nodes 5]

On anvil (a new one for each figure), two federations of `--nodes` nodes × `--rounds` claim-scored rounds are played: one
of EOAs (tests/audit/v2/_federation.py `play_rounds`: the baseline, no transaction needs a
trace) and one whose every node is a contract wallet (tests/audit/v2/_wallet_federation.py
`play_wallet_rounds`: every call of a node goes through its V2Wallet, so each is read from
`debug_traceTransaction`). `audit_v2` is timed on a fresh backend for the EOAs, for the wallets
with anvil's tracer, and for the wallets with the tracer withheld (`fetch_call_trace` replaced
in this process by one answering "no tracer", as the embedded chain or a public RPC does: the
replay stops at the first wallet call and every round is unverifiable). Each figure is the
best of three audits and, apart, of three gathers (logs, signed transactions, traces, code,
proofs, views), each on a new backend. The wallets' merges are lighter than the EOAs' (every
wallet payload is unreadable, §5), so compare the gathers for what tracing costs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(HERE / "audit" / "v2"), str(HERE / "ledger" / "v2")]

from _federation import play_rounds  # noqa: E402
from _wallet_federation import play_wallet_rounds  # noqa: E402

from flchain.audit import core_v2  # noqa: E402
from flchain.audit.core_v2 import audit_v2, closed_rounds_v2  # noqa: E402
from flchain.devnet.anvil import AnvilProcess  # noqa: E402
from flchain.ledger import Backend, LedgerV2, RpcBackend  # noqa: E402
from flchain.ledger.traces import TraceRead  # noqa: E402
from flchain.storage import LocalStore  # noqa: E402

REPEATS = 3  # the best of three: the first run of a process also pays one-time loads
Play = Callable[[Backend, LocalStore, int, int], LedgerV2]


def measure(url: str, play: Play, rounds: int, nodes: int, tracer: bool = True) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp) / "store", fsync=False)
        g = play(RpcBackend(url, kind="anvil"), store, rounds, nodes)
        saved = core_v2.fetch_call_trace
        if not tracer:
            core_v2.fetch_call_trace = lambda backend, tx: TraceRead(  # type: ignore[assignment]
                problem="no debug_traceTransaction (withheld)", supported=False
            )
        try:
            audits, gathers = [], []
            for _ in range(REPEATS):  # each on a new backend: nothing cached between them
                fresh = LedgerV2.connect(
                    RpcBackend(url, kind="anvil"), g.address, from_block=g.from_block
                )
                t = time.perf_counter()
                report = audit_v2(fresh, store, closed_rounds_v2(g))
                audits.append(time.perf_counter() - t)
                fresh = LedgerV2.connect(
                    RpcBackend(url, kind="anvil"), g.address, from_block=g.from_block
                )
                t = time.perf_counter()
                mat = core_v2.gather_v2(fresh, closed_rounds_v2(g))
                gathers.append(time.perf_counter() - t)
        finally:
            core_v2.fetch_call_trace = saved
        verdicts = dict(Counter(r.verdict.value for r in report.rounds))
        traced = sum(c.inner is not None for c in mat.calls)
        return (
            f"audit {min(audits):5.2f} s, of which gather {min(gathers):5.2f} s "
            f"({len(mat.calls)} txs, {traced} traced)  {verdicts}"
        )


def on_new_anvil(play: Play, rounds: int, nodes: int, tracer: bool = True) -> str:
    """`measure` on an anvil of its own, so that no figure pays for another's history."""
    with AnvilProcess() as anvil:
        return measure(anvil.url, play, rounds, nodes, tracer)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=5)
    args = ap.parse_args()
    n, r = args.nodes, args.rounds
    print(f"audit_v2 of {n} nodes x {r} rounds on anvil, fresh backend, best of {REPEATS}:")
    print(f"  baseline, EOA nodes (nothing to trace):   {on_new_anvil(play_rounds, r, n)}")
    print(f"  wallet nodes, traced (callTracer):         {on_new_anvil(play_wallet_rounds, r, n)}")  # fmt: skip
    print(f"  wallet nodes, tracer withheld:             {on_new_anvil(play_wallet_rounds, r, n, False)}")  # fmt: skip


if __name__ == "__main__":
    main()

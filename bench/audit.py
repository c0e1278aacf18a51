"""Time to audit a 10-node round and a 7-day federation, against the merge itself, same run.

    python bench/audit.py [--nodes 10] [--days 7]

The federation is played by `flchain.testing.RoundDriver` (the daemon's NodeRunner per node,
perturbed updates, LocalStore, embedded chain). For each audited round it prints the audit's wall time split into chain reads +
fetches ("gather") and the judge (merge re-run incl. every ROI backtest, comparisons), next to a
bare `flchain.merge.merge` call on the same inputs timed in the same process (the peer). Target:
audit ≤ 2 × (merge incl. backtests).

The whole-history audit is timed on a fresh reader (a new backend object replayed from the
chain's journal, so no event, receipt or timestamp is cached), as `flchain audit --all --run`
sees it; the event reads are also shown against one raw `eth_getLogs` of the whole log (the
pre-index read path) on that same fresh chain.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from web3.types import FilterParams

from flchain.audit.core import audit, gather_round, judge_round
from flchain.audit.source import SnapshotLedger
from flchain.devnet.journal import JournaledEmbeddedBackend, replay_journal, save_journal
from flchain.ledger import Ledger
from flchain.replay import run_merge
from flchain.storage import LocalStore
from flchain.testing import RoundDriver, RoundPlan


def best_of(n: int, fn: object) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp) / "store", fsync=False)
        t = time.perf_counter()
        fed = RoundDriver.deploy(JournaledEmbeddedBackend(), store, args.nodes, seed=1)
        for day in range(args.days):
            fed.play_round(day, RoundPlan(attesters=fed.addresses[:1]))
        print(
            f"setup: {args.nodes} nodes x {args.days} rounds played in {time.perf_counter() - t:.1f} s"
        )
        ledger = fed.reader()

        # one 10-node round: merge alone vs the audit of that round
        m = gather_round(ledger, store, 0)
        assert m.inputs is not None
        inputs = m.inputs
        merge_s = best_of(args.repeat, lambda: run_merge(inputs))
        judge_s = best_of(args.repeat, lambda: judge_round(m))
        gather_s = best_of(args.repeat, lambda: gather_round(ledger, store, 0))
        full_s = best_of(args.repeat, lambda: judge_round(gather_round(ledger, store, 0)))
        print(f"\none round, {args.nodes} nodes (best of {args.repeat})")
        print(f"  merge (incl. {args.nodes} ROI backtests)   {merge_s * 1e3:8.1f} ms   [peer]")
        print(
            f"  audit judge (re-merge + compare)   {judge_s * 1e3:8.1f} ms   ratio {judge_s / merge_s:5.2f}x"
        )
        print(f"  audit gather (chain reads+fetch)   {gather_s * 1e3:8.1f} ms")
        print(
            f"  audit total                        {full_s * 1e3:8.1f} ms   ratio {full_s / merge_s:5.2f}x"
        )

        # the whole history
        merges = []
        for r in range(args.days):
            mr = gather_round(ledger, store, r)
            assert mr.inputs is not None
            inp = mr.inputs
            merges.append(best_of(1, lambda inp=inp: run_merge(inp)))
        merge_total = sum(merges)
        assert isinstance(fed.backend, JournaledEmbeddedBackend)
        journal = save_journal(fed.backend, Path(tmp) / "chain.jsonl")
        t = time.perf_counter()
        fresh = replay_journal(journal)
        replay_s = time.perf_counter() - t
        raw_s = best_of(1, lambda: fresh.w3.eth.get_logs(raw_query(fed.gov)))
        fresh = replay_journal(journal)  # again: the raw scan above warmed nothing, but be fair
        t = time.perf_counter()
        reader = SnapshotLedger(fresh, fed.gov.address, from_block=fed.gov.from_block)
        n_events = len(reader.events())
        index_s = time.perf_counter() - t
        t = time.perf_counter()
        report = audit(reader, store)
        audit_total = index_s + time.perf_counter() - t
        assert report.exit_code == 0, [r.headline for r in report.rounds]
        print(f"\n{args.days}-round history ({args.nodes} nodes), verdict {report.verdict}")
        print(
            f"  merges alone, sum                  {merge_total:8.3f} s   [peer] (median round {statistics.median(merges) * 1e3:.1f} ms)"
        )
        print(
            f"  audit --all, fresh reader          {audit_total:8.3f} s   ratio {audit_total / merge_total:5.2f}x"
        )
        judged = sum(r.seconds_merge for r in report.rounds)
        print(f"    of which judge (re-merge)        {judged:8.3f} s")
        print(f"    of which gather + history        {audit_total - judged:8.3f} s")
        print(f"    of which first event read        {index_s:8.3f} s   ({n_events} events, index)")
        print(
            f"  one raw eth_getLogs, whole log     {raw_s:8.3f} s   [pre-index read path; "
            f"index is {raw_s / index_s:5.1f}x faster]"
        )
        print(f"  (journal replay before the audit   {replay_s:8.3f} s, not counted above)")


def raw_query(ledger: Ledger) -> FilterParams:
    return {"address": ledger.address, "fromBlock": ledger.from_block, "toBlock": "latest"}


if __name__ == "__main__":
    main()

"""Time to audit a 10-node round and a 7-day federation, against the merge itself, same run.

    python bench/audit.py [--nodes 10] [--days 7]

The federation is driven directly (flchain.audit.scenario: Ledger + model + LocalStore on the
embedded chain). For each audited round it prints the audit's wall time split into chain reads +
fetches ("gather") and the judge (merge re-run incl. every ROI backtest, comparisons), next to a
bare `flchain.merge.merge` call on the same inputs timed in the same process (the peer). Target:
audit ≤ 2 × (merge incl. backtests).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from flchain.audit.core import audit, gather_round, judge_round
from flchain.audit.scenario import Federation, RoundPlan
from flchain.audit.source import SnapshotLedger
from flchain.ledger import EmbeddedBackend
from flchain.replay import run_merge
from flchain.storage import LocalStore


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
        fed = Federation.deploy(EmbeddedBackend(), store, args.nodes, seed=1)
        for day in range(args.days):
            fed.play_round(day, RoundPlan(attesters=fed.addresses[:1]))
        print(
            f"setup: {args.nodes} nodes x {args.days} rounds played in {time.perf_counter() - t:.1f} s"
        )
        ledger = SnapshotLedger(fed.backend, fed.gov.address, from_block=fed.gov.from_block)

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
            merges.append(best_of(1, lambda inp=inp: run_merge(inp)))  # type: ignore[misc]
        merge_total = sum(merges)
        logs_s = best_of(1, lambda: ledger.__class__.__mro__[1].events(ledger))
        t = time.perf_counter()
        report = audit(
            SnapshotLedger(fed.backend, fed.gov.address, from_block=fed.gov.from_block), store
        )
        audit_total = time.perf_counter() - t
        assert report.exit_code == 0, [r.headline for r in report.rounds]
        print(f"\n{args.days}-round history ({args.nodes} nodes), verdict {report.verdict}")
        print(
            f"  merges alone, sum                  {merge_total:8.3f} s   [peer] (median round {statistics.median(merges) * 1e3:.1f} ms)"
        )
        print(
            f"  audit --all (one process)          {audit_total:8.3f} s   ratio {audit_total / merge_total:5.2f}x"
        )
        judged = sum(r.seconds_merge for r in report.rounds)
        print(f"    of which judge (re-merge)        {judged:8.3f} s")
        print(f"    of which gather + history        {audit_total - judged:8.3f} s")
        print(f"    (one eth_getLogs of the whole log on this chain: {logs_s:.3f} s)")


if __name__ == "__main__":
    main()

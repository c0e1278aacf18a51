"""Time to audit a protocol v2 federation, every rule, against the merges alone, same run.

    python bench/audit_v2.py [--rounds 20] [--nodes 5] [--chain embedded|anvil] [--forward]

The federation (tests/audit/v2/_federation.py `play_rounds`: every node settles, commits,
reveals a real update, one posts the beacon, all attest the merge, a keeper finalizes; real
`LocalStore`) is played once; then `audit_v2` audits every round — deployed code, the whole
history replayed through the reference machine, one state proof of the accumulators and the
balance, every merge recomputed (`flchain.replay.v2`), the settlement tables — and its parts
are timed apart. The baseline is what a v1-style audit does, in the same run: the merges
recomputed from the ledger's records alone (`replay_round_v2` per round), trusting the RPC.
With `--forward` the federation scores forward (`play_rounds(forward=True)`: round r's window
posted after it closes, voted by every commit of r + 1, scored by r + 1's merge), and the audit
also proves the forward box's words and recomputes each merge with the scored round's window;
the baseline then recomputes the merges without the windows (what `replay_round_v2` reads).
On anvil every figure is taken on a new backend (nothing cached); on the embedded chain the
audit is measured first and the parts and the baseline after it (their caches warm).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(HERE / "audit" / "v2"), str(HERE / "ledger" / "v2")]

from _federation import play_rounds  # noqa: E402

from flchain.audit.core_v2 import audit_v2, closed_rounds_v2, gather_v2  # noqa: E402
from flchain.audit.judge_v2 import replay_calls  # noqa: E402
from flchain.ledger import Backend, EmbeddedBackend, LedgerV2, RpcBackend  # noqa: E402
from flchain.replay.v2 import replay_round_v2  # noqa: E402
from flchain.storage import LocalStore  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--chain", choices=("embedded", "anvil"), default="embedded")
    ap.add_argument("--forward", action="store_true", help="forward scoring on (§15)")
    args = ap.parse_args()
    stop, url = None, None
    backend: Backend
    if args.chain == "anvil":
        from flchain.devnet.anvil import AnvilProcess

        anvil = AnvilProcess().start()
        stop, url = anvil.stop, anvil.url
        backend = RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)
    else:
        backend = EmbeddedBackend()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = LocalStore(Path(tmp) / "store", fsync=False)
            t = time.perf_counter()
            g = play_rounds(backend, store, args.rounds, args.nodes, forward=args.forward)
            mode = "forward-scored" if args.forward else "claim-scored"
            print(f"setup: {args.nodes} nodes x {args.rounds} rounds ({mode}) on {args.chain} "
                  f"played in {time.perf_counter() - t:.1f} s")  # fmt: skip
            rounds = closed_rounds_v2(g)

            def fresh() -> LedgerV2:
                """A reader with nothing cached: on anvil a new backend (no event index, no
                timestamps, no payloads); the embedded chain lives in this backend, so its
                caches stay warm after the first read (measured first: the audit)."""
                b = backend if url is None else RpcBackend(url, kind="anvil")
                return LedgerV2.connect(b, g.address, from_block=g.from_block)

            t = time.perf_counter()
            report = audit_v2(fresh(), store, rounds)
            total = time.perf_counter() - t
            t = time.perf_counter()
            mat = gather_v2(fresh(), rounds)
            gather = time.perf_counter() - t
            t = time.perf_counter()
            replay = replay_calls(mat.calls, g.chain_id, g.address)
            machine = time.perf_counter() - t
            reader = fresh()
            t = time.perf_counter()
            for r in rounds:
                replay_round_v2(reader, store, r)
            baseline = time.perf_counter() - t

            verdicts = {
                v.value: sum(r.verdict == v for r in report.rounds)
                for v in {r.verdict for r in report.rounds}
            }
            print(f"audit_v2 of {len(rounds)} rounds, every rule, fresh reader: {total:7.2f} s  exit {report.exit_code} {verdicts}")  # fmt: skip
            print(
                f"  gather (logs, {len(mat.calls)} txs signed, code, proof, views):  {gather:7.2f} s"
            )
            print(
                f"  machine replay of {replay.replayed} transactions:              {machine:7.2f} s"
            )
            print(f"baseline: {len(rounds)} merges from the records alone, fresh reader: {baseline:7.2f} s  [trusts the RPC]")  # fmt: skip
            print(f"ratio audit / baseline: {total / baseline:.2f}x")
    finally:
        if stop is not None:
            stop()


if __name__ == "__main__":
    main()

"""Wall time of one protocol-v2 round played by the node daemon's code, against v1, same run.

    python bench/node_v2.py [--nodes 4] [--rounds 4] [--chain embedded|anvil]

A v2 federation is played by `flchain.testing.RoundDriverV2`: every node's `NodeRunnerV2.step()`
once in each phase (settle, open, commit, reveal, beacon post, attest via replay v2, finalize,
slash scan), perturbed updates, a LocalStore. The baseline is the v1 `RoundDriver` (the v1
`NodeRunner`'s commit, reveal and attest) with the same nodes and updates on the same kind of
chain, timed in the same process. Printed per round and as the median of the rounds after the
first (round 0 has no settlement and no prior manifest). Each driver shares one `MergeMemo`
among its nodes, so each round's merge is computed once in both.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flchain.devnet.anvil import AnvilProcess
from flchain.ledger import Backend, EmbeddedBackend, RpcBackend
from flchain.storage import LocalStore
from flchain.testing import RoundDriver, RoundPlan
from flchain.testing.driver import RoundDriverV2


@contextmanager
def chain(kind: str) -> Iterator[Backend]:
    if kind == "embedded":
        yield EmbeddedBackend()
        return
    proc = AnvilProcess().start()
    try:
        yield RpcBackend(proc.url, kind="anvil", expected_chain_id=proc.chain_id)
    finally:
        proc.stop()


def timed_rounds(play: Callable[[int], object], rounds: int) -> list[float]:
    times = []
    for r in range(rounds):
        t = time.perf_counter()
        play(r)
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--chain", choices=("embedded", "anvil"), default="embedded")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with chain(args.chain) as backend:
            v2 = RoundDriverV2.deploy(
                backend, LocalStore(Path(tmp) / "v2", fsync=False), args.nodes,
                salts_dir=Path(tmp) / "salts",
            )  # fmt: skip
            v2_times = timed_rounds(v2.play_round, args.rounds)
            final = sum(v2.gov.round_view(r).final_result != bytes(32) for r in range(args.rounds))
        with chain(args.chain) as backend:
            v1 = RoundDriver.deploy(backend, LocalStore(Path(tmp) / "v1", fsync=False), args.nodes)
            v1_times = timed_rounds(lambda r: v1.play_round(r, RoundPlan()), args.rounds)
    print(f"{args.nodes} nodes, {args.rounds} rounds, {args.chain} chain")
    print("round   v2 (s)   v1 (s)")
    for r, (a, b) in enumerate(zip(v2_times, v1_times, strict=True)):
        print(f"{r:>5} {a:>8.2f} {b:>8.2f}")
    later = slice(1, None) if args.rounds > 1 else slice(None)
    m2, m1 = statistics.median(v2_times[later]), statistics.median(v1_times[later])
    print(f"median (rounds >= 1): v2 {m2:.2f} s, v1 baseline {m1:.2f} s ({m2 / m1:.2f}x)")
    print(f"v2 rounds final: {final}/{args.rounds}")


if __name__ == "__main__":
    main()

"""Wall time, CPU time and peak memory of a protocol-v2 federation, one node after another vs a
phase at a time, in the same run.

    python bench/scale_v2.py                 # 10 × 3 and 100 × 2, on anvil and embedded
    python bench/scale_v2.py --big           # and 1 000 × 1 (anvil)
    python bench/scale_v2.py --sizes 20x2 --chains anvil --workers 8
    python bench/scale_v2.py --sizes 1000x1 --chains anvil --modes concurrent

Each federation is `flchain.testing.RoundDriverV2` stepping every node's `NodeRunnerV2` (the
daemon's code) through commit, reveal, beacon and attest of each round, perturbed updates, a
LocalStore, plus the next round's commit window (so the last round is settled). "sequential"
steps the nodes one after another (workers = 1, the baseline); "concurrent" steps `--workers`
nodes at once while the driver mines (anvil only: the embedded chain is one in-process EVM).
Both run with the same salts (`salt_seed`), so their merged models must be bit-identical: the
table shows the final merged digest of each pair and says whether they agree.

`--simulate` measures `flchain simulate --chain anvil` itself instead (honest nodes, real
training, `run_simulation` in a child process), "sequential" with `--workers 1`, "concurrent"
with `--workers` nodes a phase at once on threads of one process (`--processes 1`) and "pooled"
with their training in `--processes` − 1 worker processes beside them; their tables must be equal
(the table says so), and with `--audit` each run folder is audited (`flchain audit --run DIR
--all`, its exit code and wall time in the table):

    python bench/scale_v2.py --simulate --sizes 100x2,1000x1 --audit
    python bench/scale_v2.py --simulate --sizes 1000x3 --modes pooled --keep runs/big
    python bench/scale_v2.py --simulate --sizes 100x2 --processes 3

Each measurement runs in a fresh child process (peak RSS is per process): wall time of
deploy + rounds, CPU time of the Python process and of its children (anvil, and the training
workers of "pooled"), the peak RSS of each. A deployment's registrations are always sent one by
one (they number the nodes).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flchain.ledger import Backend, EmbeddedBackend, RpcBackend
from flchain.protocol.machine import ETHER, Phase, RulesV2
from flchain.storage.blockstore import LocalStore
from flchain.testing.driver import PhaseProgress, RoundDriverV2

SALT_SEED = b"bench/scale_v2"
DEFAULT_SIZES = "10x3,100x2"
BIG_SIZE = "1000x1"


@contextmanager
def open_chain(kind: str) -> Iterator[Backend]:
    if kind == "embedded":
        yield EmbeddedBackend()
        return
    from flchain.devnet.anvil import AnvilProcess

    with AnvilProcess() as node:
        yield RpcBackend(node.url, kind="anvil", expected_chain_id=node.chain_id)


def progress_printer(every: float) -> Any:
    """Print a phase's progress at most every `every` s, and its last line."""
    last = [0.0]

    def show(p: PhaseProgress) -> None:
        now = time.monotonic()
        if p.stepped == p.total or now - last[0] >= every:
            last[0] = now
            print(f"    {p.line()}", file=sys.stderr, flush=True)

    return show


def measure(chain: str, nodes: int, rounds: int, workers: int, quiet: bool) -> dict[str, Any]:
    """One federation in this process; the figures as a dict."""
    rules = RulesV2(
        roi_min_bps=-10_000,
        probation_rounds=0,
        emission_wei=ETHER,
        notice_rounds=1,
        max_participants=min(nodes, 64),
    )
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="flchain-scale-v2-") as tmp, open_chain(chain) as b:
        driver = RoundDriverV2.deploy(
            b, LocalStore(Path(tmp) / "store", fsync=False), nodes, rules=rules, seed=nodes,
            salt_seed=SALT_SEED, workers=workers,
            progress=None if quiet else progress_printer(5.0),
        )  # fmt: skip
        deployed = time.perf_counter() - started
        failures = 0
        for r in range(rounds):
            failures += len(driver.play_round(r).failures)
        driver.step_phase(rounds, Phase.COMMIT)
        final = sum(driver.gov.round_view(r).final_result != bytes(32) for r in range(rounds))
        digest = driver.gov.latest().merged_digest.hex()
        blocks = b.w3.eth.block_number - driver.gov.from_block
    wall = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # anvil, once stopped and reaped
    return {
        "wall_s": wall,
        "deploy_s": deployed,
        "cpu_s": time.process_time() - cpu,
        "child_cpu_s": children.ru_utime + children.ru_stime,
        "rss_mib": own.ru_maxrss / 1024,
        "child_rss_mib": children.ru_maxrss / 1024,
        "final": final,
        "failures": failures,
        "blocks": blocks,
        "digest": digest,
    }


def measure_simulation(
    nodes: int, days: int, workers: int, processes: int, out: Path
) -> dict[str, Any]:
    """One `flchain simulate --chain anvil` in this process; the figures as a dict."""
    from flchain.simulate import SimulationConfig, run_simulation

    started, cpu = time.perf_counter(), time.process_time()
    config = SimulationConfig(
        nodes=nodes, days=days, chain="anvil", workers=workers, processes=processes
    )
    result = run_simulation(config, out, force=True, progress=False)
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "child_cpu_s": children.ru_utime + children.ru_stime,
        "rss_mib": own.ru_maxrss / 1024,
        "child_rss_mib": children.ru_maxrss / 1024,
        "final": sum(r.finalized for r in result.rounds),
        "table": (out / "table.txt").read_text(),
    }


def audit_folder(run: Path) -> tuple[int, float]:
    """`flchain audit --run RUN --all` as a user runs it: its exit code and wall time."""
    flchain = Path(sys.executable).with_name("flchain")
    started = time.perf_counter()
    done = subprocess.run(
        [str(flchain), "audit", "--run", str(run), "--all"], stdout=subprocess.PIPE, text=True
    )
    (run.parent / f"{run.name}.audit.txt").write_text(done.stdout)
    return done.returncode, time.perf_counter() - started


def simulate_main(opts: argparse.Namespace) -> None:
    sizes = [tuple(int(x) for x in s.split("x")) for s in opts.sizes.split(",")]
    keep = Path(opts.keep) if opts.keep else Path(tempfile.mkdtemp(prefix="flchain-sim-big-"))
    rows = []
    modes = (
        ("sequential", 1, 1),
        ("concurrent", opts.workers, 1),
        ("pooled", opts.workers, opts.processes),
    )
    for n, d in sizes:
        for mode, workers, processes in modes:
            if mode not in opts.modes.split(","):
                continue
            out = keep / f"sim-{n}x{d}-w{workers}-p{processes}"
            print(
                f"flchain simulate {n} × {d} anvil, {mode} (workers {workers}, processes "
                f"{processes}) …",
                file=sys.stderr,
            )
            args = [sys.executable, __file__, "--one-sim", f"{n}:{d}:{workers}:{processes}:{out}"]
            line = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True).stdout
            fig = json.loads(line.strip().splitlines()[-1])
            fig["audit"] = audit_folder(out) if opts.audit else None
            rows.append((n, d, mode, workers, fig))
    print(
        f"\n{'simulate':<14}{'mode':<12}{'wall s':>8}{'cpu s':>8}{'child cpu s':>12}"
        f"{'RSS MiB':>9}{'child MiB':>10}{'final':>7}{'audit':>16}"
    )
    for n, d, mode, _, f in rows:
        audit = "-" if f["audit"] is None else f"exit {f['audit'][0]}, {f['audit'][1]:.0f} s"
        print(
            f"{f'{n} × {d} anvil':<14}{mode:<12}{f['wall_s']:>8.1f}{f['cpu_s']:>8.1f}"
            f"{f['child_cpu_s']:>12.1f}{f['rss_mib']:>9.0f}{f['child_rss_mib']:>10.0f}"
            f"{f['final']:>5}/{d}{audit:>16}"
        )
    tables: dict[tuple[int, int], dict[str, str]] = {}
    for n, d, mode, _, f in rows:
        tables.setdefault((n, d), {})[mode] = f["table"]
    for (n, d), found in tables.items():
        if len(found) > 1:
            same = "equal" if len(set(found.values())) == 1 else "DIFFERENT"
            print(f"{n} × {d}: {', '.join(found)} tables {same}")
    print(f"run folders in {keep}")


def run_child(chain: str, nodes: int, rounds: int, workers: int, quiet: bool) -> dict[str, Any]:
    """`measure` in a fresh interpreter (so peak RSS is this configuration's alone)."""
    args = [sys.executable, __file__, "--one", f"{chain}:{nodes}:{rounds}:{workers}"]
    if quiet:
        args.append("--quiet")
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="NODESxROUNDS, comma-separated")
    ap.add_argument("--big", action="store_true", help=f"add {BIG_SIZE} (anvil only)")
    ap.add_argument("--chains", default="anvil,embedded")
    ap.add_argument("--workers", type=int, default=16, help="nodes stepped at once")
    ap.add_argument(
        "--modes",
        default="sequential,concurrent,pooled",
        help="which to run (pooled: --simulate only)",
    )
    ap.add_argument(
        "--processes",
        type=int,
        default=2,
        help="--simulate: processes in all of pooled (the simulation's, N - 1 training)",
    )
    ap.add_argument("--quiet", action="store_true", help="no per-phase progress")
    ap.add_argument("--simulate", action="store_true", help="measure `flchain simulate`")
    ap.add_argument("--audit", action="store_true", help="--simulate: audit each run folder")
    ap.add_argument("--keep", help="--simulate: keep the run folders here")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--one-sim", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.one_sim:
        n, d, w, p, out = opts.one_sim.split(":", 4)
        print(json.dumps(measure_simulation(int(n), int(d), int(w), int(p), Path(out))))
        return
    if opts.simulate:
        simulate_main(opts)
        return
    if opts.one:
        chain, n, r, w = opts.one.split(":")
        print(json.dumps(measure(chain, int(n), int(r), int(w), opts.quiet)))
        return
    sizes = [tuple(int(x) for x in s.split("x")) for s in opts.sizes.split(",")]
    chains = opts.chains.split(",")
    runs: list[tuple[str, int, int, str, dict[str, Any]]] = []
    plan = [(c, n, r) for n, r in sizes for c in chains]
    if opts.big:
        n, r = (int(x) for x in BIG_SIZE.split("x"))
        plan.append(("anvil", n, r))
    for chain, n, r in plan:
        modes = [("sequential", 1)]
        if chain == "anvil":
            modes.append(("concurrent", min(opts.workers, n)))
        for mode, workers in [m for m in modes if m[0] in opts.modes.split(",")]:
            print(f"{n} × {r} on {chain}, {mode} (workers {workers}) …", file=sys.stderr)
            runs.append((chain, n, r, mode, run_child(chain, n, r, workers, opts.quiet)))
    print(
        f"\n{'federation':<18}{'mode':<12}{'wall s':>8}{'deploy s':>10}{'cpu s':>8}"
        f"{'anvil cpu s':>12}{'RSS MiB':>9}{'anvil MiB':>10}{'blocks':>8}{'final':>7}"
        f"{'fail':>6}  merged digest"
    )
    digests: dict[tuple[str, int, int], set[str]] = {}
    for chain, n, r, mode, f in runs:
        digests.setdefault((chain, n, r), set()).add(f["digest"])
        anvil = chain == "anvil"
        print(
            f"{f'{n} × {r} {chain}':<18}{mode:<12}{f['wall_s']:>8.1f}{f['deploy_s']:>10.1f}"
            f"{f['cpu_s']:>8.1f}{f['child_cpu_s'] if anvil else 0:>12.1f}{f['rss_mib']:>9.0f}"
            f"{f['child_rss_mib'] if anvil else 0:>10.0f}{f['blocks']:>8}{f['final']:>5}/{r}"
            f"{f['failures']:>6}  {f['digest'][:16]}"
        )
    modes_run = {(c, n, r): set() for c, n, r, _, _ in runs}
    for c, n, r, m, _ in runs:
        modes_run[(c, n, r)].add(m)
    for (chain, n, r), found in digests.items():
        if len(modes_run[(chain, n, r)]) == 2:
            same = "bit-identical" if len(found) == 1 else "DIFFERENT"
            print(f"{n} × {r} anvil: sequential vs concurrent merged model {same}")
    by = {(c, n, r, m): f for c, n, r, m, f in runs}
    for c, n, r, m, f in runs:
        if m == "concurrent" and (c, n, r, "sequential") in by:
            base = by[(c, n, r, "sequential")]
            rounds_s = f["wall_s"] - f["deploy_s"], base["wall_s"] - base["deploy_s"]
            print(
                f"{n} × {r} anvil rounds: concurrent {rounds_s[0]:.1f} s vs sequential "
                f"{rounds_s[1]:.1f} s ({rounds_s[1] / rounds_s[0]:.2f}× faster)"
            )


if __name__ == "__main__":
    main()

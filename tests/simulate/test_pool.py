"""`flchain simulate --chain anvil --processes N`: the honest nodes' training runs in worker
processes (`flchain.simulate.pool`), and the run is the one-process run bit for bit — the same
table, balances, outcomes and merged models (digest and CID of each round). Killed with SIGTERM,
Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGKILL, it leaves no
process behind: no worker, no resource tracker, no anvil."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from flchain.devnet.federation import genesis_model
from flchain.market.benchmark import shipped_window
from flchain.market.partition import node_partition
from flchain.node.update import UpdateInputs, prepare_update
from flchain.protocol import GlobalModel, Rules
from flchain.simulate import SimulationConfig, SimulationError, run_simulation
from flchain.simulate.pool import UpdatePool, pool_workers
from flchain.testing.cli import FLCHAIN, clean_env, run_flchain

DEVNET_TESTS = str(Path(__file__).resolve().parents[1] / "devnet")
if DEVNET_TESTS not in sys.path:
    sys.path.insert(0, DEVNET_TESTS)  # the /proc helpers of the devnet's kill tests

from _procs import GONE_S, UP_S, Family, Proc, names, poll  # noqa: E402

NODE = "0x00000000000000000000000000000000000000Bb"


def _inputs(seed: int) -> UpdateInputs:
    genesis = genesis_model()
    return UpdateInputs(
        chain_id=1, contract="0x" + "11" * 20, round=1, node=NODE,
        base=GlobalModel(round=0, digest=genesis.digest, cid=genesis.cid),
        base_weights=genesis.payload, directive=None, bars=node_partition(NODE, 1)[0],
        rules=Rules(fee_ppm=1_000), benchmark=shipped_window(0), seed=seed,
    )  # fmt: skip


def test_a_pooled_update_is_the_in_process_one() -> None:
    inputs = [_inputs(seed) for seed in (1, 2, 3)]
    with UpdatePool(2) as pool:
        assert len(multiprocessing.active_children()) >= 2
        pooled = [f.result() for f in [pool.submit(i) for i in inputs]]
        pool.check()
    assert pooled == [prepare_update(i) for i in inputs]  # trained here, in this process
    assert len({u.payload for u in pooled}) == 3  # the seeds mattered: a real training each
    assert not [p for p in multiprocessing.active_children() if "Process" in p.name]


def test_a_dead_worker_stops_the_run() -> None:
    with UpdatePool(2) as pool:
        pool.prepare(_inputs(1))
        pool.check()
        victim = multiprocessing.active_children()[0]
        os.kill(victim.pid or 0, signal.SIGKILL)  # the fault, on purpose: a worker killed
        victim.join(GONE_S)
        with pytest.raises(BrokenProcessPool):
            pool.prepare(_inputs(2))
        with pytest.raises(SimulationError, match="training worker process ended"):
            pool.check()


def test_processes_need_nodes_stepped_at_once_on_anvil() -> None:
    assert pool_workers(SimulationConfig(chain="anvil", workers=4, processes=3)) == 2
    assert pool_workers(SimulationConfig(chain="anvil", workers=4, processes=1)) == 0
    assert pool_workers(SimulationConfig(chain="anvil", workers=1)) == 0
    assert pool_workers(SimulationConfig()) == 0  # embedded: one node after another
    for bad in ({"processes": 2}, {"chain": "anvil", "workers": 1, "processes": 2}):
        with pytest.raises(ValidationError, match="--processes"):
            SimulationConfig(**bad)
    done = run_flchain("simulate", "--processes", "2", env=clean_env())
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "need --chain anvil, --workers 2 or more" in done.stderr


def _merged(run: Path) -> list[Any]:
    docs = [json.loads(p.read_text()) for p in sorted((run / "manifests").glob("round-*.json"))]
    return [(d["round"], d["merged"], d["weights"], d["outcome"]) for d in docs]


@pytest.mark.slow
@pytest.mark.anvil
def test_a_pooled_simulation_is_the_one_process_run(tmp_path: Path) -> None:
    def run(workers: int, processes: int) -> tuple[Any, Path]:
        config = SimulationConfig(
            nodes=6, days=2, chain="anvil", workers=workers, processes=processes
        )
        out = tmp_path / f"w{workers}-p{processes}"
        return run_simulation(config, out, progress=False), out

    one, one_dir = run(1, 1)
    pooled, pooled_dir = run(4, 3)  # two training workers
    assert (pooled_dir / "table.txt").read_text() == (one_dir / "table.txt").read_text()
    assert pooled.balances == one.balances and pooled.outcomes == one.outcomes
    assert [r.finality for r in pooled.rounds] == ["final", "final"]
    merged = _merged(pooled_dir)
    assert len(merged) == 2 and merged == _merged(one_dir)


# --- killed ------------------------------------------------------------------------------------


def _is_pool_worker(p: Proc) -> bool:
    return "--multiprocessing-fork" in p.argv


@pytest.mark.slow
@pytest.mark.anvil
@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name
)
def test_a_killed_pooled_simulation_leaves_no_process(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "run"
    argv = [FLCHAIN, "simulate", "--nodes", "6", "--days", "3", "--chain", "anvil"]
    argv += ["--workers", "4", "--processes", "3", "--out", str(out), "--quiet"]
    with (tmp_path / "stderr.txt").open("wb") as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            env=clean_env(), start_new_session=True,  # a group of its own, as a shell job
        )  # fmt: skip
    family = Family(proc.pid, {})

    def stderr() -> str:
        return (tmp_path / "stderr.txt").read_text(errors="replace")

    def why() -> str:
        return f"exit code {proc.poll()}, {names(family.alive())}, stderr: {stderr()[-2000:]}"

    try:

        def workers() -> list[Proc] | None:
            if proc.poll() is not None:
                raise AssertionError(f"the run ended before its pool started: {why()}")
            found = [p for p in family.refresh().alive() if _is_pool_worker(p)]
            return found if len(found) == 2 else None

        poll("two training workers", workers, UP_S, why=why)
        family.refresh()
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # Ctrl-C: the workers get it too, and must ignore it
        else:
            proc.send_signal(sig)
        code = proc.wait(timeout=GONE_S)
        poll("no process of the run left", lambda: not family.alive(), GONE_S, why=why)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        family.kill_leftovers()
    assert "Traceback" not in stderr(), stderr()
    assert not out.exists()
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:
        assert code == 128 + sig, why()
        assert f"simulation interrupted by {sig.name}: no run folder written" in stderr()

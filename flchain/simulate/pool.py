"""The training of the simulation's honest nodes in worker processes (`--processes`).

On anvil the honest nodes of a phase step on threads of one process (`flchain.simulate.phases`),
and their Python — web3, and the training of each commit — shares one interpreter lock, so one
core. `UpdatePool` runs the one pure, CPU-bound piece of a step, `prepare_update` (train from the
base, compute the honest claim), in a `concurrent.futures.ProcessPoolExecutor` of spawned
workers: a node's thread hands its `UpdateInputs` to a worker and waits for the `Update`, while
the other threads send transactions. The runner still calls the daemon's code (`NodeRunnerV2`
builds its inputs and seals the update; `PooledHonest` is the honest `Behaviour` whose
`prepare` is `prepare_update` run elsewhere), and the update is a function of exactly the inputs
handed over, so nothing can reach the wrong node. Training is deterministic per DESIGN §4 (one
torch thread, deterministic algorithms) in any process, so the run is the one-process run bit
for bit (tests/simulate/test_pool.py).

Why not Ray (`ray` 2.60 on PyPI): its local mode is serial, so it would be tasks on a local
cluster — a GCS, a raylet and workers per start, 260 MB installed — for one or two workers on one
machine. Measured here under the same load, spawned workers importing what training imports:
the stdlib pool answered its first tasks after 5.7 s and took 0.30 ms a task (60 kB argument);
Ray after 15.2 s, 1.0 ms a task. The stdlib pool needs nothing new.

It is off by default (`DEFAULT_PROCESSES`): on this project's 2-core machine the training is
about a seventh of the simulation's CPU, and a worker's own costs eat what it frees.

Workers never outlive the simulation: they ignore SIGINT from their first instruction on (the
simulation handles Ctrl-C and closes the pool), and each asks the kernel for SIGKILL when its
parent ends (``prctl(PR_SET_PDEATHSIG)``): the pool starts them all from the thread that opens
it, which lives as long as the run (the signal follows the thread that started the process).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Self

from flchain.node.behaviour import Behaviour
from flchain.node.update import Update, UpdateInputs, prepare_update
from flchain.simulate.config import SimulationConfig, SimulationError

__all__ = ["DEFAULT_PROCESSES", "PooledHonest", "UpdatePool", "pool_workers"]

#: Processes in all when `--processes` is not given: the simulation's alone. Measured on the
#: 2-core machine this was built on (bench/scale_v2.py --simulate, 100 × 2, load 4–8), a worker
#: frees 3–5 s of the simulation's CPU but costs ~6 s elsewhere (its start-up imports torch,
#: the inputs and updates are pickled), on a second core that anvil shares: 31.6–33.6 s against
#: 30.6–32.8 s without. A machine with idle cores may gain; the run is the same either way.
DEFAULT_PROCESSES = 1
_PR_SET_PDEATHSIG = 1


def pool_workers(config: SimulationConfig) -> int:
    """How many worker processes train the honest updates of the run `config`: `processes` in
    all less the simulation's own (0: none, they train in the nodes' threads). Only a run that
    steps nodes at once (anvil, `workers` > 1) has a pool."""
    if config.chain != "anvil" or config.workers < 2 or config.protocol != 2:
        return 0
    processes = DEFAULT_PROCESSES if config.processes is None else config.processes
    return processes - 1


def _tie_to_parent(parent: int) -> None:
    """In a worker: SIGKILL when the parent ends; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pool's own shutdown is the only guard
        pass
    if os.getppid() != parent:  # the parent ended before prctl: no signal will come
        os.kill(os.getpid(), signal.SIGKILL)


def _ready() -> int:
    return os.getpid()


class UpdatePool:
    """`workers` spawned processes running `prepare_update`; a context manager (started on
    entering, every worker stopped on any exit)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"a pool needs at least 1 worker, not {workers}")
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self.broken = False

    def __enter__(self) -> Self:
        executor = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_tie_to_parent,
            initargs=(os.getpid(),),
        )
        self._executor = executor
        # A worker is started by the submit that finds none idle: these start them all now, on
        # this thread, not on a node's thread that ends with its phase (and would take the
        # worker with it through the parent-death signal). Not waited for: the workers import
        # torch while the simulation deploys.
        # SIGINT blocked while they are forked: a worker starts with it blocked (the mask is
        # inherited across exec), so a Ctrl-C to the process group during its start-up cannot
        # end it with a traceback before its initializer ignores the signal. A Ctrl-C to this
        # process meanwhile stays pending, and arrives when the mask is restored.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for _ in range(self.workers):
                executor.submit(_ready)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def submit(self, inputs: UpdateInputs) -> Future[Update]:
        if self._executor is None:
            raise RuntimeError("the update pool is not open")
        return self._executor.submit(prepare_update, inputs)

    def prepare(self, inputs: UpdateInputs) -> Update:
        """`prepare_update(inputs)`, computed by a worker."""
        try:
            return self.submit(inputs).result()
        except BrokenProcessPool:
            self.broken = True
            raise

    def check(self) -> None:
        """Raise `SimulationError` once a worker died: each node would only report a failed
        commit from then on, and the run would no longer be the one-process run."""
        if self.broken:
            raise SimulationError(
                "a training worker process ended abruptly (killed, or out of memory?): the "
                "simulation is stopped; run it again, or with --processes 1"
            )


class PooledHonest(Behaviour):
    """The honest behaviour with its update prepared by `pool`'s workers."""

    def __init__(self, pool: UpdatePool) -> None:
        self.pool = pool

    def prepare(self, inputs: UpdateInputs) -> Update:
        return self.pool.prepare(inputs)

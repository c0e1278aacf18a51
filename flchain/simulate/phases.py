"""One phase of a v2 round, stepped by many `NodeRunnerV2`s at once on an anvil the caller mines.

Shared by `flchain simulate --chain anvil` and `flchain.testing.driver.RoundDriverV2` (which
`flchain.simulate` may not import): `step_phase` runs each runner's step — the daemon's code —
in order when `workers` is 1, else on `workers` threads, one per node as one daemon per node
would, each waiting only for its own receipts, while a `Miner` thread mines every pending
transaction into the next block (automine off for the phase). The chain sees the same calls,
in batches instead of one block each. The first runner steps alone first, so what any one node
does for all (open the round, post the beacon) is done once, as in order, not raced by every
thread; the finalization is raced by the nodes whose attestation lands once the tally reached
the threshold (the losers' `finalize` reverts with `AlreadyFinal`, which their reports list as
done). What the merge reads is the same, so the merged bytes are too.

The owner freezes anvil's clock (`AnvilControl.freeze_time`): block timestamps move only when it
moves time, so a phase that takes longer than its window in wall time is not lost, and the
batches of one phase share its timestamp. What the threads share is made thread-safe here
(`SharedMemo`, `SharedBeaconSource`); `SeededSalts` gives two runs of one federation the same
salts, so a concurrent run can be compared with a sequential one bit for bit.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from flchain.devnet.anvil import AnvilControl
from flchain.ledger import Backend, ChainConfigError, RpcBackend
from flchain.node.runner_v2 import DevnetBeaconSource, NodeRunnerV2, StepReportV2
from flchain.node.salt import SaltStore
from flchain.protocol import Address
from flchain.protocol.machine import Phase
from flchain.replay import MergeMemo

__all__ = [
    "CONCURRENT_POLL_S",
    "PHASE_ACTION",
    "PhaseProgress",
    "PhaseTracker",
    "ProgressCallback",
    "SeededSalts",
    "SharedBeaconSource",
    "SharedMemo",
    "anvil_control",
    "check_workers",
    "step_phase",
]

#: What each phase's progress counts (the step report's field of the phase's own action) and
#: how it says so.
PHASE_ACTION: Mapping[Phase, tuple[str, str]] = {
    Phase.COMMIT: ("committed", "committed"),
    Phase.REVEAL: ("revealed", "revealed"),
    Phase.BEACON: ("beacons", "posted the beacon"),
    Phase.ATTEST: ("attested", "attested"),
}
#: Between two looks at the receipt in the concurrent mode: the owner mines as soon as a
#: transaction is pending, so the policy's 0.5 s would be most of each transaction's time.
CONCURRENT_POLL_S = 0.05
#: Between two looks of the miner at the pool: what arrives meanwhile shares one block.
MINER_GATHER_S = 0.02


@dataclass(frozen=True)
class PhaseProgress:
    """How far the steps of one phase are: `stepped` of `total` nodes finished their step,
    `acted` of them did the phase's action (committed, revealed, posted the beacon, attested),
    `failed` reported a failure; `eta_s` extrapolates the mean step so far."""

    round: int
    phase: Phase
    stepped: int
    acted: int
    failed: int
    total: int
    elapsed_s: float

    @property
    def action(self) -> str:
        return PHASE_ACTION.get(self.phase, ("", "acted"))[1]

    @property
    def eta_s(self) -> float | None:
        if not self.stepped:
            return None
        return self.elapsed_s / self.stepped * (self.total - self.stepped)

    def line(self) -> str:
        eta = "" if self.eta_s is None else f", ETA {self.eta_s:.0f} s"
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"round {self.round} {self.phase.name.lower()}: {self.acted} {self.action} of "
            f"{self.total} ({self.stepped} stepped{failed}), {self.elapsed_s:.1f} s{eta}"
        )


ProgressCallback = Callable[[PhaseProgress], None]


class PhaseTracker:
    """Counts the finished steps of one phase of `total` nodes (over one or more `step_phase`
    calls) and tells `callback` after each."""

    def __init__(
        self, round: int, phase: Phase, total: int, callback: ProgressCallback | None
    ) -> None:
        self.round, self.phase, self.total, self.callback = round, phase, total, callback
        self.started = time.perf_counter()
        self.stepped = self.acted = self.failed = 0
        self.lock = threading.Lock()

    def done(self, report: StepReportV2) -> None:
        if self.callback is None:
            return
        with self.lock:
            self.stepped += 1
            field_name = PHASE_ACTION.get(self.phase, ("", ""))[0]
            self.acted += self.round in getattr(report, field_name, ())
            self.failed += bool(report.failures)
            progress = PhaseProgress(
                self.round, self.phase, self.stepped, self.acted, self.failed, self.total,
                time.perf_counter() - self.started,
            )  # fmt: skip
        self.callback(progress)


class SeededSalts(SaltStore):
    """Commit salts drawn from `seed` instead of the OS, so two runs of one federation reveal
    the same salts and merge the same round. Only for a simulated node: whoever knows the seed
    can open its commitments."""

    def __init__(self, seed: bytes, node: Address) -> None:
        super().__init__(None)
        self.seed, self.node = seed, node.lower()

    def salt(self, round: int) -> bytes:
        found = self.get(round)
        if found is None:
            found = hashlib.sha256(b"%s|%s|%d" % (self.seed, self.node.encode(), round)).digest()
            self._memory[round] = found
        return found


class SharedMemo(MergeMemo):
    """A `MergeMemo` the nodes' threads share: the first to ask computes, the others wait."""

    def __init__(self, max_entries: int = MergeMemo().max_entries) -> None:
        super().__init__(max_entries)
        self._lock = threading.Lock()

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        with self._lock:
            return super().cached(key, compute)


@dataclass(frozen=True)
class SharedBeaconSource(DevnetBeaconSource):
    """A `DevnetBeaconSource` the nodes' threads share: one BLS signature a round, not one
    per thread (each is most of a second of pure Python)."""

    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def signature(self, beacon_round: int) -> bytes | None:
        with self._lock:
            return super().signature(beacon_round)


class Miner:
    """While open: automine off, and a thread that mines every pending transaction into the
    next block (anvil's frozen clock gives it the latest timestamp). On close the pool is
    mined empty and automine is back on; an error of the thread is raised there, unless the
    block is left by an error already."""

    def __init__(self, control: AnvilControl) -> None:
        self.control = control
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="flchain-miner", daemon=True)

    def _run(self) -> None:
        try:
            while not self.stop.wait(MINER_GATHER_S):
                if self.control.pending():
                    self.control.mine()
        except BaseException as exc:  # surfaced by close(): a dead miner stalls every sender
            self.error = exc

    def __enter__(self) -> Miner:
        self.control.set_automine(False)
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        try:
            try:
                if self.control.pending():
                    self.control.mine()
            finally:
                self.control.set_automine(True)
        except Exception:
            if kind is None:
                raise
            # Already failing — a SIGTERM that stopped anvil, say: that error tells what
            # happened, not this one (which would replace it and lose the signal's exit code).
        if self.error is not None and kind is None:
            raise self.error


def anvil_control(backend: Backend) -> AnvilControl | None:
    """The controls of `backend` when it is an anvil (its owner can mine it), else None."""
    if isinstance(backend, RpcBackend) and backend.kind == "anvil":
        return AnvilControl(backend)
    return None


def check_workers(backend: Backend, workers: int) -> None:
    """Refuse a concurrent mode the backend cannot run: only an anvil its owner mines."""
    if workers < 1:
        raise ChainConfigError(f"workers must be at least 1, not {workers}")
    if workers > 1 and anvil_control(backend) is None:
        raise ChainConfigError(
            f"stepping {workers} nodes at once needs an anvil the simulation mines, not a "
            f"{backend.kind} chain; use 1 worker"
        )


_T = TypeVar("_T")
RunAll = Callable[[Sequence[Callable[[], _T]]], list[_T]]


@contextmanager
def _concurrently(control: AnvilControl | None, workers: int) -> Iterator[RunAll[Any]]:
    """A runner of thunks: in order when `workers` is 1; else on `workers` threads while a
    `Miner` mines what they send. Results in the thunks' order; the first error is raised
    once every thunk has ended (a thread cannot be stopped halfway through its step)."""
    if workers == 1 or control is None:
        yield lambda thunks: [t() for t in thunks]
        return
    with Miner(control), ThreadPoolExecutor(workers, thread_name_prefix="flchain-node") as pool:

        def run_all(thunks: Sequence[Callable[[], Any]]) -> list[Any]:
            futures = [pool.submit(t) for t in thunks]
            wait(futures)
            return [f.result() for f in futures]

        yield run_all


def step_phase(
    round: int,
    phase: Phase,
    runners: Sequence[NodeRunnerV2],
    *,
    step: Callable[[NodeRunnerV2], StepReportV2] | None = None,
    control: AnvilControl | None = None,
    workers: int = 1,
    tracker: PhaseTracker | None = None,
) -> list[StepReportV2]:
    """Step each of `runners` once through `step` (default `runner.step()`), in order or
    `workers` at a time while `control`'s anvil is mined; `tracker` counts each step. Chain
    time must already be in `phase` of `round`. Reports come in `runners` order."""
    run = step or (lambda runner: runner.step())
    tracker = tracker or PhaseTracker(round, phase, len(runners), None)

    def stepped(runner: NodeRunnerV2) -> StepReportV2:
        report = run(runner)
        tracker.done(report)
        return report

    thunks = [partial(stepped, r) for r in runners]
    with _concurrently(control, workers) as run_all:
        return list(run_all(thunks[:1]) + run_all(thunks[1:]))

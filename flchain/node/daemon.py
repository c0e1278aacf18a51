"""`flchain node run`: the unattended loop around `NodeRunner.step`.

One daemon per wallet (an exclusive file lock under the data dir); outages of the RPC endpoint
or the IPFS daemon are retried with exponential backoff and logged, never fatal; SIGINT and
SIGTERM stop the loop between steps. Killing it (SIGKILL) at any point is safe: see
`flchain.node.runner` for why a restart neither commits twice nor misses a reveal.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from filelock import FileLock, Timeout

from flchain.errors import FlchainError, UnavailableError
from flchain.node.errors import NodeLocked, NotRegistered
from flchain.node.runner import NodeRunner, describe_error

log = logging.getLogger("flchain.node")


@contextmanager
def wallet_lock(data_dir: Path, address: str) -> Iterator[Path]:
    """Hold the per-wallet daemon lock; a second holder gets `NodeLocked` at once."""
    path = Path(data_dir).expanduser() / "locks" / f"node-{address.lower()}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise NodeLocked(
            f"another flchain node daemon is already running for wallet {address} (lock {path})"
        ) from None
    try:
        yield path
    finally:
        lock.release()


class Backoff:
    """Exponential backoff: initial, ×2 per failure, capped; reset on success."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum = initial, maximum
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        return float(min(self.maximum, self.initial * 2 ** (self.failures - 1)))

    def reset(self) -> None:
        self.failures = 0


class Daemon:
    """Runs `runner.step()` every `poll_s` seconds until stopped."""

    def __init__(
        self, runner: NodeRunner, *, poll_s: float = 2.0, backoff: Backoff | None = None
    ) -> None:
        self.runner = runner
        self.poll_s = poll_s
        self.backoff = backoff or Backoff(0.5, 30.0)
        self.stopping = threading.Event()

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        if not self.stopping.is_set():
            log.info("stopping (%s)", signal.Signals(signum).name if signum else "requested")
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)

    def run(self, max_steps: int | None = None) -> int:
        """Loop until stopped (or `max_steps`); returns the number of steps taken."""
        steps = 0
        log.info("node %s running on contract %s", self.runner.address, self.runner.ledger.address)
        while not self.stopping.is_set() and (max_steps is None or steps < max_steps):
            delay = self.poll_s
            try:
                report = self.runner.step()
                self.backoff.reset()
                for action in report.actions:
                    log.info("round %d %s: %s", report.round, report.phase.name.lower(), action)
            except UnavailableError as exc:
                delay = self.backoff.next_delay()
                log.warning("%s; retrying in %.1f s", describe_error(exc), delay)
            except NotRegistered:
                raise
            except FlchainError as exc:
                delay = self.backoff.next_delay()
                log.error("%s; retrying in %.1f s", describe_error(exc), delay)
            steps += 1
            self.stopping.wait(delay)
        log.info("node %s stopped", self.runner.address)
        return steps

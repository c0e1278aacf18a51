"""`flchain node run`: the unattended loop around `NodeRunner.step`.

One daemon per wallet (an exclusive file lock under the data dir); outages of the RPC endpoint
or the IPFS daemon are retried with exponential backoff and logged, never fatal; SIGINT and
SIGTERM stop the loop between steps. Killing it (SIGKILL) at any point is safe: see
`flchain.node.runner` for why a restart neither commits twice nor misses a reveal.

A reorg that replaced blocks holding this node's transactions and a commit or reveal that
missed its window are logged as warnings (the runner rebuilds the round, or moves on). A failed
step is logged as one line and retried with backoff, whatever failed: a refusal the
node can name (a chain reset that left no contract at the address is said as such, the way
`flchain chain info` says it), and also an error of the web3 stack nobody turned into a
`FlchainError` (a transaction the chain refused, e.g. for insufficient funds). A daemon must
outlive what an operator can fix while it runs.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from types import FrameType

from flchain.devnet.process import exclusive_lock
from flchain.errors import FlchainError, UnavailableError
from flchain.ledger import Ledger
from flchain.ledger.errors import ChainConfigError, LedgerError
from flchain.node.errors import (
    NodeLocked,
    NotRegistered,
    describe_foreign_error,
    from_library,
)
from flchain.node.metrics import NodeMetrics
from flchain.node.runner import NodeRunner, StepReport, describe_error

log = logging.getLogger("flchain.node")


def wallet_lock(data_dir: Path, address: str) -> AbstractContextManager[Path]:
    """Hold the per-wallet daemon lock; a second holder gets `NodeLocked` at once."""
    return exclusive_lock(
        Path(data_dir).expanduser() / "locks" / f"node-{address.lower()}.lock",
        lambda path: NodeLocked(
            f"another flchain node daemon is already running for wallet {address} (lock {path})"
        ),
    )


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
        self,
        runner: NodeRunner,
        *,
        poll_s: float = 2.0,
        backoff: Backoff | None = None,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self.runner = runner
        self.poll_s = poll_s
        self.backoff = backoff or Backoff(0.5, 30.0)
        self.metrics = metrics
        self.stopping = threading.Event()
        self._round: int | None = None  # the round the last successful step saw

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
                    # a reorg that took this node's transactions, or a window missed: worth a look
                    noted = action.startswith(("reorg:", "missed the "))
                    log.log(
                        logging.WARNING if noted else logging.INFO,
                        "round %d %s: %s", report.round, report.phase.name.lower(), action,
                    )  # fmt: skip
                self._observe(report)
            except NotRegistered:
                raise
            except UnavailableError as exc:
                delay = self._failed(logging.WARNING, exc, describe_error(exc))
            except FlchainError as exc:
                delay = self._failed(logging.ERROR, exc, self._diagnose(exc))
            except Exception as exc:
                if not from_library(exc):
                    raise  # a bug: let it show
                delay = self._failed(logging.ERROR, exc, describe_foreign_error(exc))
            steps += 1
            self.stopping.wait(delay)
        log.info("node %s stopped", self.runner.address)
        return steps

    def _failed(self, level: int, exc: BaseException, line: str) -> float:
        delay = self.backoff.next_delay()
        log.log(level, "%s; retrying in %.1f s", line, delay)
        if self.metrics is not None:
            self.metrics.observe_error(type(exc).__name__, line)
        return delay

    def _diagnose(self, exc: FlchainError) -> str:
        """The error's line; for a failed contract read, what is wrong with the deployment if
        anything is (after a chain reset: no code at the address any more)."""
        if isinstance(exc, LedgerError) and not isinstance(exc, ChainConfigError):
            ledger = self.runner.ledger
            try:
                Ledger.connect(ledger.backend, ledger.address, from_block=ledger.from_block)
            except ChainConfigError as found:
                return (
                    f"{type(found).__name__}: {found.message} (was the chain reset or the "
                    "contract setting changed? check `flchain chain info`)"
                )
            except FlchainError:
                pass
        return describe_error(exc)

    def _observe(self, report: StepReport) -> None:
        """Metrics of a successful step, and a missed round when one closed without our reveal."""
        previous, self._round = self._round, report.round
        if self.metrics is None:
            return
        self.metrics.observe_step(report)
        self.metrics.observe_balance(
            int(self.runner.ledger.w3.eth.get_balance(self.runner.address))
        )
        if previous is None or report.round <= previous:
            return
        for closed in range(previous, report.round):
            if closed in self.runner.sat_out:
                continue
            if not self.runner.commit_state(closed).revealed:
                self.metrics.observe_missed()

"""`flchain node run`: the unattended loop around `NodeRunner.step` (protocol v1) or
`NodeRunnerV2.step` (v2; `runner_for` picks it from `connect_ledger`'s answer).

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
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from types import FrameType

from eth_account.signers.local import LocalAccount

from flchain.devnet.process import exclusive_lock
from flchain.errors import FlchainError, UnavailableError
from flchain.ledger import Ledger, LedgerV2, connect_ledger
from flchain.ledger.errors import ChainConfigError, LedgerError
from flchain.market import OHLCV
from flchain.node.errors import (
    NodeLocked,
    NodeWithdrawn,
    NotRegistered,
    describe_foreign_error,
    from_library,
)
from flchain.node.metrics import NodeMetrics
from flchain.node.runner import NodeRunner, StepReport, describe_error
from flchain.node.runner_v2 import (
    COLLECT_EVERY_ROUNDS,
    BeaconSource,
    MarketBars,
    NodeRunnerV2,
    StepReportV2,
)
from flchain.node.salt import SaltStore
from flchain.storage import ContentStore

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


def runner_for(
    ledger: Ledger | LedgerV2,
    account: LocalAccount,
    store: ContentStore,
    bars_for: Callable[[str], OHLCV],
    *,
    data_dir: Path,
    beacon: BeaconSource | None = None,
    market_bars: MarketBars | None = None,
    collect_every_rounds: int = COLLECT_EVERY_ROUNDS,
) -> NodeRunner | NodeRunnerV2:
    """The runner of the protocol the contract speaks (`connect_ledger`'s answer): v1's
    `NodeRunner`, or `NodeRunnerV2` with its salts persisted under `data_dir`, `beacon`
    (None: the node posts no beacon; a devnet passes its `DevnetBeaconSource`) and
    `market_bars` (None: it builds, posts and votes no forward window) and its collect schedule
    (`collect_every_rounds`; v1 has no collect)."""
    if isinstance(ledger, LedgerV2):
        salts = SaltStore.for_node(data_dir, ledger.chain_id, ledger.address, account.address)
        return NodeRunnerV2(
            ledger,
            account,
            store,
            bars_for,
            salts=salts,
            beacon=beacon,
            market_bars=market_bars,
            collect_every_rounds=collect_every_rounds,
        )
    return NodeRunner(ledger, account, store, bars_for)


class Daemon:
    """Runs `runner.step()` every `poll_s` seconds until stopped (either protocol's runner)."""

    def __init__(
        self,
        runner: NodeRunner | NodeRunnerV2,
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
        self.last_report: StepReport | StepReportV2 | None = None  # of the last successful step

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
                self.last_report = report
                self.backoff.reset()
                for action in report.actions:
                    # a reorg that took this node's transactions, or a window missed: worth a look
                    noted = action.startswith(("reorg:", "missed the "))
                    log.log(
                        logging.WARNING if noted else logging.INFO,
                        "round %d %s: %s", report.round, report.phase.name.lower(), action,
                    )  # fmt: skip
                if isinstance(report, StepReportV2) and self.metrics is not None:
                    for failure in report.failures:  # the runner logged each one
                        self.metrics.observe_error(failure.error, failure.line)
                self._observe(report)
            except NodeWithdrawn as exc:
                log.info("%s: nothing left to do", exc.message)
                break
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
                connect_ledger(ledger.backend, ledger.address, from_block=ledger.from_block)
            except ChainConfigError as found:
                return (
                    f"{type(found).__name__}: {found.message} (was the chain reset or the "
                    "contract setting changed? check `flchain chain info`)"
                )
            except FlchainError:
                pass
        return describe_error(exc)

    def _observe(self, report: StepReport | StepReportV2) -> None:
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
            if not self.runner.revealed_in(closed):
                self.metrics.observe_missed()

"""Prometheus metrics of one node daemon, served on 127.0.0.1 only (and only when asked for).

The endpoint is optional (`metrics_port` setting, `flchain node run --metrics-port`): a node
needs no inbound connection, and this one listens on the loopback interface for a local
Prometheus or an SSH tunnel. Metrics (all prefixed `flchain_node_`):

| name | type | meaning |
| --- | --- | --- |
| `rounds_committed_total` | counter | rounds this daemon committed |
| `rounds_revealed_total` | counter | rounds this daemon revealed |
| `rounds_attested_total` | counter | rounds this daemon attested |
| `rounds_missed_total` | counter | rounds seen to close without this node's reveal (sat-out rounds excluded) |
| `rounds_sat_out_total` | counter | rounds skipped because the claim was outside the ROI band |
| `rounds_settled_total` | counter | final rounds this node settled against (v2) |
| `rounds_finalized_total` | counter | rounds this node finalized (v2) |
| `beacons_posted_total` | counter | beacon signatures this node posted (v2) |
| `slashes_total` | counter | no-reveal slashes this node applied, each paying it a bounty (v2) |
| `errors_total{type}` | counter | step failures by error type (retried) |
| `last_error_timestamp_seconds` | gauge | when the last step failed (0: never) |
| `last_error_info{type,message}` | info | the last failure, one line |
| `wallet_balance_wei` | gauge | the wallet's balance at the last step |
| `round` | gauge | the chain's current round |
| `phase{phase}` | gauge | 1 for the current phase, 0 for the others (v1 and v2 phases) |

The round counters count what happened on-chain, once per round: a transaction a reorg took
away and the node sent again (`flchain.node.runner`) is still one committed round.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flchain.node.runner import StepReport
    from flchain.node.runner_v2 import StepReportV2

BIND_HOST = "127.0.0.1"
PHASES = ("NOT_STARTED", "COMMIT", "REVEAL", "CLOSED", "BEACON", "ATTEST")


class NodeMetrics:
    """The daemon's metrics in a registry of their own (nothing process-global)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Info

        self.registry = CollectorRegistry()
        r = self.registry

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
            return Counter(f"flchain_node_{name}", doc, labels, registry=r)

        self.committed = counter("rounds_committed", "Rounds committed")
        self.revealed = counter("rounds_revealed", "Rounds revealed")
        self.attested = counter("rounds_attested", "Rounds attested")
        self.missed = counter("rounds_missed", "Rounds closed without this node's reveal")
        self.sat_out = counter("rounds_sat_out", "Rounds skipped: claim outside the ROI band")
        self.settled = counter("rounds_settled", "Final rounds settled against (v2)")
        self.collects = counter("collects", "Collects of settled rewards (v2)")
        self.finalized = counter("rounds_finalized", "Rounds finalized (v2)")
        self.beacons = counter("beacons_posted", "Beacon signatures posted (v2)")
        self.slashes = counter("slashes", "No-reveal slashes applied (v2)")
        self.errors = counter("errors", "Step failures (retried)", ("type",))
        self.last_error_time = Gauge(
            "flchain_node_last_error_timestamp_seconds", "Time of the last failure", registry=r
        )
        self.last_error = Info("flchain_node_last_error", "The last failure", registry=r)
        self.balance = Gauge("flchain_node_wallet_balance_wei", "Wallet balance", registry=r)
        self.round = Gauge("flchain_node_round", "Current round", registry=r)
        self.phase = Gauge(
            "flchain_node_phase", "Current phase (1 = current)", ["phase"], registry=r
        )
        self._server: Any = None
        # the rounds each counter has counted (a few ints a day), so a re-send counts once
        self._counted: dict[Any, set[int]] = {}

    def _count_rounds(self, counter: Any, rounds: list[int]) -> None:
        counted = self._counted.setdefault(counter, set())
        new = set(rounds) - counted
        counted |= new
        counter.inc(len(new))

    def observe_step(self, report: StepReport | StepReportV2) -> None:
        self._count_rounds(self.committed, report.committed)
        self._count_rounds(self.revealed, report.revealed)
        self._count_rounds(self.attested, report.attested)
        self._count_rounds(self.sat_out, report.sat_out)
        from flchain.node.runner_v2 import StepReportV2

        if isinstance(report, StepReportV2):
            self._count_rounds(self.settled, report.settled)
            self._count_rounds(self.collects, report.collected)
            self._count_rounds(self.finalized, report.finalized)
            self._count_rounds(self.beacons, report.beacons)
            self.slashes.inc(len(report.slashed))
        self.round.set(report.round)
        for name in PHASES:
            self.phase.labels(phase=name).set(1 if report.phase.name == name else 0)

    def observe_missed(self, rounds: int = 1) -> None:
        self.missed.inc(rounds)

    def observe_balance(self, wei: int) -> None:
        self.balance.set(wei)

    def observe_error(self, kind: str, message: str) -> None:
        self.errors.labels(type=kind).inc()
        self.last_error_time.set(time.time())
        self.last_error.info({"type": kind, "message": message[:200]})

    def serve(self, port: int) -> int:
        """Serve /metrics on 127.0.0.1:`port` (0: a free port) in a thread; returns the port."""
        from prometheus_client import start_http_server

        from flchain.node.errors import NodeError

        try:
            server, _thread = start_http_server(port, addr=BIND_HOST, registry=self.registry)
        except OSError as exc:
            raise NodeError(
                f"cannot serve metrics on {BIND_HOST}:{port}: {exc.strerror or exc}; choose "
                "another --metrics-port (metrics_port) or leave it unset"
            ) from None
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def render(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()

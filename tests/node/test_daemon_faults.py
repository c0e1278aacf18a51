"""The node on what an operator meets: a chain reset under a running daemon, a claim outside the
ROI band, and the daemon's metrics and logs.

Failed before the fix: after a chain reset the daemon logged web3's "is contract deployed
correctly and chain synced?" every retry (`chain info` said "no contract code at …"), and a node
committed a claim outside the band the contract was sure to reject."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from flchain.devnet.anvil import AnvilProcess, DevChainError
from flchain.devnet.federation import deploy, deterministic_account, devnet_rules, fund_and_register
from flchain.devnet.journal import JournaledEmbeddedBackend
from flchain.ledger import Phase, RpcBackend
from flchain.node.context import bars_source
from flchain.node.daemon import Backoff, Daemon
from flchain.node.errors import NodeError
from flchain.node.logs import configure_logging
from flchain.node.metrics import NodeMetrics
from flchain.node.runner import NodeRunner
from flchain.simulate import SIM_T0
from flchain.storage import LocalStore


def test_daemon_names_a_chain_reset_and_keeps_retrying(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        proc = AnvilProcess().start()
    except DevChainError as exc:
        if "not found" in str(exc):
            pytest.skip(str(exc))
        raise
    try:
        backend = RpcBackend(proc.url, kind="anvil")
        before = backend.snapshot()
        store = LocalStore(tmp_path / "store", fsync=False)
        now = backend.latest_timestamp()
        ledger, _ = deploy(
            backend, deterministic_account("gov", 3), store, t0=now + 5, rules=devnet_rules(1)
        )
        node = deterministic_account("node", 3)
        fund_and_register(ledger, [node])
        runner = NodeRunner(ledger, node, store, bars_source("partition"))
        backend.revert(before)  # the chain is reset under the running daemon
        metrics = NodeMetrics()
        daemon = Daemon(runner, poll_s=0.01, backoff=Backoff(0.01, 0.02), metrics=metrics)
        with caplog.at_level(logging.WARNING, logger="flchain.node"):
            assert daemon.run(max_steps=3) == 3  # never fatal
    finally:
        proc.stop()
    failures = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(failures) == 3
    for line in failures:
        assert f"no contract code at {ledger.address} on chain 31337" in line
        assert "was the chain reset" in line
        assert "is contract deployed correctly" not in line
    assert 'flchain_node_errors_total{type="LedgerError"} 3.0' in metrics.render()


def test_claim_outside_the_band_sits_the_round_out(tmp_path: Path) -> None:
    backend = JournaledEmbeddedBackend()
    backend.set_time(SIM_T0 - 3_600)
    store = LocalStore(tmp_path / "store", fsync=False)
    # The genesis model loses money on the benchmark: no honest claim reaches +150 %.
    rules = devnet_rules(1).model_copy(update={"roi_min_bps": 15_000, "roi_max_bps": 20_000})
    ledger, _ = deploy(backend, deterministic_account("gov", 4), store, t0=SIM_T0, rules=rules)
    node = deterministic_account("n", 4)
    fund_and_register(ledger, [node])
    ledger.backend.goto(ledger.schedule, 0, Phase.COMMIT)
    runner = NodeRunner(ledger, node, store, bars_source("partition"))
    first = runner.step()
    assert first.sat_out == [0] and first.committed == []
    (line,) = first.actions
    assert line.startswith("sitting out round 0: this node's claim ")
    assert "outside the round's ROI band [15000, 20000] bps" in line
    assert runner.step().actions == []  # said once, not every poll
    assert ledger.events("Committed", 0) == []


def test_json_logs_and_quiet_http_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    handler = configure_logging("INFO", "json")
    try:
        logging.getLogger("flchain.node").info("round %d commit: committed", 3)
        logging.getLogger("httpx").info("HTTP Request: POST http://127.0.0.1:8545")
        logging.getLogger("web3.providers.HTTPProvider").info("Making request")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["level"] == "INFO" and doc["logger"] == "flchain.node"
    assert doc["message"] == "round 3 commit: committed" and doc["ts"].endswith("+00:00")


def test_metrics_endpoint_is_local_and_counts(tmp_path: Path) -> None:
    backend = JournaledEmbeddedBackend()
    backend.set_time(SIM_T0 - 3_600)
    store = LocalStore(tmp_path / "store", fsync=False)
    ledger, _ = deploy(
        backend, deterministic_account("gov", 5), store, t0=SIM_T0, rules=devnet_rules(1)
    )
    node = deterministic_account("n", 5)
    fund_and_register(ledger, [node])
    metrics = NodeMetrics()
    port = metrics.serve(0)
    try:
        daemon = Daemon(NodeRunner(ledger, node, store, bars_source("partition")), metrics=metrics)
        ledger.backend.goto(ledger.schedule, 0, Phase.COMMIT)
        daemon.run(max_steps=1)
        ledger.backend.goto(ledger.schedule, 1, Phase.COMMIT)  # round 0 closed unrevealed: missed
        daemon.run(max_steps=1)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        metrics.close()
    assert "flchain_node_rounds_committed_total 2.0" in text
    assert "flchain_node_rounds_missed_total 1.0" in text
    assert "flchain_node_rounds_attested_total 1.0" in text
    assert "flchain_node_round 1.0" in text
    assert 'flchain_node_phase{phase="COMMIT"} 1.0' in text
    assert "flchain_node_wallet_balance_wei" in text


def test_metrics_port_in_use_is_one_clear_error() -> None:
    first = NodeMetrics()
    port = first.serve(0)
    try:
        with pytest.raises(NodeError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            NodeMetrics().serve(port)
    finally:
        first.close()

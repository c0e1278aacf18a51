"""`flchain audit` on a v2 deployment on anvil, as a user runs it, and through a lying RPC (a
JSON-RPC proxy that hides or rewrites one log — a fault injected on purpose, `_lying_rpc`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _federation import Played, PlayedForward, play, play_forward
from _lying_rpc import LyingRpc

from flchain.audit.core_v2 import audit_v2
from flchain.audit.report import AuditReport, CheckStatus, Verdict
from flchain.devnet.anvil import AnvilProcess
from flchain.ledger import LedgerV2, RpcBackend
from flchain.ledger.events import ChainEvent
from flchain.ledger.events_v2 import ForwardAccepted, Revealed
from flchain.storage import LocalStore
from flchain.testing.cli import run_flchain

pytestmark = pytest.mark.anvil

ROUND_RULES = ("machine", "accumulator", "forward", "merge", "attestations", "settlement")


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilProcess]:
    proc = AnvilProcess().start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def played(anvil: AnvilProcess, tmp_path_factory: pytest.TempPathFactory) -> tuple[Played, Path]:
    folder = tmp_path_factory.mktemp("store")
    backend = RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)
    return play(backend, LocalStore(folder)), folder


def _status(report: AuditReport) -> dict[str, str]:
    out = {c.rule: c.status.value for c in report.checks}
    for r in report.rounds:
        out.update({f"{r.round}.{c.rule}": c.status.value for c in r.checks})
    return out


def _through(url: str, played: tuple[Played, Path]) -> AuditReport:
    fed, folder = played
    ledger = LedgerV2.connect(RpcBackend(url), fed.gov.address, from_block=fed.gov.from_block)
    return audit_v2(ledger, LocalStore(folder))


def test_the_cli_audits_every_round_and_prints_a_summary(
    anvil: AnvilProcess, played: tuple[Played, Path]
) -> None:
    fed, folder = played
    where = ["--rpc", anvil.url, "--contract", fed.gov.address, "--store", str(folder)]
    page = folder.parent / "audit.html"
    text = run_flchain(
        "audit", *where, "--all", "--from-block", str(fed.gov.from_block), "--html", str(page)
    )  # fmt: skip
    assert text.returncode == 0, text.stdout + text.stderr
    html = page.read_text()
    assert "<h2>Deployment</h2>" in html and html.count("<h3>Rules</h3>") == 2
    for line in ("pass code", "pass creation", "pass state", "round 0", "round 1"):
        assert line in " ".join(text.stdout.split()), text.stdout
    assert "VERIFIED — 2 round(s): 2 verified" in text.stdout
    out = run_flchain("audit", *where, "--all", "--json")
    doc = json.loads(out.stdout)
    assert out.returncode == 0 and doc["protocol_version"] == 2 and doc["exit_code"] == 0
    assert [(r["round"], r["verdict"]) for r in doc["rounds"]] == [(0, "verified"), (1, "verified")]
    assert [c["rule"] for c in doc["rounds"][0]["checks"]] == list(ROUND_RULES)


def _target(played: tuple[Played, Path]) -> Revealed:
    """The log the lying RPC hides or rewrites: a's reveal of round 1."""
    return played[0].gov.events(Revealed, 1)[0]


def _is(log: dict[str, Any], target: ChainEvent) -> bool:
    return log["transactionHash"] == target.tx_hash and int(log["logIndex"], 16) == target.log_index


def test_a_log_the_rpc_hides_is_caught_by_the_proven_accumulator(
    anvil: AnvilProcess, played: tuple[Played, Path]
) -> None:
    target = _target(played)
    liar = LyingRpc(anvil.url, lambda log: None if _is(log, target) else log)
    with liar as url:
        report = _through(url, played)
    assert liar.edited >= 1
    status = _status(report)
    # the reveal's only log is gone, so the machine never sees the transaction: its events
    # match the rest, but its chain of round 1's entries is one short of the proven word
    assert status["1.accumulator"] == "fail" and status["1.machine"] == "pass"
    assert status["0.accumulator"] == status["0.machine"] == "pass"
    assert status["state"] == "fail"  # a's node view: its reveal is missing from the machine
    assert report.rounds[1].verdict == Verdict.MISMATCH
    assert report.rounds[1].headline.startswith("accumulator:")
    assert report.exit_code == 1


def test_a_log_the_rpc_rewrites_is_caught_by_the_machine(
    anvil: AnvilProcess, played: tuple[Played, Path]
) -> None:
    target = _target(played)

    def rewrite(log: dict[str, Any]) -> dict[str, Any]:
        if not _is(log, target):
            return log
        data = bytearray.fromhex(log["data"][2:])
        data[127] ^= 1  # the salt's last byte (updateDigest, baseDigest, roiBps, salt, …)
        return {**log, "data": "0x" + data.hex()}

    with LyingRpc(anvil.url, rewrite) as url:
        report = _through(url, played)
    round1 = {c.rule: c for c in report.rounds[1].checks}
    assert round1["machine"].status == CheckStatus.FAIL
    assert "Revealed.salt" in round1["machine"].message
    assert report.exit_code == 1


def test_the_cli_names_the_rule_a_lying_rpc_breaks(
    anvil: AnvilProcess, played: tuple[Played, Path]
) -> None:
    fed, folder = played
    target = _target(played)
    with LyingRpc(anvil.url, lambda log: None if _is(log, target) else log) as url:
        out = run_flchain(
            "audit", "--rpc", url, "--contract", fed.gov.address, "--store", str(folder),
            "--rounds", "0..1", "--json",
        )  # fmt: skip
    doc = json.loads(out.stdout)
    assert out.returncode == 1
    assert doc["rounds"][1]["verdict"] == "mismatch"
    assert doc["rounds"][1]["headline"].startswith("accumulator:")


@pytest.fixture(scope="module")
def played_forward(
    anvil: AnvilProcess, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PlayedForward, Path]:
    folder = tmp_path_factory.mktemp("forward-store")
    backend = RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)
    return play_forward(backend, LocalStore(folder)), folder


def test_an_accepted_window_the_rpc_hides_is_named(
    anvil: AnvilProcess, played_forward: tuple[PlayedForward, Path]
) -> None:
    """The RPC drops the forward box's ForwardAccepted log of round 0's window: the machine,
    recomputing the tally and the threshold from the votes, accepts the window at b's vote
    and names the log the chain does not show; round 0's window is then unverifiable."""
    fed, folder = played_forward
    (target,) = [e for e in fed.gov.forward_events(0) if isinstance(e, ForwardAccepted)]
    liar = LyingRpc(anvil.url, lambda log: None if _is(log, target) else log)
    with liar as url:
        ledger = LedgerV2.connect(RpcBackend(url), fed.gov.address, from_block=fed.gov.from_block)
        report = audit_v2(ledger, LocalStore(folder))
    assert liar.edited >= 1
    status = _status(report)
    machine = {c.rule: c for c in report.rounds[1].checks}["machine"]
    assert machine.status == CheckStatus.FAIL
    assert machine.message.startswith(f"commitWithForward by {fed.nodes[1]}")
    assert machine.message.endswith("the chain shows no ForwardAccepted (the machine emits it)")
    assert status["0.forward"] == "unverifiable" and status["0.machine"] == "pass"
    assert report.rounds[1].verdict == Verdict.MISMATCH
    assert report.exit_code == 1

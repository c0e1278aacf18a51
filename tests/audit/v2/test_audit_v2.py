"""`flchain audit` on protocol v2: every rule recomputed (flchain.audit.judge_v2), on the
embedded chain and on anvil."""

from __future__ import annotations

import pytest
from _federation import FORGED_ROOT, Played, play

from flchain.audit.core_v2 import audit_v2
from flchain.audit.report import AuditReport, CheckStatus, Verdict
from flchain.ledger import Backend
from flchain.ledger.events_v2 import Slashed
from flchain.protocol.machine import Fault
from flchain.storage import LocalStore


@pytest.fixture(scope="module")
def played(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> tuple[Played, LocalStore]:
    store = LocalStore(tmp_path_factory.mktemp("store"))
    return play(backend, store), store


def test_an_honest_federation_audits_verified(played: tuple[Played, LocalStore]) -> None:
    fed, store = played
    report = audit_v2(fed.gov, store)
    assert report.protocol_version == 2
    assert [r.round for r in report.rounds] == [0, 1]
    for r in report.rounds:
        assert r.verdict == Verdict.VERIFIED, r.checks
        assert [c.rule for c in r.checks] == [
            "machine",
            "accumulator",
            "forward",
            "merge",
            "attestations",
            "settlement",
        ]
        forward = r.checks[2]
        assert forward.status == CheckStatus.SKIPPED and "forward scoring off" in forward.message
        assert all(c.status == CheckStatus.PASS for c in r.checks if c is not forward), r.checks
    assert [(c.rule, c.status) for c in report.checks] == [
        ("code", CheckStatus.PASS),
        ("creation", CheckStatus.PASS),
        ("state", CheckStatus.PASS),
    ]
    assert report.exit_code == 0


@pytest.fixture(scope="module")
def faulty(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> tuple[Played, LocalStore]:
    store = LocalStore(tmp_path_factory.mktemp("faulty-store"))
    return play(backend, store, faults=True), store


def _status(report: AuditReport) -> dict[str, CheckStatus]:
    out = {c.rule: c.status for c in report.checks}
    for r in report.rounds:
        out.update({f"{r.round}.{c.rule}": c.status for c in r.checks})
    return out


def test_a_wrong_vote_is_a_conflict_and_its_slash_replays(
    faulty: tuple[Played, LocalStore],
) -> None:
    """c attested another result than the final one: round 0 is a conflict naming c, and the
    wrong-vote slash the contract applied when c settled is the machine's too."""
    fed, store = faulty
    report = audit_v2(fed.gov, store)
    status = _status(report)
    r0 = report.rounds[0]
    assert r0.verdict == Verdict.CONFLICT
    assert status["0.attestations"] == CheckStatus.FAIL and fed.nodes[2] in r0.headline
    assert "round_earned" in r0.headline
    for rule in ("machine", "accumulator", "merge", "settlement"):
        assert status[f"0.{rule}"] == CheckStatus.PASS, rule
    slashes = [e for e in fed.gov.events(Slashed) if e.fault == Fault.WRONG_VOTE]
    assert [e.node for e in slashes] == [fed.nodes[2]]
    assert status["1.machine"] == status["state"] == CheckStatus.PASS


def test_a_forged_settlement_root_is_caught_by_the_settlement_and_merge_rules(
    faulty: tuple[Played, LocalStore],
) -> None:
    """A quorum finalized round 1 with a root no table has: the manifest's leaves do not hash
    to it and the replayed merge's result differs in exactly that field."""
    fed, store = faulty
    report = audit_v2(fed.gov, store, [1])
    (r1,) = report.rounds
    checks = {c.rule: c for c in r1.checks}
    assert r1.verdict == Verdict.MISMATCH
    assert checks["settlement"].status == CheckStatus.FAIL
    assert FORGED_ROOT.hex() in checks["settlement"].message
    assert checks["merge"].status == CheckStatus.FAIL
    assert checks["merge"].message.endswith("settlement_root differ")
    assert checks["machine"].status == CheckStatus.PASS  # the contract did what it says
    assert report.exit_code == 1

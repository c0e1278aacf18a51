"""`flchain audit` on protocol v2: every rule recomputed (flchain.audit.judge_v2), on the
embedded chain and on anvil."""

from __future__ import annotations

import pytest
from _federation import Played, play

from flchain.audit.core_v2 import audit_v2
from flchain.audit.report import CheckStatus, Verdict
from flchain.ledger import Backend
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
            "merge",
            "attestations",
            "settlement",
        ]
        assert all(c.status == CheckStatus.PASS for c in r.checks), r.checks
    assert [(c.rule, c.status) for c in report.checks] == [
        ("code", CheckStatus.PASS),
        ("creation", CheckStatus.PASS),
        ("state", CheckStatus.PASS),
    ]
    assert report.exit_code == 0

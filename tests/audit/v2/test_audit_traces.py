"""The v2 audit follows calls made through other contracts by their call trace, on anvil
(`debug_traceTransaction` with geth's `callTracer`): a node that is a contract wallet
(tests/contract/V2Wallet.sol) for two rounds, a batch of its calls in one transaction with a
caught revert (`_wallet_federation`); and what a lying, broken or absent tracer gets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from _lying_rpc import LyingRpc
from _wallet_federation import PlayedWallet, play_with_wallet

from flchain.audit.core_v2 import audit_v2, gather_v2
from flchain.audit.judge_v2 import ChainCall, V2Material, check_machine, replay_calls
from flchain.audit.report import AuditReport, Verdict
from flchain.devnet.anvil import AnvilProcess
from flchain.ledger import LedgerV2, RpcBackend
from flchain.storage import LocalStore
from flchain.testing.cli import run_flchain

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilProcess]:
    proc = AnvilProcess().start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def played(anvil: AnvilProcess, tmp_path_factory: pytest.TempPathFactory) -> tuple[PlayedWallet, Path]:
    folder = tmp_path_factory.mktemp("store")
    backend = RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)
    return play_with_wallet(backend, LocalStore(folder)), folder


@pytest.fixture(scope="module")
def material(played: tuple[PlayedWallet, Path]) -> V2Material:
    return gather_v2(played[0].gov, [0, 1])


def _status(report: AuditReport) -> dict[str, str]:
    out = {c.rule: c.status.value for c in report.checks}
    for r in report.rounds:
        out.update({f"{r.round}.{c.rule}": c.status.value for c in r.checks})
    return out


def test_a_contract_wallet_node_audits_verified_through_its_trace(
    anvil: AnvilProcess, played: tuple[PlayedWallet, Path]
) -> None:
    fed, folder = played
    where = ["--rpc", anvil.url, "--contract", fed.gov.address, "--store", str(folder)]
    out = run_flchain("audit", *where, "--all", "--from-block", str(fed.gov.from_block), "--json")
    doc = json.loads(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    assert [(r["round"], r["verdict"]) for r in doc["rounds"]] == [(0, "verified"), (1, "verified")]


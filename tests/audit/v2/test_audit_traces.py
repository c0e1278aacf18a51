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
from _wallet_federation import PlayedWallet, play_forward_through_wallets, play_with_wallet

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
def played(
    anvil: AnvilProcess, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PlayedWallet, Path]:
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
    anvil: AnvilProcess, played: tuple[PlayedWallet, Path], material: V2Material
) -> None:
    """`flchain audit --all`: both rounds verified, the deployment's state equal to the
    machine's; each of the wallet's 9 transactions was replayed from its trace, the wallet as
    the sender of every call into the contract."""
    fed, folder = played
    where = ["--rpc", anvil.url, "--contract", fed.gov.address, "--store", str(folder)]
    out = run_flchain("audit", *where, "--all", "--from-block", str(fed.gov.from_block), "--json")
    doc = json.loads(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    assert [(r["round"], r["verdict"]) for r in doc["rounds"]] == [(0, "verified"), (1, "verified")]
    assert {c["rule"]: c["status"] for c in doc["checks"]}["state"] == "pass"
    traced = [c for c in material.calls if c.inner is not None]
    assert len(traced) == 9 and all(c.untraced is None for c in traced)
    assert {i.sender for c in traced for i in c.inner or ()} == {fed.node.wallet.address}


def _calls(played: tuple[PlayedWallet, Path]) -> list[ChainCall]:
    return gather_v2(played[0].gov, [0, 1]).calls


def _through(url: str, played: tuple[PlayedWallet, Path]) -> AuditReport:
    fed, folder = played
    ledger = LedgerV2.connect(RpcBackend(url), fed.gov.address, from_block=fed.gov.from_block)
    return audit_v2(ledger, LocalStore(folder))


def _batch(material: V2Material, played: tuple[PlayedWallet, Path]) -> tuple[int, ChainCall]:
    (found,) = [(i, c) for i, c in enumerate(material.calls) if c.tx_hash == played[0].batch_tx]
    return found


def _replay_with(
    material: V2Material, played: tuple[PlayedWallet, Path], edit: Callable[[ChainCall], ChainCall]
) -> str:
    """Round 1's machine check after `edit` rewrote the batched transaction (its status and
    message)."""
    at, call = _batch(material, played)
    calls = [*material.calls[:at], edit(call), *material.calls[at + 1 :]]
    check = check_machine(replay_calls(calls, played[0].gov.chain_id, played[0].gov.address), 1)
    return f"{check.status.value}: {check.message}"


def test_a_batch_of_calls_in_one_transaction_is_replayed_call_by_call(
    material: V2Material, played: tuple[PlayedWallet, Path]
) -> None:
    """The wallet's settle, commit and second commit in one transaction: three calls, in order;
    the second commit reverted (AlreadyCommitted, caught by the batch) and the machine refuses
    it so; the first two's events are the transaction's logs, in order (a view called with
    CALL among them changes nothing and is passed over). Each rewrite of the calls is named."""
    _, call = _batch(material, played)
    assert call.inner is not None and call.function is None
    assert [(i.function, i.reverted) for i in call.inner] == [
        ("settle", False), ("commit", False), ("commit", True),
    ]  # fmt: skip
    error = call.inner[2].error
    assert error is not None and error[0] == "AlreadyCommitted"
    assert _replay_with(material, played, lambda c: c).startswith("pass")
    assert call.inner is not None
    view = replace(call.inner[0], function="accounts", args=())  # a view called with CALL
    with_view = replace(call, inner=(view, *call.inner))
    assert _replay_with(material, played, lambda c: with_view).startswith("pass")

    def inner(c: ChainCall, k: int, **changes: Any) -> ChainCall:
        assert c.inner is not None
        calls = list(c.inner)
        calls[k] = replace(calls[k], **changes)
        return replace(c, inner=tuple(calls))

    other = ("CommitWindowClosed", (1,))
    for edit, named in (
        (lambda c: inner(c, 2, error=other), "reverted on chain with CommitWindowClosed; the "
         "machine refuses it with AlreadyCommitted"),
        (lambda c: inner(c, 2, reverted=False, error=None), "succeeded on chain; the machine "
         "refuses it: AlreadyCommitted"),
        (lambda c: replace(c, inner=(c.inner or ())[:1]), "the chain shows Committed, which "
         "none of its calls the machine replayed emits"),
        # the settle marked undone: the commit that needs it is refused
        (lambda c: inner(c, 0, undone=True), "the machine refuses it: SettlementPending"),
    ):  # fmt: skip
        got = _replay_with(material, played, edit)
        assert got.startswith("fail") and named in got, got


# ---------------------------------------------------------------- a lying or absent tracer


class LyingTracer(LyingRpc):
    """The chain behind a proxy that passes each `debug_traceTransaction` answer through
    `edit(tx_hash, answer)` (a fault injected on purpose); every other answer is the chain's."""

    def __init__(self, upstream: str, edit: Callable[[str, dict[str, Any]], dict[str, Any]]):
        super().__init__(upstream, lambda log: log)
        self.trace_edit = edit

    def rewrite(self, request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if request.get("method") != "debug_traceTransaction":
            return answer
        edited = self.trace_edit(str(request["params"][0]), answer)
        self.edited += edited != answer
        return edited


def _result(edit: Callable[[dict[str, Any]], None], tx: str | None = None):  # type: ignore[no-untyped-def]
    """An editor changing the trace (of `tx` only, when given) in place through `edit`."""

    def editor(tx_hash: str, answer: dict[str, Any]) -> dict[str, Any]:
        if tx is not None and tx_hash != tx:
            return answer
        copy = json.loads(json.dumps(answer))
        edit(copy)
        return copy

    return editor


def _frames(trace: dict[str, Any], to: str) -> list[dict[str, Any]]:
    """The frames of `trace` (a result) calling `to`, in pre-order."""
    out, stack = [], [trace]
    while stack:
        frame = stack.pop()
        if str(frame.get("to", "")).lower() == to.lower():
            out.append(frame)
        stack.extend(reversed(frame.get("calls", [])))
    return out


def test_a_trace_that_drops_a_frame_is_caught_by_the_logs(
    anvil: AnvilProcess, played: tuple[PlayedWallet, Path]
) -> None:
    """The batch's trace without its commit: the caught second commit is now the first, and the
    machine accepts what the chain refused (a dropped frame whose logs nothing else emits is
    left over in the transaction's logs: the same check)."""
    fed = played[0]

    def drop_commit(answer: dict[str, Any]) -> None:
        wallet_frames = answer["result"]["calls"]  # the batch's three calls of the wallet
        del wallet_frames[1]

    with LyingTracer(anvil.url, _result(drop_commit, fed.batch_tx)) as url:
        report = _through(url, played)
    status = _status(report)
    assert status["0.machine"] == "pass" and status["1.machine"] == "fail"
    assert report.rounds[1].verdict == Verdict.MISMATCH
    assert report.rounds[1].headline.startswith("machine: commit by")
    assert (
        "reverted on chain with AlreadyCommitted; the machine accepts it"
        in report.rounds[1].headline
    )


def test_a_trace_that_alters_a_frame_is_caught_by_the_machine(
    anvil: AnvilProcess, played: tuple[PlayedWallet, Path]
) -> None:
    """The wallet's register with one more wei than it sent: the machine's Registered bond
    is not the log's."""
    fed = played[0]
    (register,) = [c for c in _calls(played) if c.inner and c.inner[0].function == "register"]

    def more_value(answer: dict[str, Any]) -> None:
        (frame,) = _frames(answer["result"], fed.gov.address)
        frame["value"] = hex(int(frame["value"], 16) + 1)

    with LyingTracer(anvil.url, _result(more_value, register.tx_hash)) as url:
        report = _through(url, played)
    assert report.rounds[0].verdict == Verdict.MISMATCH
    assert "Registered.bond is" in report.rounds[0].headline, report.rounds[0].headline


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"result": "not a frame"}, "the trace is not a call frame"),
        ({"result": {"type": "CALL", "calls": 5}}, "has no valid 'from'"),
        ({"result": None, "error": {"code": -32601, "message": "Method not found"}},
         "debug_traceTransaction failed: Method not found"),
        ({"result": "0x" + "00" * (3 * 1024 * 1024)}, "larger than"),
    ],
    ids=["not-a-frame", "malformed", "no-tracer", "oversized"],
)  # fmt: skip
def test_a_trace_that_cannot_be_read_leaves_the_rest_unverifiable(
    anvil: AnvilProcess, played: tuple[PlayedWallet, Path], answer: dict[str, Any], named: str
) -> None:
    """A malformed, missing or oversized trace: the round of the first call through the wallet
    and every later one are unverifiable, naming the transaction and the method that would
    make it verifiable — never a crash, never believed."""

    def replace_answer(tx: str, got: dict[str, Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": got.get("id"), **answer}

    with LyingTracer(anvil.url, replace_answer) as url:
        report = _through(url, played)
    (register,) = [c for c in _calls(played) if c.inner and c.inner[0].function == "register"]
    assert [r.verdict for r in report.rounds] == [Verdict.UNVERIFIABLE] * 2
    message = report.rounds[0].checks[0].message
    assert message.startswith(f"tx {register.tx_hash} (block {register.block_number}, sent to")
    assert named in message
    assert "an RPC that answers debug_traceTransaction with geth's callTracer" in message
    assert report.exit_code != 0


def test_a_forward_window_posted_first_through_a_contract_audits_verified(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    """The forward re-post attack (docs/security.md §7): a stranger's wallet posts the honest
    window first; a keeper posts it again directly; round 1 votes for it (one vote through a
    wallet's commitWithForward) and scores round 0 on it. Every call is replayed — the
    stranger's post through its trace — and both rounds verify; the window's bytes the merge
    scored on are read from the direct post only, as the nodes read them."""
    backend = RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)
    fed = play_forward_through_wallets(backend, LocalStore(tmp_path))
    report = audit_v2(fed.gov, LocalStore(tmp_path))
    assert [r.verdict for r in report.rounds] == [Verdict.VERIFIED] * 2, report.rounds
    status = _status(report)
    assert status["0.forward"] == "pass" and status["state"] == "pass"
    (posted,) = [c for c in gather_v2(fed.gov, [0, 1]).calls if c.tx_hash == fed.batch_tx]
    assert posted.function is None and posted.inner is not None
    assert [i.function for i in posted.inner] == ["postForward"]

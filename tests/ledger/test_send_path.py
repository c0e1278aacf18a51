"""The embedded send path: each transaction executed once (staged), a fixed gas limit, reverts
still by name, and a refusal sends nothing."""

from __future__ import annotations

from typing import Any

import pytest

from flchain.hashing import sha256_hex
from flchain.ledger import EmbeddedBackend, Ledger, Phase
from flchain.ledger.errors import ContractRevert
from flchain.storage.cid import cid_for_bytes


@pytest.fixture
def embedded_world(make_world: Any, backend: Any) -> Any:
    if not isinstance(backend, EmbeddedBackend):
        pytest.skip("embedded send path only")
    return make_world(n_nodes=1)


def test_revert_only_at_send_time_is_surfaced_by_name(
    embedded_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = embedded_world
    node: Ledger = world.nodes[0]
    world.goto(0, Phase.REVEAL)
    eth = node.w3.eth
    real_call = eth.call

    # Injected fault: the pre-send check sees nothing wrong, so the refusal happens on-chain.
    def blind_check(tx: Any, block: Any = None, *args: Any, **kwargs: Any) -> Any:
        if block == "pending":
            return b""
        return real_call(tx, block, *args, **kwargs)

    monkeypatch.setattr(eth, "call", blind_check)
    # attest has no deadline (a commit out of its window is DeadlineMissed before sending)
    merged, manifest = b"merged", b"manifest"
    with pytest.raises(ContractRevert, match=r"\bRoundNotClosed\("):
        node.attest(0, sha256_hex(merged), cid_for_bytes(merged), cid_for_bytes(manifest))
    monkeypatch.undo()
    assert node.account is not None
    assert node.node_record(node.account.address).last_attested_round is None  # nothing stored


def test_transactions_use_the_fixed_limit_and_report_gas_used(embedded_world: Any) -> None:
    world = embedded_world
    node: Ledger = world.nodes[0]
    world.goto(0, Phase.COMMIT)
    before = node.w3.eth.block_number
    world.commit(node, world.update(0))
    tx: Any = node.w3.eth.get_block(before + 1, full_transactions=True)["transactions"][0]
    receipt = node.w3.eth.get_transaction_receipt(tx["hash"])
    assert int(tx["gas"]) == EmbeddedBackend.FIXED_GAS
    assert 21_000 < int(receipt["gasUsed"]) < int(tx["gas"])


def test_with_account_carries_immutables_without_rereading(embedded_world: Any) -> None:
    world = embedded_world
    gov: Ledger = world.gov
    schedule, genesis = gov.schedule, gov.genesis()
    copy = gov.with_account(world.nodes[0].account)
    assert copy.schedule is schedule and copy.genesis() is genesis
    assert copy.contract is gov.contract and copy.chain_id == gov.chain_id
    assert copy.deployment is gov.deployment and copy.event_index is gov.event_index
    assert copy.account is world.nodes[0].account and gov.account is not copy.account


def _count_requests(node: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every call and raw transaction eth-tester serves from now on (name, block argument)."""
    seen: list[tuple[str, Any]] = []
    tester = node.backend.tester  # type: ignore[attr-defined]
    plain_call, plain_send = tester.call, tester.send_raw_transaction

    def call(tx: Any, block: Any = "latest") -> Any:
        seen.append(("call", block))
        return plain_call(tx, block)

    def send(raw: Any) -> Any:
        seen.append(("send", None))
        return plain_send(raw)

    monkeypatch.setattr(tester, "call", call)
    monkeypatch.setattr(tester, "send_raw_transaction", send)
    return seen


def test_a_transaction_is_executed_once(
    embedded_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = embedded_world
    node: Ledger = world.nodes[0]
    world.goto(0, Phase.COMMIT)
    chain = node.backend.tester.backend.chain  # type: ignore[attr-defined]
    runs: list[Any] = []
    plain_apply = type(chain).apply_transaction

    def counted(self: Any, tx: Any) -> Any:
        runs.append(tx.hash)
        return plain_apply(self, tx)

    monkeypatch.setattr(type(chain), "apply_transaction", counted)
    seen = _count_requests(node, monkeypatch)
    before = node.w3.eth.block_number
    world.commit(node, world.update(0))
    assert node.w3.eth.block_number == before + 1
    mined = node.w3.eth.get_block(before + 1)["transactions"]
    assert runs == [bytes(mined[0])]  # staged, then mined as it was: one execution
    assert seen.count(("send", None)) == 1 and ("call", "pending") not in seen


def test_a_refusal_sends_nothing_and_keeps_the_nonce(
    embedded_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = embedded_world
    node: Ledger = world.nodes[0]
    world.goto(0, Phase.REVEAL)
    assert node.account is not None
    me = node.account.address
    chain = node.backend.tester.backend.chain  # type: ignore[attr-defined]
    pending_header, head = chain.header, node.w3.eth.block_number
    nonce = node.w3.eth.get_transaction_count(me, "pending")
    seen = _count_requests(node, monkeypatch)
    merged, manifest = b"merged", b"manifest"
    with pytest.raises(ContractRevert, match=r"\bRoundNotClosed\("):
        node.attest(0, sha256_hex(merged), cid_for_bytes(merged), cid_for_bytes(manifest))
    # the staged run failed and was taken back out; the call on the pending block named it
    assert seen == [("call", "pending")]
    assert chain.header == pending_header
    assert node.w3.eth.block_number == head
    assert node.w3.eth.get_transaction_count(me, "pending") == nonce

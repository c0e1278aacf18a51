"""The embedded send path: one eth_call check plus a fixed gas limit, reverts still by name."""

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

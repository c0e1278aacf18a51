"""What the chain refuses reaches the caller as one named `LedgerError` line, never a web3
exception or an IndexError."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from flchain.ledger import Backend, LedgerError, RpcBackend
from flchain.ledger.errors import InsufficientFunds, NonceTooLow, Underpriced

from ..conftest import World


def test_a_failed_call_with_an_empty_message_is_one_line(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Injected fault: the provider raises an exception without a message (some web3 errors
    # and middleware do); the view used to fail with IndexError on its first line.
    def silent(*_args: Any, **_kwargs: Any) -> Any:
        raise ValueError()

    monkeypatch.setattr(world.gov.w3.eth, "call", silent)
    tester = getattr(world.gov.backend, "tester", None)
    if tester is not None:  # the embedded chain's views go to py-evm first, web3 on a refusal
        monkeypatch.setattr(tester.backend, "call", silent)
    with pytest.raises(LedgerError, match=r"^governor call failed: ValueError$"):
        world.gov.deployment.call("governor")


def test_backend_rpc_error_with_an_empty_message_is_one_line(backend: Backend) -> None:
    if not isinstance(backend, RpcBackend):
        pytest.skip("JSON-RPC errors only")

    class Silent:  # Injected fault: an endpoint answering an error object without a message
        def make_request(self, method: str, params: Any) -> Any:
            return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": ""}}

    real = backend.w3.provider
    backend.w3.provider = Silent()  # type: ignore[assignment]
    try:
        with pytest.raises(LedgerError, match=r"^evm_mine failed on .*: code -32000$"):
            backend._rpc("evm_mine", [])
    finally:
        backend.w3.provider = real


# ---------------------------------------------------------------- the node refuses a transaction


@pytest.fixture
def anvil_world(backend: Backend, world: World) -> World:
    if not isinstance(backend, RpcBackend):
        pytest.skip("JSON-RPC refusals (eth-tester refuses before signing)")
    return world


def test_an_unfunded_wallet_is_told_its_balance_and_need(world: World) -> None:
    poor = world.gov.with_account(Account.create())
    with pytest.raises(InsufficientFunds) as caught:
        poor.register()
    message = str(caught.value)
    assert poor.signer is not None and poor.signer.address in message
    assert "has 0 ETH" in message and "register needs up to" in message
    assert "gas ×" in message and "nothing was sent" in message
    assert "\n" not in message


def test_a_used_nonce_is_nonce_too_low(anvil_world: World) -> None:
    node = anvil_world.nodes[0]
    sender = node.sender
    assert sender is not None
    tx = sender.prepare(node.contract.functions.requestExit(), "requestExit", 0)
    tx["nonce"] -= 1  # the register transaction's
    with pytest.raises(NonceTooLow, match=r"^the chain refused requestExit: nonce \d+ of 0x"):
        sender.submit(tx, "requestExit")


def test_a_replacement_at_the_same_fee_is_underpriced(anvil_world: World) -> None:
    backend = anvil_world.backend
    assert isinstance(backend, RpcBackend)
    node = anvil_world.nodes[0]
    sender = node.sender
    assert sender is not None
    tx = sender.prepare(node.contract.functions.requestExit(), "requestExit", 0)
    backend._rpc("evm_setAutomine", [False])
    try:
        sender.submit(tx, "requestExit")
        other = {**tx, "data": node.contract.functions.withdraw()._encode_transaction_data()}
        with pytest.raises(Underpriced, match=r"^the chain refused withdraw: .*underpriced"):
            sender.submit(other, "withdraw")
    finally:
        backend._rpc("evm_mine", [])
        backend._rpc("evm_setAutomine", [True])


def test_the_same_transaction_sent_twice_is_not_an_error(anvil_world: World) -> None:
    backend = anvil_world.backend
    assert isinstance(backend, RpcBackend)
    node = anvil_world.nodes[0]
    sender = node.sender
    assert sender is not None
    tx = sender.prepare(node.contract.functions.requestExit(), "requestExit", 0)
    backend._rpc("evm_setAutomine", [False])
    try:
        first = sender.submit(tx, "requestExit")
        assert sender.submit(tx, "requestExit") == first  # "already imported": the same hash
    finally:
        backend._rpc("evm_mine", [])
        backend._rpc("evm_setAutomine", [True])

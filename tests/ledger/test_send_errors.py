"""What the chain refuses reaches the caller as one named `LedgerError` line, never a web3
exception or an IndexError."""

from __future__ import annotations

from typing import Any

import pytest

from flchain.ledger import Backend, LedgerError

from ..conftest import World


def test_a_failed_call_with_an_empty_message_is_one_line(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Injected fault: the provider raises an exception without a message (some web3 errors
    # and middleware do); the view used to fail with IndexError on its first line.
    def silent(*_args: Any, **_kwargs: Any) -> Any:
        raise ValueError()

    monkeypatch.setattr(world.gov.w3.eth, "call", silent)
    with pytest.raises(LedgerError, match=r"^governor call failed: ValueError$"):
        world.gov.deployment.call("governor")


def test_backend_rpc_error_with_an_empty_message_is_one_line(backend: Backend) -> None:
    from flchain.ledger import RpcBackend

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

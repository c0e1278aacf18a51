"""The simulation's own anvil is reached through `lighten_owned_devnet`: one loopback urllib3
pool shared by every thread, no web3 validation middleware (its eth_chainId before every call)
— and the same answers, the same refusals and the same named failure when the node is gone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from web3.exceptions import Web3RPCError

from flchain.devnet.anvil import AnvilProcess
from flchain.ledger import ChainConfigError, ChainUnavailable, RpcBackend
from flchain.ledger.backends import LoopbackHTTPProvider, lighten_owned_devnet

pytestmark = pytest.mark.anvil


def test_a_lightened_devnet_answers_every_thread_without_asking_its_chain_id(
    anvil_binary: Path,
) -> None:
    with AnvilProcess() as node:
        backend = RpcBackend(node.url, kind="anvil", expected_chain_id=node.chain_id)
        lighten_owned_devnet(backend, connections=4)
        assert isinstance(backend.w3.provider, LoopbackHTTPProvider)
        assert "validation" not in backend.w3.middleware_onion
        asked: list[str] = []
        send = backend.w3.provider._make_request

        def counted(method: str, data: bytes) -> bytes:
            asked.append(method)
            return send(method, data)  # type: ignore[arg-type]

        backend.w3.provider._make_request = counted  # type: ignore[method-assign]
        with ThreadPoolExecutor(8) as threads:  # more threads than connections: they wait
            balances = list(threads.map(lambda _: backend.w3.eth.get_balance(
                backend.w3.eth.accounts[0]), range(32)))  # fmt: skip
        assert len(set(balances)) == 1 and balances[0] > 0
        backend.w3.eth.call({"to": backend.w3.eth.accounts[1], "data": "0x"})
        assert "eth_chainId" not in asked and "eth_call" in asked
        with pytest.raises(Web3RPCError, match="gas"):  # the node's refusal, as before
            backend.w3.eth.call({"to": "0x" + "00" * 19 + "01", "data": "0x1234", "gas": 1})
    with pytest.raises(ChainUnavailable, match="cannot reach"):
        backend._rpc("eth_blockNumber", [])


def test_only_a_loopback_endpoint_is_lightened() -> None:
    for url in ("http://10.0.0.1:8545", "https://127.0.0.1:8545"):
        with pytest.raises(ChainConfigError, match="not a plain-HTTP loopback"):
            LoopbackHTTPProvider(url, connections=2)

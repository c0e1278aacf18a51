"""What a node asks its RPC endpoint, on real anvils: each view is one request and no
transaction asks the chain id again (web3's validation middleware asked eth_chainId before every
call, estimate and send: on a metered or rate-limited public RPC, twice the requests for every
view a node reads). What that middleware could have caught — the endpoint starting to serve
another chain behind the same URL — is refused by the chain itself, nothing sent."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from web3 import HTTPProvider

from flchain.devnet.anvil import AnvilProcess
from flchain.errors import FlchainError
from flchain.ledger import Phase, RpcBackend

from ..conftest import deploy_world
from .test_failover import Relay

pytestmark = pytest.mark.anvil


def count_requests(backend: RpcBackend) -> Counter[str]:
    """The JSON-RPC methods `backend` sends from now on, counted (instrumentation: every
    request still goes to the endpoint)."""
    asked: Counter[str] = Counter()
    provider = backend.w3.provider
    assert isinstance(provider, HTTPProvider)
    send = provider._make_request  # below web3's cached middleware chain: every request

    def counted(method: Any, data: bytes) -> bytes:
        asked[str(method)] += 1
        return send(method, data)

    provider._make_request = counted  # type: ignore[method-assign]
    return asked


def test_a_view_is_one_request_and_a_transaction_never_asks_the_chain_id(
    anvil: AnvilProcess,
) -> None:
    backend = RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)
    world = deploy_world(backend, n_nodes=1)
    world.goto(0, Phase.COMMIT)
    node = world.nodes[0]
    asked = count_requests(backend)

    assert node.account is not None
    record = node.node_record(node.account.address)
    assert record.address == node.account.address and record.status.name == "ACTIVE", record
    assert asked == Counter({"eth_call": 1})

    asked.clear()
    world.commit(node, world.update(0))
    assert asked["eth_sendRawTransaction"] == 1 and asked["eth_getTransactionReceipt"] >= 1
    assert "eth_chainId" not in asked, asked
    assert len(world.gov.events("Committed", 0)) == 1


def test_an_endpoint_that_starts_serving_another_chain_gets_nothing_sent(
    anvil: AnvilProcess,
) -> None:
    relay = Relay(("127.0.0.1", anvil.port))
    try:
        backend = RpcBackend(relay.url, kind="anvil", expected_chain_id=anvil.chain_id)
        world = deploy_world(backend, n_nodes=1)
        world.goto(0, Phase.COMMIT)
        node = world.nodes[0]
        with AnvilProcess(chain_id=5) as other:
            other_backend = RpcBackend(other.url, kind="anvil", expected_chain_id=5)
            assert node.account is not None
            other_backend.fund(node.account.address, 10**20)
            relay.target = ("127.0.0.1", other.port)
            relay.drop_connections()  # the next request reaches the other chain
            with pytest.raises(FlchainError) as refused:
                world.commit(node, world.update(0))
            assert "chain id" in str(refused.value), refused.value  # anvil: signed for 31337
            assert other_backend.w3.eth.get_transaction_count(node.account.address) == 0
    finally:
        relay.kill()

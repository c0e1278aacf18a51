"""The finalizing attestation has the gas it needs when another vote lands in the same block.

Two nodes attest the same result of a quorum-2 round. Each estimates its gas alone, on a state
where its vote would be the first (the cheap, non-finalizing path); anvil then mines both in
one block (automine off), so the second one reaches the quorum and takes the finalizing path:
it writes the Final record and penalises the listed nodes. Before the fix it ran out of gas
with gasUsed equal to its limit and was reported as "attest reverted".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from flchain.hashing import sha256_hex
from flchain.ledger import Backend, EmbeddedBackend, Ledger, Phase, RpcBackend
from flchain.ledger.errors import OutOfGas
from flchain.ledger.ledger import FINALIZING_ATTEST_GAS, FINALIZING_ATTEST_GAS_PER_PENALISED
from flchain.protocol import Rules
from flchain.storage.cid import cid_for_bytes

from ..conftest import World, deploy_world

ROUNDS = 20
MANIFEST = b'{"manifest": "same block"}'
# a node penalised every other round stays eligible, so it stays penalisable
PATIENT_QUORUM_2 = Rules(quorum=2, eligibility_min_score_bps=-1_000_000)


@pytest.fixture(scope="module")
def anvil_backend(anvil: Any) -> RpcBackend:
    return RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)


def play_round(world: World, round: int, nodes: list[Ledger]) -> None:
    """Commit and reveal one update per node in `round`, then close it."""
    world.goto(round, Phase.COMMIT)
    updates = [world.update(round) for _ in nodes]
    for node, u in zip(nodes, updates, strict=True):
        world.commit(node, u)
    world.goto(round, Phase.REVEAL)
    for node, u in zip(nodes, updates, strict=True):
        world.reveal(node, u)
    world.goto(round, Phase.CLOSED)


def in_one_block(backend: RpcBackend, sends: list[Callable[[], Any]]) -> list[Any]:
    """Run `sends` (each sends one transaction and waits for it) with automine off, mine one
    block once all of them are in the pool; returns each one's result or exception."""
    results: list[Any] = [None] * len(sends)

    def run(i: int) -> None:
        try:
            results[i] = sends[i]()
        except Exception as exc:
            results[i] = exc

    backend._rpc("evm_setAutomine", [False])
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sends))]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while int(backend._rpc("txpool_status", [])["pending"], 16) < len(sends):
            assert time.monotonic() < deadline, "the transactions never reached the pool"
            time.sleep(0.02)
        backend._rpc("evm_mine", [])
    finally:
        backend._rpc("evm_setAutomine", [True])
        for t in threads:
            t.join(60)
    return results


def address(node: Ledger) -> str:
    assert node.account is not None
    return str(node.account.address)


def attest(node: Ledger, round: int, merged: bytes, penalised: list[str]) -> Any:
    return node.attest(
        round, sha256_hex(merged), cid_for_bytes(merged), cid_for_bytes(MANIFEST), penalised
    )


def attest_call(node: Ledger, round: int, merged: bytes, penalised: list[str]) -> Any:
    return node.contract.functions.attest(
        round,
        bytes.fromhex(sha256_hex(merged)[2:]),
        bytes.fromhex("01551220" + sha256_hex(merged)[2:]),
        bytes.fromhex("01551220" + sha256_hex(MANIFEST)[2:]),
        penalised,
    )


@pytest.mark.anvil
@pytest.mark.slow
def test_finalizing_attestations_in_the_same_block_never_run_out_of_gas(
    anvil_backend: RpcBackend,
) -> None:
    world = deploy_world(anvil_backend, PATIENT_QUORUM_2, n_nodes=3)
    a, b, c = world.nodes
    finalized_in_shared_block = 0
    for round in range(ROUNDS):
        play_round(world, round, [a, b, c])
        merged = f"merged {round}".encode()
        # every other round penalises a node: the finalizing path then also writes its record
        penalised = [] if round % 2 == 0 else [address(c)]
        results = in_one_block(
            anvil_backend, [partial(attest, n, round, merged, penalised) for n in (a, b)]
        )
        failures = [r for r in results if isinstance(r, Exception)]
        assert failures == [], f"round {round}: {failures}"
        assert results[0].tx.block_number == results[1].tx.block_number
        assert sorted(r.finalized for r in results) == [False, True]
        finalized_in_shared_block += 1
        assert world.gov.finalized(round) is not None
    assert finalized_in_shared_block == ROUNDS


@pytest.mark.anvil
def test_a_transaction_that_runs_out_of_gas_is_named_out_of_gas(
    anvil_backend: RpcBackend,
) -> None:
    """The sending layer without the Ledger's floor: the estimate of the non-finalizing path,
    mined on the finalizing one, runs out of gas and is reported as OutOfGas."""
    world = deploy_world(anvil_backend, Rules(quorum=2), n_nodes=2)
    a, b = world.nodes
    play_round(world, 0, [a, b])
    merged = b"merged 0"

    def raw_attest(node: Ledger) -> Any:
        assert node.sender is not None
        return node.sender.send(attest_call(node, 0, merged, []), "attest")

    results = in_one_block(anvil_backend, [lambda: raw_attest(a), lambda: raw_attest(b)])
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(failed) == 1 and isinstance(failed[0], OutOfGas), results
    assert "attest ran out of gas" in str(failed[0]) and "limit" in str(failed[0])


@pytest.fixture(scope="module")
def embedded() -> Iterator[Backend]:
    yield EmbeddedBackend()


@pytest.mark.parametrize("k", [0, 1, 8])
def test_the_finalizing_floor_covers_what_finalizing_costs(embedded: Backend, k: int) -> None:
    """The floor is a measured figure (bench/gas.py): this fails if the contract's finalizing
    path outgrows it (protocol v2 must bring its own)."""
    world = deploy_world(embedded, Rules(quorum=1), n_nodes=k + 1)
    play_round(world, 0, world.nodes)
    attester, penalised = world.nodes[0], [address(n) for n in world.nodes[1:]]
    merged = b"merged"
    res = attester.attest(
        0, sha256_hex(merged), cid_for_bytes(merged), cid_for_bytes(MANIFEST), penalised
    )
    assert res.finalized
    floor = FINALIZING_ATTEST_GAS + FINALIZING_ATTEST_GAS_PER_PENALISED * k
    assert res.tx.gas_used <= floor
    assert floor < res.tx.gas_used * 1.3  # a floor, not a blank cheque

"""The transaction policy on a real chain: fees and their caps, the gas margin, replacement of a
stuck or dropped transaction, confirmations and reorgs, deadlines, the receipt timeout.

Everything runs on anvil: base-fee spikes with `anvil_setNextBlockBaseFeePerGas`, stuck
transactions with automine off (`evm_setAutomine`, `evm_mine`), dropped ones with
`anvil_dropTransaction`, reorgs with `anvil_reorg`. A send runs in a thread while the test moves
the chain; each test deploys its own contract. The fee arithmetic itself is pure and tested first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from flchain.ledger import (
    DeadlineMissed,
    FeeCapExceeded,
    Ledger,
    Phase,
    ReceiptTimeout,
    RpcBackend,
    TxPolicy,
    commitment_hash,
)
from flchain.ledger.sending import FeeMarket, Fees, compute_fees, compute_replacement

from ..conftest import Update, World, deploy_world

GWEI = 10**9
FAST = {"poll_s": 0.02, "receipt_timeout_s": 30.0}


# ---------------------------------------------------------------- the arithmetic


def test_max_fee_is_base_times_multiplier_plus_priority_under_the_caps() -> None:
    market = FeeMarket(base_fee=10 * GWEI, priority_fee=1 * GWEI, gas_price=0)
    assert compute_fees(TxPolicy(), market, 100_000) == Fees(
        max_fee_per_gas=21 * GWEI, max_priority_fee_per_gas=1 * GWEI
    )
    policy = TxPolicy(base_fee_multiplier_pct=150, priority_fee_wei=2 * GWEI)
    assert compute_fees(policy, market, None).max_fee_per_gas == 17 * GWEI
    assert compute_fees(policy, market, None).max_priority_fee_per_gas == 2 * GWEI
    capped = TxPolicy(max_fee_per_gas_wei=12 * GWEI)
    assert compute_fees(capped, market, 100_000).max_fee_per_gas == 12 * GWEI
    # the cost cap is a per-gas cap of cost / gas: 1.3e15 wei over 100 000 gas = 13 gwei
    by_cost = TxPolicy(max_tx_cost_wei=1_300_000 * GWEI)
    assert compute_fees(by_cost, market, 100_000).max_fee_per_gas == 13 * GWEI
    with pytest.raises(FeeCapExceeded, match=r"base fee is 10 gwei, above the cap of 9 gwei"):
        compute_fees(TxPolicy(max_fee_per_gas_wei=9 * GWEI), market, None)


def test_a_replacement_bumps_both_fields_by_at_least_12_5_percent_within_the_cap() -> None:
    sent = Fees(max_fee_per_gas=20 * GWEI, max_priority_fee_per_gas=1 * GWEI)
    calm = Fees(max_fee_per_gas=3 * GWEI, max_priority_fee_per_gas=1 * GWEI)
    bumped = compute_replacement(TxPolicy(), sent, calm, 100_000)
    assert bumped == Fees(max_fee_per_gas=22_500_000_000, max_priority_fee_per_gas=1_125_000_000)
    spiked = Fees(max_fee_per_gas=200 * GWEI, max_priority_fee_per_gas=1 * GWEI)
    assert compute_replacement(TxPolicy(), sent, spiked, 100_000) == Fees(
        max_fee_per_gas=200 * GWEI, max_priority_fee_per_gas=1_125_000_000
    )
    capped = TxPolicy(max_fee_per_gas_wei=30 * GWEI)
    assert compute_replacement(capped, sent, spiked, 100_000) == Fees(
        max_fee_per_gas=30 * GWEI, max_priority_fee_per_gas=1_125_000_000
    )
    # no room for a bump the node would accept: it stays as it is
    assert compute_replacement(TxPolicy(max_fee_per_gas_wei=22 * GWEI), sent, calm, 1) is None
    with pytest.raises(ValueError):
        TxPolicy(fee_bump_bps=1_000)  # below what geth-style pools accept


# ---------------------------------------------------------------- on anvil


@pytest.fixture(scope="module")
def chain(anvil: Any) -> RpcBackend:
    return RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)


@pytest.fixture
def world(chain: RpcBackend) -> Iterator[World]:
    world = deploy_world(chain, n_nodes=2)
    world.goto(0, Phase.COMMIT)
    yield world
    chain._rpc("evm_setAutomine", [True])


@pytest.fixture
def background() -> Iterator[Callable[..., Future[Any]]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool.submit


def with_policy(node: Ledger, **fields: Any) -> Ledger:
    return Ledger(node.deployment, node.signer, TxPolicy(**{**FAST, **fields}))


def commitment(node: Ledger, u: Update) -> str:
    assert node.account is not None
    return commitment_hash(
        node.chain_id, node.address, u.round, node.account.address, u.digest, u.cid,
        u.base_digest, u.roi_bps, u.salt,
    )  # fmt: skip


def pooled(chain: RpcBackend, node: Ledger) -> dict[str, Any] | None:
    """The node wallet's pending transaction in anvil's pool, if any."""
    assert node.account is not None
    content = chain._rpc("txpool_content", [])["pending"]
    by_nonce = content.get(node.account.address.lower(), {})
    return next(iter(by_nonce.values()), None)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def commits_of(world: World, node: Ledger, round: int = 0) -> list[Any]:
    assert node.account is not None
    return [e for e in world.gov.events("Committed", round) if e.node == node.account.address]


def nonce(chain: RpcBackend, node: Ledger) -> int:
    assert node.account is not None
    return int(chain.w3.eth.get_transaction_count(node.account.address))


def test_fees_follow_a_10x_base_fee_spike_and_the_cap_refuses_before_sending(
    chain: RpcBackend, world: World
) -> None:
    node = with_policy(world.nodes[0])
    base = chain.next_base_fee()
    assert base is not None
    spike = 10 * max(base, GWEI)
    chain._rpc("anvil_setNextBlockBaseFeePerGas", [hex(spike)])
    tx = node.commit(0, commitment(node, world.update(0)))
    mined = chain.w3.eth.get_transaction(tx.tx_hash)  # type: ignore[arg-type]
    receipt = chain.w3.eth.get_transaction_receipt(tx.tx_hash)  # type: ignore[arg-type]
    tip = int(chain.w3.eth.max_priority_fee)
    assert int(mined["maxFeePerGas"]) == 2 * spike + tip  # the spiked base fee, doubled
    assert int(receipt["effectiveGasPrice"]) == spike + tip

    other = world.nodes[1]
    capped = with_policy(other, max_fee_per_gas_wei=spike // 2)
    chain._rpc("anvil_setNextBlockBaseFeePerGas", [hex(spike)])
    before = nonce(chain, other)
    with pytest.raises(FeeCapExceeded, match=r"^commit not sent: the next block's base fee"):
        capped.commit(0, commitment(other, world.update(0)))
    assert nonce(chain, other) == before and commits_of(world, other) == []


def test_gas_margin_and_fixed_priority_fee_are_what_is_sent(
    chain: RpcBackend, world: World
) -> None:
    node = world.nodes[0]
    c = commitment(node, world.update(0))  # one value: calldata bytes change the estimate
    call = node.contract.functions.commit(0, bytes.fromhex(c[2:]))
    assert node.account is not None
    estimate = int(call.estimate_gas({"from": node.account.address}))
    generous = with_policy(node, gas_margin_pct=50, priority_fee_wei=3 * GWEI)
    tx = generous.commit(0, c)
    sent = chain.w3.eth.get_transaction(tx.tx_hash)  # type: ignore[arg-type]
    assert int(sent["gas"]) == estimate * 150 // 100
    assert int(sent["maxPriorityFeePerGas"]) == 3 * GWEI


def test_a_stuck_transaction_is_replaced_at_the_same_nonce_with_bumped_fees(
    chain: RpcBackend, world: World, background: Callable[..., Future[Any]]
) -> None:
    node = with_policy(world.nodes[0], replace_after_s=0.3)
    chain._rpc("evm_setAutomine", [False])
    sending = background(node.commit, 0, commitment(node, world.update(0)))
    first = wait_for("the commit in the pool", lambda: pooled(chain, node))
    wait_for(
        "its replacement",
        lambda: (p := pooled(chain, node)) is not None and p["hash"] != first["hash"],
    )
    chain._rpc("evm_mine", [])
    tx = sending.result(30)
    mined = chain.w3.eth.get_transaction(tx.tx_hash)  # type: ignore[arg-type]
    assert tx.tx_hash != first["hash"] and int(mined["nonce"]) == int(first["nonce"], 16)
    for field in ("maxFeePerGas", "maxPriorityFeePerGas"):
        assert int(mined[field]) * 1000 >= int(first[field], 16) * 1125  # type: ignore[literal-required]
    assert chain._rpc("eth_getTransactionReceipt", [first["hash"]]) is None
    assert len(commits_of(world, node)) == 1


def test_a_transaction_evicted_by_a_fee_spike_is_sent_again_at_the_new_fee(
    chain: RpcBackend, world: World, background: Callable[..., Future[Any]]
) -> None:
    node = with_policy(world.nodes[0], replace_after_s=60)
    chain._rpc("evm_setAutomine", [False])
    sending = background(node.commit, 0, commitment(node, world.update(0)))
    first = wait_for("the commit in the pool", lambda: pooled(chain, node))
    spike = 10 * int(first["maxFeePerGas"], 16)
    chain._rpc("anvil_setNextBlockBaseFeePerGas", [hex(spike)])
    chain._rpc("evm_mine", [])  # anvil drops what can no longer pay the base fee
    second = wait_for(
        "the re-priced commit",
        lambda: (p := pooled(chain, node)) is not None and p["hash"] != first["hash"] and p,
    )
    chain._rpc("evm_mine", [])
    tx = sending.result(30)
    assert tx.tx_hash == second["hash"] and second["nonce"] == first["nonce"]
    assert int(second["maxFeePerGas"], 16) >= chain_base_of(chain, tx.block_number)
    assert len(commits_of(world, node)) == 1


def chain_base_of(chain: RpcBackend, block: int) -> int:
    return int(chain.w3.eth.get_block(block)["baseFeePerGas"])  # type: ignore[typeddict-item]


def test_a_dropped_transaction_is_sent_again_unchanged(
    chain: RpcBackend, world: World, background: Callable[..., Future[Any]]
) -> None:
    node = with_policy(world.nodes[0], replace_after_s=60)
    chain._rpc("evm_setAutomine", [False])
    sending = background(node.commit, 0, commitment(node, world.update(0)))
    first = wait_for("the commit in the pool", lambda: pooled(chain, node))
    chain._rpc("anvil_dropTransaction", [first["hash"]])
    wait_for("the commit back in the pool", lambda: pooled(chain, node))
    chain._rpc("evm_mine", [])
    tx = sending.result(30)
    assert tx.tx_hash == first["hash"]  # the same signed transaction: no fee paid twice
    assert len(commits_of(world, node)) == 1


def test_done_only_after_the_confirmations_and_sent_again_when_a_reorg_removes_it(
    chain: RpcBackend, world: World, background: Callable[..., Future[Any]]
) -> None:
    node = with_policy(world.nodes[0], confirmations=3)
    before = chain.head()[0]
    sending = background(node.commit, 0, commitment(node, world.update(0)))
    first_block = wait_for("the commit mined", lambda: chain.head()[0] > before and chain.head()[0])
    time.sleep(0.2)
    assert not sending.done()  # one block holds it, three are needed
    chain._rpc("anvil_reorg", [1, []])  # its block replaced by an empty one: the commit is gone
    wait_for("the commit mined again", lambda: chain.head()[0] > first_block)
    assert not sending.done()
    chain._rpc("evm_mine", [])
    chain._rpc("evm_mine", [])
    tx = sending.result(30)
    assert tx.block_number > first_block
    assert chain.head()[0] - tx.block_number + 1 >= 3
    assert len(commits_of(world, node)) == 1  # the index rewound: no event of the lost block


def test_a_send_that_cannot_be_mined_before_its_deadline_is_reported_not_retried(
    chain: RpcBackend, world: World, background: Callable[..., Future[Any]]
) -> None:
    node = world.nodes[0]
    schedule = world.gov.schedule
    # before sending: the next block would already be past the commit window
    chain.set_time(schedule.commit_end(0) - 1)
    before = nonce(chain, node)
    with pytest.raises(DeadlineMissed, match=r"^commit can no longer be mined before"):
        with_policy(node).commit(0, commitment(node, world.update(0)))
    assert nonce(chain, node) == before

    # while pending: the fee climbs above the cap and the window closes without it
    world2 = deploy_world(chain, n_nodes=1)
    world2.goto(0, Phase.COMMIT)
    late = world2.nodes[0]
    cap = 4 * (chain.next_base_fee() or 0) + 2 * GWEI
    capped = with_policy(late, max_fee_per_gas_wei=cap, replace_after_s=0.1)
    chain._rpc("evm_setAutomine", [False])
    sending = background(capped.commit, 0, commitment(late, world2.update(0)))
    wait_for("the commit in the pool", lambda: pooled(chain, late))
    chain._rpc("anvil_setNextBlockBaseFeePerGas", [hex(10 * cap)])
    chain._rpc("evm_setNextBlockTimestamp", [world2.gov.schedule.commit_end(0) - 1])
    chain._rpc("evm_mine", [])
    with pytest.raises(DeadlineMissed, match=r"^commit can no longer be mined before its deadline"):
        sending.result(30)
    assert commits_of(world2, late) == []


def test_a_timed_out_transaction_is_replaced_by_the_wallets_next_one(
    chain: RpcBackend, world: World, background: Callable[..., Future[Any]]
) -> None:
    node = with_policy(world.nodes[0], receipt_timeout_s=0.5, replace_after_s=60)
    chain._rpc("evm_setAutomine", [False])
    with pytest.raises(ReceiptTimeout, match=r"^commit: no receipt for tx 0x"):
        node.commit(0, commitment(node, world.update(0)))
    stuck = pooled(chain, node)
    assert stuck is not None
    # the next send takes the stuck one's nonce (and outbids it) instead of queueing behind it
    patient = with_policy(world.nodes[0], replace_after_s=60)
    sending = background(patient.commit, 0, commitment(node, world.update(0)))
    wait_for(
        "the replacement",
        lambda: (p := pooled(chain, node)) is not None and p["hash"] != stuck["hash"],
    )
    chain._rpc("evm_mine", [])
    tx = sending.result(30)
    sent = chain.w3.eth.get_transaction(tx.tx_hash)  # type: ignore[arg-type]
    assert int(sent["nonce"]) == int(stuck["nonce"], 16)
    assert chain._rpc("eth_getTransactionReceipt", [stuck["hash"]]) is None
    assert len(commits_of(world, node)) == 1

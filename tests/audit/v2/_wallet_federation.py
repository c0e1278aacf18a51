"""A protocol v2 federation in which one node is a contract wallet, for the audit's traces.

The wallet is tests/contract/V2Wallet.sol (the differential tests' forwarding wallet, compiled
from there): its operator, an EOA, sends every call as `exec(target, calldata)` with the call's
value, so the contract sees the wallet as `msg.sender` and no transaction's input is a call to
the contract — the audit can follow those calls only through a call trace. `WalletLedger` is a
`LedgerV2` that sends that way; `V2Batch.sol` (this folder) runs several wallet calls in one
transaction, catching the reverts it is told may happen.

    round 0  a, b (EOAs) and w (the wallet) register, commit and reveal (w's payload is in the
             wallet's calldata, unreadable: the merge penalises it, §5); w posts the beacon;
             all attest the merge; w finalizes
    round 1  a and b settle; w, in one batched transaction, settles, commits and commits again
             (a revert the batch catches: the contract refuses a second commitment); all
             reveal and attest; a keeper finalizes
    round 2  the clock is moved into its commit window, so rounds 0 and 1 are closed

`play_forward_through_wallets` plays the forward re-post of docs/security.md §7 (forward
scoring on, `_federation.FORWARD_RULES`): a stranger's wallet posts round 0's honest window
first, so no transaction's input carries its bytes; a keeper posts the same bytes again
directly; round 1's commits vote for it — w's through its wallet as `commitWithForward`, whose
own call into the box is the contract's — and the merge of round 1 scores round 0 on it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from _federation import FORWARD_ROUND, FORWARD_RULES, forward_window, make_update
from _twin import BEACON, ETHER, base_weights, deployment, rules, wallet
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract

from flchain.ledger import Backend, LedgerV2
from flchain.ledger.contract_v2 import ContractV2
from flchain.ledger.sending import Signer, TxResult
from flchain.market.benchmark import benchmark_for_round
from flchain.merge.forward import ForwardRound
from flchain.merge.settlement import settlement_proof
from flchain.merge.v2 import MergeResultV2, PriorRound, merge_v2, prior_from_manifest
from flchain.protocol import Address
from flchain.protocol import digests as dg
from flchain.protocol import forward as fw
from flchain.protocol.machine import Phase
from flchain.storage import LocalStore

_TESTS = Path(__file__).resolve().parents[2]
WALLET_SOL = _TESTS / "contract" / "V2Wallet.sol"
BATCH_SOL = Path(__file__).with_name("V2Batch.sol")
#: What a call through the wallet costs on top of the direct call's floor.
WALLET_GAS = 60_000


@cache
def compiled(path: Path, name: str) -> dict[str, Any]:
    vectors = _TESTS / "protocol" / "vectors"
    if str(vectors) not in sys.path:
        sys.path.insert(0, str(vectors))
    from evm_probe import compile_solidity

    return compile_solidity(path, name)  # type: ignore[no-any-return]


def deploy_contract(backend: Backend, owner: LocalAccount, path: Path, name: str) -> Contract:
    """Deploy `name` of the Solidity file `path`, signed by `owner`."""
    art = compiled(path, name)
    w3 = backend.w3
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["evm"]["bytecode"]["object"])
    tx = factory.constructor().build_transaction(
        {"from": owner.address, "nonce": w3.eth.get_transaction_count(owner.address)}
    )
    sent = w3.eth.send_raw_transaction(owner.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(sent)
    return w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])


class WalletLedger(LedgerV2):
    """A node that is a contract wallet: each call is its operator's `exec(target, calldata)`
    to the wallet, with the call's value; the node (`_me`) is the wallet."""

    def __init__(self, binding: ContractV2, operator: LocalAccount, wallet: Contract) -> None:
        super().__init__(binding, Signer(operator))
        self.wallet = wallet

    def _me(self) -> Address:
        return to_checksum_address(self.wallet.address)

    def calldata(self, function: str, *args: Any, box: bool = False) -> bytes:
        target = self.forward_box if box else self.binding
        return bytes.fromhex(target.contract.encode_abi(function, list(args))[2:])

    def exec_data(self, function: str, *args: Any) -> bytes:
        """The wallet's `exec` input that makes this call on the contract."""
        data = self.calldata(function, *args)
        return bytes.fromhex(self.wallet.encode_abi("exec", [self.address, data])[2:])

    def _transact(
        self,
        function: str,
        *args: Any,
        value: int = 0,
        gas_floor: int | None = None,
        deadline: int | None = None,
    ) -> TxResult:
        data = self.calldata(function, *args)
        return self._through(self.address, data, function, value, gas_floor, deadline)

    def _transact_forward(
        self,
        function: str,
        *args: Any,
        gas_floor: int,
        deadline: int | None = None,
        to: Any = None,
    ) -> TxResult:
        target = (to or self.binding).address
        data = self.calldata(function, *args, box=to is not None)
        return self._through(target, data, function, 0, gas_floor, deadline)

    def _through(
        self,
        target: str,
        data: bytes,
        function: str,
        value: int,
        gas_floor: int | None,
        deadline: int | None,
    ) -> TxResult:
        assert self.sender is not None
        call = self.wallet.functions.exec(target, data)
        floor = None if gas_floor is None else gas_floor + WALLET_GAS
        receipt = self.sender.send(call, function, value, gas_floor=floor, deadline=deadline)
        return self._result(function, receipt)


@dataclass
class PlayedWallet:
    gov: LedgerV2
    node: WalletLedger
    merged: list[MergeResultV2]
    batch_tx: str  # round 1's batched settle, commit and caught second commit (forward: the
    # stranger's post through its wallet)


def play_with_wallet(backend: Backend, store: LocalStore) -> PlayedWallet:
    store.put(base_weights())
    g = LedgerV2.deploy(
        backend, wallet(backend, 10**22), deployment(backend.latest_timestamp()), rules()
    )
    a, b = (g.with_account(wallet(backend)) for _ in range(2))
    operator = wallet(backend)
    w = WalletLedger(
        g.binding, operator, deploy_contract(backend, operator, WALLET_SOL, "V2Wallet")
    )
    batch = deploy_contract(backend, operator, BATCH_SOL, "V2Batch")
    keeper = g.with_account(wallet(backend))
    nodes: list[LedgerV2] = [a, b, w]
    for n in nodes:
        n.register(ETHER)
    keeper.fund_pool(5 * ETHER)

    g.goto(0, Phase.COMMIT, 5)
    keeper.open_round(0)
    ups = {n: make_update(0, seed=50 + i, node=n._me()) for i, n in enumerate(nodes)}
    for n, u in ups.items():
        n.commit(0, n.commitment(0, u.digest, u.base_digest, u.roi_bps, u.salt))
    g.goto(0, Phase.REVEAL, 5)
    for n, u in ups.items():
        n.reveal(*u.reveal_args())
    g.goto(0, Phase.BEACON, 5)
    w.post_beacon(0, BEACON.sign(g.beacon_round(0)))
    g.goto(0, Phase.ATTEST, 5)
    merged0 = merge_v2(
        g.round_record_v2(0), base_weights(), benchmark_for_round(0), PriorRound.genesis()
    )
    store.put(merged0.merged_weights)
    store.put(merged0.manifest)
    for n in nodes:
        n.attest(0, merged0.result)
    w.finalize(0, merged0.result)

    g.goto(1, Phase.COMMIT, 5)
    keeper.open_round(1)
    for n in (a, b):
        n.settle(*settlement_proof(merged0.manifest, n._me()))
    ups1 = {
        n: make_update(1, seed=60 + i, base=merged0.merged_weights, node=n._me())
        for i, n in enumerate(nodes)
    }
    leaf, proof = settlement_proof(merged0.manifest, w._me())
    u = ups1[w]
    commitment = w.commitment(1, u.digest, u.base_digest, u.roi_bps, u.salt)
    calls = [
        w.exec_data("settle", leaf.to_abi(), [bytes(p) for p in proof]),
        w.exec_data("commit", 1, commitment),
        w.exec_data("commit", 1, commitment),  # refused (already committed), caught
    ]
    assert operator is not None and w.sender is not None
    run = batch.functions.run([w.wallet.address] * 3, calls, [False, False, True])
    batch_tx = "0x" + bytes(w.sender.send(run, "run")["transactionHash"]).hex()
    for n in (a, b):
        u = ups1[n]
        n.commit(1, n.commitment(1, u.digest, u.base_digest, u.roi_bps, u.salt))
    g.goto(1, Phase.REVEAL, 5)
    for n, u in ups1.items():
        n.reveal(*u.reveal_args())
    g.goto(1, Phase.ATTEST, 5)
    merged1 = merge_v2(
        g.round_record_v2(1), merged0.merged_weights, benchmark_for_round(1),
        prior_from_manifest(merged0.manifest),
    )  # fmt: skip
    store.put(merged1.merged_weights)
    store.put(merged1.manifest)
    for n in nodes:
        n.attest(1, merged1.result)
    keeper.finalize(1, merged1.result)
    g.goto(2, Phase.COMMIT, 5)
    return PlayedWallet(g, w, [merged0, merged1], batch_tx)


def play_forward_through_wallets(backend: Backend, store: LocalStore) -> PlayedWallet:
    store.put(base_weights())
    d = deployment(
        backend.latest_timestamp(), round_length=FORWARD_ROUND, exit_delay=2 * FORWARD_ROUND
    )
    g = LedgerV2.deploy(backend, wallet(backend, 10**22), d, rules(**FORWARD_RULES))
    a, b = (g.with_account(wallet(backend)) for _ in range(2))
    operator, other = wallet(backend), wallet(backend)
    w = WalletLedger(
        g.binding, operator, deploy_contract(backend, operator, WALLET_SOL, "V2Wallet")
    )
    stranger = WalletLedger(
        g.binding, other, deploy_contract(backend, other, WALLET_SOL, "V2Wallet")
    )
    keeper = g.with_account(wallet(backend))
    nodes: list[LedgerV2] = [a, b, w]
    for n in nodes:
        n.register(ETHER)
    keeper.fund_pool(5 * ETHER)

    g.goto(0, Phase.COMMIT, 5)
    keeper.open_round(0)
    ups = {n: make_update(0, seed=70 + i, node=n._me()) for i, n in enumerate(nodes)}
    for n, u in ups.items():
        n.commit(0, n.commitment(0, u.digest, u.base_digest, u.roi_bps, u.salt))
    g.goto(0, Phase.REVEAL, 5)
    for n, u in ups.items():
        n.reveal(*u.reveal_args())
    g.goto(0, Phase.ATTEST, 5)
    merged0 = merge_v2(
        g.round_record_v2(0), base_weights(), benchmark_for_round(0), PriorRound.genesis()
    )
    store.put(merged0.merged_weights)
    store.put(merged0.manifest)
    for n in nodes:
        n.attest(0, merged0.result)
    keeper.finalize(0, merged0.result)

    window = forward_window(fw.forward_start(d.reveal_end(0), 0), seed=5)
    g.backend.set_time(fw.forward_close(d.reveal_end(0), 0, FORWARD_RULES["forward_bars"]) + 5)
    posted = stranger.post_forward(0, window)  # first, through a contract: unreadable
    keeper.post_forward(0, window)  # the same bytes again, directly

    g.goto(1, Phase.COMMIT, 5)
    keeper.open_round(1)
    ups1 = {
        n: make_update(1, seed=80 + i, base=merged0.merged_weights, node=n._me())
        for i, n in enumerate(nodes)
    }
    for n, u in ups1.items():
        n.settle(*settlement_proof(merged0.manifest, n._me()))
        commitment = n.commitment(1, u.digest, u.base_digest, u.roi_bps, u.salt)
        n.commit_with_forward(1, commitment, 0, dg.sha256(window))
    g.goto(1, Phase.REVEAL, 5)
    for n, u in ups1.items():
        n.reveal(*u.reveal_args())
    g.goto(1, Phase.ATTEST, 5)
    scored = ForwardRound(g.round_record_v2(0), base_weights(), window)
    merged1 = merge_v2(
        g.round_record_v2(1), merged0.merged_weights, benchmark_for_round(1),
        prior_from_manifest(merged0.manifest), scored,
    )  # fmt: skip
    store.put(merged1.merged_weights)
    store.put(merged1.manifest)
    for n in nodes:
        n.attest(1, merged1.result)
    keeper.finalize(1, merged1.result)
    g.goto(2, Phase.COMMIT, 5)
    return PlayedWallet(g, w, [merged0, merged1], posted.tx_hash)


def play_wallet_rounds(backend: Backend, store: LocalStore, rounds: int, nodes: int) -> LedgerV2:
    """`_federation.play_rounds` (claim-scored) with every node a contract wallet
    (bench/audit_traces.py): each round every node settles, commits and reveals through its
    wallet, the first posts the beacon, all attest, a keeper finalizes. A wallet's payload is
    unreadable (§5), so each is penalised every round: its bond of `rounds` ether keeps it in
    the frozen set through its slashes."""
    store.put(base_weights())
    g = LedgerV2.deploy(
        backend, wallet(backend, 10**22), deployment(backend.latest_timestamp()), rules()
    )
    members = []
    for _ in range(nodes):
        operator = wallet(backend)
        members.append(
            WalletLedger(
                g.binding, operator, deploy_contract(backend, operator, WALLET_SOL, "V2Wallet")
            )
        )
    keeper = g.with_account(wallet(backend))
    for n in members:
        n.register(rounds * ETHER)
    keeper.fund_pool(rounds * ETHER)
    weights, prior, manifest = base_weights(), PriorRound.genesis(), None
    for r in range(rounds):
        g.goto(r, Phase.COMMIT, 5)
        keeper.open_round(r)
        ups = {
            n: make_update(r, seed=1000 * r + i, base=weights, node=n._me())
            for i, n in enumerate(members)
        }
        for n, u in ups.items():
            if manifest is not None:
                n.settle(*settlement_proof(manifest, n._me()))
            n.commit(r, n.commitment(r, u.digest, u.base_digest, u.roi_bps, u.salt))
        g.goto(r, Phase.REVEAL, 5)
        for n, u in ups.items():
            n.reveal(*u.reveal_args())
        g.goto(r, Phase.BEACON, 5)
        members[0].post_beacon(r, BEACON.sign(g.beacon_round(r)))
        g.goto(r, Phase.ATTEST, 5)
        merged = merge_v2(g.round_record_v2(r), weights, benchmark_for_round(r), prior)
        store.put(merged.merged_weights)
        store.put(merged.manifest)
        for n in members:
            n.attest(r, merged.result)
        keeper.finalize(r, merged.result)
        weights, manifest = merged.merged_weights, merged.manifest
        prior = prior_from_manifest(manifest)
    g.goto(rounds, Phase.COMMIT, 5)
    return g

"""The embedded chain answers a repeated call on the same latest block from memory (the same
answer a fresh execution gives, and never an answer of an older block), and reads blocks from
py-evm's headers (the same answers as eth-tester's get_block); a view goes straight to py-evm
with the answer, or the refusal, web3 gives."""

from __future__ import annotations

from typing import Any

import pytest
from _twin import ETHER, Twin
from eth_tester import PyEVMBackend

from flchain.ledger import EmbeddedBackend
from flchain.ledger.backends import Backend, _staging_pyevm_class


@pytest.fixture
def twin() -> Twin:
    return Twin.deploy(EmbeddedBackend())


def _executions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per call py-evm executes from now on."""
    runs: list[int] = []
    plain = PyEVMBackend.call

    def counted(self: Any, transaction: Any, block_number: Any = "latest") -> Any:
        runs.append(1)
        return plain(self, transaction, block_number)

    monkeypatch.setattr(PyEVMBackend, "call", counted)
    # the embedded chain's own execution of a call (eth-tester's only for a refusal)
    staging = _staging_pyevm_class()
    unfinalized = staging._unfinalized_call

    def counted_unfinalized(self: Any, transaction: Any) -> Any:
        runs.append(1)
        return unfinalized(self, transaction)

    monkeypatch.setattr(staging, "_unfinalized_call", counted_unfinalized)
    return runs


def test_a_repeated_view_in_one_block_runs_once_and_answers_the_same(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = twin.node()
    assert node.account is not None
    me = node.account.address
    runs = _executions(monkeypatch)
    assert node.node_view(me) == twin.gov.node_view(me) and len(runs) == 1
    # what is kept is what executing the call again at this block gives
    tester: Any = node.backend.tester  # type: ignore[attr-defined]
    data = node.contract.functions.nodeView(me)._encode_transaction_data()
    tx = {"to": node.address, "data": data, "from": me}
    kept, again = node.w3.eth.call(tx), node.w3.eth.call(tx)  # type: ignore[arg-type]
    fresh = PyEVMBackend.call(tester.backend, tester.normalizer.normalize_inbound_transaction(tx))
    assert bytes(kept) == bytes(again) == bytes(fresh) and len(runs) == 3


def test_a_new_block_is_read_again(twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    node = twin.node(bond=ETHER)
    assert node.account is not None
    me = node.account.address
    before = node.node_view(me).bond
    runs = _executions(monkeypatch)
    twin.send(node, "add_bond", ETHER)
    assert node.node_view(me).bond == before + ETHER and len(runs) == 1
    twin.backend.advance_time(60)  # an empty block: read again, whatever it changes
    node.node_view(me)
    assert len(runs) == 2


def test_block_reads_are_what_get_block_says(twin: Twin) -> None:
    node = twin.node(bond=ETHER)
    assert node.account is not None
    backend = twin.backend
    backend.advance_time(100)
    w3 = backend.w3
    for n in range(w3.eth.block_number + 3):  # the pending block and beyond: no block
        assert backend.block_hash(n) == Backend.block_hash(backend, n), n
        try:
            expected: int | None = int(w3.eth.get_block(n)["timestamp"])
        except Exception:
            expected = None
        try:
            found: int | None = backend.block_timestamp(n)
        except Exception:
            found = None
        assert found == expected, n
    assert backend.head() == Backend.head(backend)
    assert backend.latest_timestamp() == Backend.latest_timestamp(backend)
    assert backend.next_base_fee() == int(w3.eth.get_block("pending")["baseFeePerGas"])
    for who in (node.account.address, twin.gov.account.address if twin.gov.account else ""):
        for block in ("latest", "pending"):
            expected_count = w3.eth.get_transaction_count(who, block)  # type: ignore[arg-type]
            assert backend.transaction_count(who, block) == expected_count > 0


def test_a_view_goes_straight_to_py_evm_with_web3s_answer_and_refusal(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = twin.node(bond=ETHER)
    assert node.account is not None
    me = node.account.address
    backend = twin.backend
    tester: Any = backend.tester  # type: ignore[attr-defined]
    through_web3: list[Any] = []
    plain = tester.call
    monkeypatch.setattr(tester, "call", lambda *a: (through_web3.append(a), plain(*a))[1])
    frm = backend.w3.eth.default_account
    for function, args in (("nodeView", (me,)), ("latest", ()), ("stakeOf", (me, 1))):
        tx = {"to": node.address, "data": node.contract.encode_abi(function, args), "from": frm}
        direct = backend.call_latest(tx)
        assert not through_web3
        assert direct == bytes(backend.w3.eth.call(tx, "latest")) and direct  # type: ignore[arg-type]
        through_web3.clear()
    refused = {"to": node.address, "data": "0xdeadbeef", "from": frm}
    with pytest.raises(Exception) as direct_error:
        backend.call_latest(refused)
    assert through_web3  # the refusal came through web3
    with pytest.raises(Exception) as web3_error:
        backend.w3.eth.call(refused, "latest")  # type: ignore[arg-type]
    assert type(direct_error.value) is type(web3_error.value)
    assert str(direct_error.value) == str(web3_error.value)

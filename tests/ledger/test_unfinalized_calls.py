"""The embedded chain answers a call on the latest block without finalizing the transaction
(`_unfinalized_call`): every answer over a driven v2 round is eth-tester's own `call`'s bytes,
and a refused call is left to eth-tester, which raises its error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_tester import PyEVMBackend
from eth_tester.exceptions import TransactionFailed

from flchain.ledger import EmbeddedBackend
from flchain.protocol.machine import Phase
from flchain.storage import LocalStore
from flchain.testing.driver import RoundDriverV2


def test_every_answer_is_eth_testers_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = EmbeddedBackend()
    evm = backend.tester.backend
    fast = evm._unfinalized_call
    compared: list[bytes] = []

    def checked(transaction: Any) -> bytes | None:
        answer = fast(transaction)
        assert answer is not None, transaction
        assert answer == PyEVMBackend.call(evm, transaction, "latest")
        compared.append(bytes(transaction["data"][:4]))
        return answer

    monkeypatch.setattr(evm, "_unfinalized_call", checked)
    driver = RoundDriverV2.deploy(backend, LocalStore(tmp_path, fsync=False), 3)
    driver.play_round(0)
    driver.step_phase(1, Phase.COMMIT)
    assert len(compared) > 50 and len(set(compared)) > 5


def test_a_refused_call_is_left_to_eth_tester(tmp_path: Path) -> None:
    backend = EmbeddedBackend()
    driver = RoundDriverV2.deploy(backend, LocalStore(tmp_path, fsync=False), 3)
    evm = backend.tester.backend
    faucet = bytes.fromhex(backend.tester.get_accounts()[0][2:])
    bogus = {
        "to": bytes.fromhex(driver.gov.address[2:]),
        "from": faucet,
        "data": bytes.fromhex("deadbeef"),
    }
    assert evm._unfinalized_call(bogus) is None
    with pytest.raises(TransactionFailed):
        evm.call(bogus, "latest")

"""`ViewCaller` answers every view as web3's `ContractFunction.call()` does: checked call by call
while a v2 federation plays a round and settles it (every view the nodes read, with the
arguments and chain states they read them at), and for arguments it cannot keep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flchain.ledger import EmbeddedBackend
from flchain.ledger.viewcalls import ViewCaller
from flchain.protocol.machine import Phase
from flchain.storage import LocalStore
from flchain.testing.driver import RoundDriverV2


def test_every_view_of_a_round_is_what_web3_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[str] = []
    fast = ViewCaller.call

    def both(self: ViewCaller, function: str, args: tuple[Any, ...]) -> Any:
        answer = fast(self, function, args)
        again = fast(self, function, args)  # now from what it kept
        plain = getattr(self.contract.functions, function)(*args).call()
        assert answer == again == plain, function
        assert type(answer) is type(plain), function
        compared.append(function)
        return answer

    monkeypatch.setattr(ViewCaller, "call", both)
    driver = RoundDriverV2.deploy(EmbeddedBackend(), LocalStore(tmp_path, fsync=False), 3)
    driver.play_round(0)
    driver.step_phase(1, Phase.COMMIT)
    assert {"nodeView", "latest", "roundView", "commitmentOf", "stakeOf"} <= set(compared)


def test_unhashable_arguments_go_through_web3(tmp_path: Path) -> None:
    driver = RoundDriverV2.deploy(EmbeddedBackend(), LocalStore(tmp_path, fsync=False), 1)
    caller = ViewCaller(driver.gov.contract)
    unkept = caller.call("tallyOf", (0, bytearray(32)))  # a bytearray cannot be a key
    assert unkept == driver.gov.contract.functions.tallyOf(0, bytes(32)).call() == 0
    assert not caller._data
    assert caller.call("tallyOf", (0, bytes(32))) == 0 and len(caller._data) == 1

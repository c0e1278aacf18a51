"""The v2 node's persisted salts and the isolation of its actions (embedded chain, real files).

`SaltStore` keeps each round's random salt on disk before the commit that binds it: a new
store over the same directory answers the same salt, nobody else can read the file, and a
damaged file is refused in one line. `classify_failure` names what an action raised; a bug
injected on purpose into one action (the update source) does not stop the others.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from web3.exceptions import Web3RPCError

from flchain.ledger import EmbeddedBackend
from flchain.node.behaviour import Behaviour
from flchain.node.errors import NodeError, StoreWriteError
from flchain.node.logs import classify_failure
from flchain.node.salt import SaltStore
from flchain.node.update import Update, UpdateInputs
from flchain.protocol.machine import Phase
from flchain.storage import LocalStore
from flchain.storage.errors import IpfsUnavailableError
from flchain.testing.driver import RoundDriverV2


def test_a_salt_is_drawn_once_and_survives_a_restart(tmp_path: Path) -> None:
    contract = "0x" + "ab" * 20
    store = SaltStore.for_node(tmp_path, 31337, contract, "0x" + "cd" * 20)
    assert store.get(3) is None
    salt = store.salt(3)
    assert len(salt) == 32 and store.salt(3) == salt
    again = SaltStore.for_node(tmp_path, 31337, contract, "0x" + "cd" * 20)
    assert again.get(3) == salt and again.salt(4) != salt
    assert SaltStore.for_node(tmp_path, 1, contract, "0x" + "cd" * 20).get(3) is None
    assert store.directory is not None
    path = store.directory / "round-3.salt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    path.write_text("not hex")
    with pytest.raises(NodeError, match=r"round-3\.salt does not hold 32 bytes"):
        SaltStore(store.directory).get(3)


def test_failures_are_classified() -> None:
    kinds = {
        "unavailable": IpfsUnavailableError("daemon down"),
        "error": NodeError("no"),
        "library": Web3RPCError("insufficient funds"),
        "bug": ZeroDivisionError("division by zero"),
    }
    for kind, exc in kinds.items():
        failure = classify_failure("commit", exc)
        assert (failure.action, failure.kind, failure.error) == (
            "commit", kind, type(exc).__name__,
        )  # fmt: skip
    assert classify_failure("commit", StoreWriteError("disk full")).kind == "unavailable"
    assert classify_failure("x", NodeError("no")).line == "NodeError: no"


class BrokenUpdates(Behaviour):
    """FAULT INJECTED ON PURPOSE: the update source raises a bug in round 0 only."""

    def __init__(self, inner: Behaviour) -> None:
        self.inner = inner

    def prepare(self, inputs: UpdateInputs) -> Update:
        if inputs.round == 0:
            raise ZeroDivisionError("injected bug in the update source")
        return self.inner.prepare(inputs)


def test_a_bug_in_one_action_does_not_stop_the_others(tmp_path: Path) -> None:
    fed = RoundDriverV2.deploy(EmbeddedBackend(), LocalStore(tmp_path / "s", fsync=False), 3)
    a = fed.addresses[0]
    fed.runner(a).behaviour = BrokenUpdates(fed.updates)
    commit = fed.step_phase(0, Phase.COMMIT)[a]
    assert commit.opened == [0]  # the action before the failed one ran
    assert [(f.action, f.kind) for f in commit.failures] == [("commit", "bug")]
    for phase in (Phase.REVEAL, Phase.BEACON):
        fed.step_phase(0, phase)
    attest = fed.step_phase(0, Phase.ATTEST)[a]
    assert attest.attested == [0] and attest.failures == []
    assert fed.record(0).finalized is not None
    assert a not in {r.node for r in fed.record(0).reveals}
    one = fed.play_round(1)
    assert [r.committed for r in one.reports[a] if r.committed] == [[1]]

"""NodeRunner on the real embedded chain and local store: restart safety, locks, faults.

A "restart" here is a fresh NodeRunner (nothing carried over but the keystore account, the
chain and the store) — the in-process equivalent of SIGKILL + start. The ENOSPC case is a
deliberate fault: a store whose put raises OSError(ENOSPC), saying so.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from flchain.devnet.federation import deploy, deterministic_account, devnet_rules, fund_and_register
from flchain.devnet.journal import JournaledEmbeddedBackend
from flchain.ledger import Ledger, Phase
from flchain.node.context import bars_source
from flchain.node.daemon import wallet_lock
from flchain.node.errors import NodeLocked, StoreWriteError
from flchain.node.runner import NodeRunner
from flchain.node.salt import derive_salt
from flchain.simulate import SIM_T0
from flchain.storage import LocalStore


@dataclass(frozen=True)
class Deployment:
    """A devnet contract on the embedded chain, its store and two registered node wallets."""

    ledger: Ledger
    store: LocalStore
    accounts: tuple[LocalAccount, LocalAccount]


@pytest.fixture()
def federation(tmp_path: Path) -> Deployment:
    backend = JournaledEmbeddedBackend()
    backend.set_time(SIM_T0 - 3_600)
    store = LocalStore(tmp_path / "store", fsync=False)
    ledger, _ = deploy(
        backend, deterministic_account("deployer", 7), store, t0=SIM_T0, rules=devnet_rules(2)
    )
    accounts = (deterministic_account("n0", 7), deterministic_account("n1", 7))
    fund_and_register(ledger, list(accounts))
    return Deployment(ledger, store, accounts)


def commitments(ledger: Ledger, round: int) -> list[str]:
    return [e.node for e in ledger.events("Committed", round)]


def test_restart_after_commit_reveals_the_same_update_and_never_commits_twice(
    federation: Deployment,
) -> None:
    ledger, store, (a, _b) = federation.ledger, federation.store, federation.accounts
    bars = bars_source("partition")
    ledger.backend.goto(ledger.schedule, 0, Phase.COMMIT)
    first = NodeRunner(ledger, a, store, bars)
    assert any("committed" in x for x in first.step().actions)
    restarted = NodeRunner(ledger, a, store, bars)  # no memory of the commit
    assert restarted.step().actions == []
    assert commitments(ledger, 0) == [a.address]
    ledger.backend.goto(ledger.schedule, 0, Phase.REVEAL)
    again = NodeRunner(ledger, a, store, bars)
    actions = again.step().actions
    assert any("revealed round 0" in x and "ACCEPTED" in x for x in actions)
    assert NodeRunner(ledger, a, store, bars).step().actions == []  # revealed once


def test_restart_rebuilds_even_when_the_store_lost_the_weights(
    federation: Deployment, tmp_path: Path
) -> None:
    ledger, store, (a, _) = federation.ledger, federation.store, federation.accounts
    bars = bars_source("partition")
    ledger.backend.goto(ledger.schedule, 0, Phase.COMMIT)
    runner = NodeRunner(ledger, a, store, bars)
    runner.step()
    cid = runner._sealed[0].cid
    fresh_store = LocalStore(tmp_path / "wiped", fsync=False)
    fresh_store.put(store.get(ledger.genesis().cid))
    ledger.backend.goto(ledger.schedule, 0, Phase.REVEAL)
    assert any("revealed" in x for x in NodeRunner(ledger, a, fresh_store, bars).step().actions)
    assert fresh_store.has(cid)


def test_salt_is_deterministic_secret_and_per_round(federation: Deployment) -> None:
    ledger, (a, b) = federation.ledger, federation.accounts
    s0 = derive_salt(a, ledger.chain_id, ledger.address, 0)
    assert s0 == derive_salt(a, ledger.chain_id, ledger.address, 0)
    assert s0 != derive_salt(a, ledger.chain_id, ledger.address, 1)
    assert s0 != derive_salt(b, ledger.chain_id, ledger.address, 0)
    assert a.key.hex()[2:] not in s0 and a.key.hex() not in s0


class FullDisk(LocalStore):
    """Deliberate fault: every write fails as a full disk would."""

    def put(self, data: bytes) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_commits_nothing(federation: Deployment, tmp_path: Path) -> None:
    ledger, store, (a, _) = federation.ledger, federation.store, federation.accounts
    full = FullDisk(tmp_path / "full", fsync=False)
    LocalStore(tmp_path / "full", fsync=False).put(store.get(ledger.genesis().cid))
    ledger.backend.goto(ledger.schedule, 0, Phase.COMMIT)
    with pytest.raises(StoreWriteError, match="No space left on device"):
        NodeRunner(ledger, a, full, bars_source("partition")).step()
    assert commitments(ledger, 0) == []


def test_second_daemon_on_the_same_wallet_is_refused(tmp_path: Path) -> None:
    address = deterministic_account("x", 1).address
    with (
        wallet_lock(tmp_path, address),
        pytest.raises(NodeLocked, match="already running"),
        wallet_lock(tmp_path, address),
    ):
        pass
    with wallet_lock(tmp_path, address):  # released: a new daemon may start
        pass

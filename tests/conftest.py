"""Shared fixtures: a chain (`backend`: the embedded chain and a real anvil, the same tests on
both) and fresh FLChain deployments on it (`world`, `make_world`, `deploy_world`).

Used by tests/ledger and tests/protocol. Each test gets a fresh deployment on a module-wide
chain (chain time only moves forward, so a fresh contract with T0 just ahead of the chain's
clock is simpler and safer than snapshots).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from flchain.devnet.anvil import AnvilProcess, DevChainError
from flchain.hashing import sha256_hex
from flchain.ledger import (
    Backend,
    DeployConfig,
    EmbeddedBackend,
    Ledger,
    Phase,
    RpcBackend,
    commitment_hash,
)
from flchain.protocol import Rules
from flchain.storage.cid import cid_for_bytes

ROUND = 1_000
COMMIT = 400
REVEAL = 300
EXIT_DELAY = 50
GENESIS = b"genesis model bytes"


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "embedded":
        yield EmbeddedBackend()
        return
    try:
        proc = AnvilProcess().start()
    except DevChainError as exc:  # only a missing binary is a skip; a crash fails below
        if "not found" in str(exc):
            pytest.skip(str(exc))
        raise
    try:
        yield RpcBackend(proc.url, kind="anvil", expected_chain_id=proc.chain_id)
    finally:
        proc.stop()


@dataclass
class Update:
    """One node's update for a round, with everything commit and reveal need."""

    round: int
    payload: bytes
    base_digest: str
    roi_bps: int
    salt: str = field(default_factory=lambda: "0x" + secrets.token_hex(32))

    @property
    def digest(self) -> str:
        return sha256_hex(self.payload)

    @property
    def cid(self) -> str:
        return cid_for_bytes(self.payload)


@dataclass
class World:
    """A fresh deployment with a governor and funded node wallets."""

    backend: Backend
    gov: Ledger
    nodes: list[Ledger]

    def wallet(self) -> Ledger:
        acct: LocalAccount = Account.create()
        self.backend.fund(acct.address, 10**20)
        return self.gov.with_account(acct)

    def update(self, round: int, roi_bps: int = 100, payload: bytes | None = None) -> Update:
        body = payload if payload is not None else secrets.token_bytes(48)
        return Update(round, body, sha256_hex(GENESIS), roi_bps)

    def commit(self, node: Ledger, u: Update) -> None:
        assert node.account is not None
        c = commitment_hash(
            node.chain_id,
            node.address,
            u.round,
            node.account.address,
            u.digest,
            u.cid,
            u.base_digest,
            u.roi_bps,
            u.salt,
        )
        node.commit(u.round, c)

    def reveal(self, node: Ledger, u: Update) -> int:
        _, outcome = node.reveal(u.round, u.digest, u.cid, u.base_digest, u.roi_bps, u.salt)
        return int(outcome)

    def goto(self, round: int, phase: Phase, offset: int = 5) -> None:
        self.backend.goto(self.gov.schedule, round, phase, offset)


def deploy_world(
    backend: Backend, rules: Rules | None = None, n_nodes: int = 3, min_bond: int = 0
) -> World:
    gov_acct: LocalAccount = Account.create()
    backend.fund(gov_acct.address, 10**21)
    now = backend.latest_timestamp()
    config = DeployConfig(
        t0=now + 50,
        round_length=ROUND,
        commit_window=COMMIT,
        reveal_window=REVEAL,
        min_bond=min_bond,
        exit_delay=EXIT_DELAY,
        genesis_digest=sha256_hex(GENESIS),
        genesis_cid=cid_for_bytes(GENESIS),
        rules=rules or Rules(),
    )
    gov = Ledger.deploy(backend, gov_acct, config)
    world = World(backend, gov, [])
    for _ in range(n_nodes):
        node = world.wallet()
        node.register(min_bond)
        world.nodes.append(node)
    return world


@pytest.fixture
def world(backend: Backend) -> World:
    return deploy_world(backend)


@pytest.fixture(scope="module")
def make_world(backend: Backend) -> object:
    """Factory: `make_world(rules=None, n_nodes=3, min_bond=0)` on this module's chain."""

    def make(rules: Rules | None = None, n_nodes: int = 3, min_bond: int = 0) -> World:
        return deploy_world(backend, rules, n_nodes, min_bond)

    return make

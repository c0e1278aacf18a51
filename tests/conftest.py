"""Fixtures every test folder shares: an isolated environment, a local chain, an IPFS daemon.

Each starts a real process or touches real files; a missing binary (anvil or js-ipfs not in
node_modules) skips the tests that need it, any other failure to start fails them.

The fixtures start anvil, hardhat node and js-ipfs through `flchain.devnet.process`, so a test run
that is interrupted or sent SIGTERM stops them and says so; pytest captures stderr and shows
nothing of it for an interrupted session, hence `pytest_configure`'s reporter.

Chain fixtures for tests/ledger and tests/protocol: `backend` (the embedded chain and a real anvil,
the same tests on both) and fresh FLChain deployments on it (`world`, `make_world`,
`deploy_world`). Each test gets a fresh deployment on a module-wide chain (chain time only moves
forward, so a fresh contract with T0 just ahead of the chain's clock is simpler and safer than
snapshots).
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from flchain.devnet import process
from flchain.devnet.anvil import AnvilProcess, DevChainError, find_anvil
from flchain.devnet.ipfsd import IpfsDaemon, IpfsDaemonError, find_jsipfs_cli
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
from flchain.storage import IpfsClient
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


def pytest_configure(config: pytest.Config) -> None:
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        return

    def report(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(line, file=sys.stderr, flush=True)

    process.set_reporter(report)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No FLCHAIN_* from the developer's shell, a fresh HOME (no ~/.flchain), and an empty cwd
    (no ./flchain.toml); returns the cwd."""
    for name in list(os.environ):
        if name.upper().startswith("FLCHAIN_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def home(isolated_env: Path) -> Path:
    return Path(os.environ["HOME"])


@pytest.fixture(scope="session")
def anvil_binary() -> Path:
    """The anvil binary from node_modules (skips when it is not installed)."""
    try:
        return find_anvil()
    except DevChainError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def anvil(anvil_binary: Path) -> Iterator[AnvilProcess]:
    """One anvil on a free 127.0.0.1 port for the module's tests (chain time only moves forward,
    so each test deploys its own contract)."""
    with AnvilProcess() as node:
        assert isinstance(node, AnvilProcess)
        yield node


@pytest.fixture(scope="session")
def ipfs_daemon() -> Iterator[IpfsDaemon]:
    """A real js-ipfs daemon, strictly offline on 127.0.0.1, started once per session."""
    try:
        find_jsipfs_cli()
    except IpfsDaemonError as exc:
        pytest.skip(str(exc))
    with IpfsDaemon() as daemon:
        yield daemon


@pytest.fixture(scope="session")
def ipfs(ipfs_daemon: IpfsDaemon) -> Iterator[IpfsClient]:
    with IpfsClient(ipfs_daemon.url, timeout=120) as client:
        yield client

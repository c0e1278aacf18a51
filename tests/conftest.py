"""Fixtures every test folder shares: an isolated environment, a local chain, an IPFS daemon.

Each starts a real process or touches real files; a missing binary (anvil or js-ipfs not in
node_modules) skips the tests that need it, any other failure to start fails them.

The fixtures start anvil, hardhat node and js-ipfs through `flchain.devnet.process`, so a test run
that is interrupted or sent SIGTERM stops them and says so; pytest captures stderr and shows
nothing of it for an interrupted session, hence `pytest_configure`'s reporter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flchain.devnet import process
from flchain.devnet.anvil import AnvilProcess, DevChainError, find_anvil
from flchain.devnet.ipfsd import IpfsDaemon, IpfsDaemonError, find_jsipfs_cli
from flchain.storage import IpfsClient


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

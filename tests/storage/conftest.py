"""Fixtures for storage tests: one real offline js-ipfs daemon per session, data generators."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from flchain.devnet.ipfsd import IpfsDaemon, IpfsDaemonError, find_jsipfs_cli
from flchain.storage import IpfsClient, LocalStore


def pseudo_random_bytes(n: int, seed: bytes = b"flchain") -> bytes:
    """Deterministic incompressible bytes (sha256 in counter mode), so CIDs can be pinned."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest() * 64
        counter += 1
    return bytes(out[:n])


@pytest.fixture(scope="session")
def ipfs_daemon() -> Iterator[IpfsDaemon]:
    """A real js-ipfs daemon, strictly offline on 127.0.0.1, started once per session."""
    try:
        find_jsipfs_cli()
    except IpfsDaemonError as exc:
        pytest.skip(str(exc))
    daemon = IpfsDaemon()
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def ipfs(ipfs_daemon: IpfsDaemon) -> Iterator[IpfsClient]:
    with IpfsClient(ipfs_daemon.url, timeout=120) as client:
        yield client


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture(params=["local", "ipfs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LocalStore | IpfsClient:
    """The same store contract, run against the local blockstore and the real daemon."""
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    client: IpfsClient = request.getfixturevalue("ipfs")
    return client

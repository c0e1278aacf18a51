"""Fixtures for storage tests: both stores, data generators (the js-ipfs daemon and its client
are the root conftest's `ipfs_daemon` / `ipfs`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from flchain.storage import IpfsClient, LocalStore


def pseudo_random_bytes(n: int, seed: bytes = b"flchain") -> bytes:
    """Deterministic incompressible bytes (sha256 in counter mode), so CIDs can be pinned."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest() * 64
        counter += 1
    return bytes(out[:n])


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

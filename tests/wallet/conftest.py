"""Fixtures for wallet tests: real keystore folders in tmp dirs, cheap KDF only by explicit choice."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_keys.constants import SECPK1_N

from flchain.ledger.keystore import KdfParams, Keystore


@pytest.fixture
def keystore_dir(tmp_path: Path) -> Path:
    return tmp_path / "keystores"


@pytest.fixture
def keystore(keystore_dir: Path) -> Keystore:
    # PBKDF2 with few iterations, asked for explicitly: the default (scrypt) has its own test.
    return Keystore(keystore_dir, kdf=KdfParams.fast())


@pytest.fixture
def private_key() -> bytes:
    """A fresh random key per test, so finding its hex anywhere means it leaked."""
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < SECPK1_N:
            return key


def key_spellings(key: bytes) -> list[str]:
    """Every way the key could show up in text."""
    h = key.hex()
    return [h, h.upper(), "0x" + h, h[:32], h[32:]]


def _assert_no_key(text: str | bytes, key: bytes) -> None:
    if isinstance(text, bytes):
        assert key not in text
        text = text.decode("utf-8", errors="replace")
    low = text.lower()
    for spelling in key_spellings(key):
        assert spelling.lower() not in low, "private key material leaked"


NoKeyCheck = Callable[[str | bytes, bytes], None]


@pytest.fixture
def assert_no_key() -> NoKeyCheck:
    """`assert_no_key(text, key)`: fails if any spelling of `key` occurs in `text`."""
    return _assert_no_key


@pytest.fixture(autouse=True)
def _isolated(isolated_env: Path) -> Path:
    """No FLCHAIN_* from the developer's shell, no ~/.flchain, no ./flchain.toml leak in."""
    return isolated_env

"""Fixtures for wallet tests: real keystore folders in tmp dirs, cheap KDF only by explicit choice."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from flchain.ledger.keystore import KdfParams, Keystore

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


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
        if 0 < int.from_bytes(key, "big") < SECP256K1_N:
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
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No FLCHAIN_* from the developer's shell, no ~/.flchain, no ./flchain.toml leak in."""
    import os

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

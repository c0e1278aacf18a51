"""Fixtures for settings tests: real profile files in tmp dirs, in an isolated environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture(autouse=True)
def _isolated(isolated_env: Path) -> Path:
    """Every settings test runs in the root conftest's isolated environment."""
    return isolated_env


def profile_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": 1,
        "chain": "anvil",
        "rpc_url": "http://127.0.0.1:8545",
        "chain_id": 31337,
        "contract": CONTRACT,
        "deployment_block": 1,
        "store": "ipfs",
        "ipfs_url": "http://127.0.0.1:5001",
        "keystore_dir": "keystores",
        "wallets": [{"name": "node-0", "address": WALLET}],
        "genesis_cid": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        "processes": [{"name": "anvil", "pid": 4242, "port": 8545, "command": ["anvil"]}],
    }
    doc.update(overrides)
    return doc


@pytest.fixture
def write_profile() -> Callable[..., Path]:
    """`write_profile(path, **overrides)` writes a valid profile JSON (then the overrides)."""

    def _write(path: Path, **overrides: Any) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {k: v for k, v in profile_doc(**overrides).items() if v is not None}
        path.write_text(json.dumps(doc))
        return path

    return _write

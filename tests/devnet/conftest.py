"""Devnet tests: make `_devnet_cli` importable (--import-mode=importlib); skip without anvil."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flchain.devnet.anvil import DevChainError, find_anvil

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(scope="session", autouse=True)
def _anvil_installed() -> None:
    try:
        find_anvil()
    except DevChainError as exc:
        pytest.skip(str(exc))

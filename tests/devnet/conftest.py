"""Devnet tests: make `_devnet_cli` importable (--import-mode=importlib); skip without anvil."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(scope="session", autouse=True)
def _anvil_installed(anvil_binary: Path) -> None:
    """Every devnet test needs anvil (the root conftest skips when it is not installed)."""

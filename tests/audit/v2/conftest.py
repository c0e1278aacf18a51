"""Audit v2 tests: the ledger v2 twin harness (`tests/ledger/v2/_twin.py`: deployment, rules,
wallets, real updates) and this folder's federation importable (--import-mode=importlib)."""

from __future__ import annotations

import sys
from pathlib import Path

for folder in (Path(__file__).parent, Path(__file__).parents[2] / "ledger" / "v2"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

"""Ledger v2 tests: the twin harness (`_twin.py`) importable (tests use --import-mode=importlib).

The chain is the root conftest's `backend` fixture: the embedded chain and a real anvil, one
per module; each test deploys its own FLChainV2 with round 0 a little ahead of the chain's
clock (time only moves forward).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

"""Replay tests: the v2 twin's helpers (tests/ledger/v2/_twin.py) importable, so v2 rounds are
built the way the ledger's own federation test builds them."""

from __future__ import annotations

import sys
from pathlib import Path

TWIN = str(Path(__file__).parents[1] / "ledger" / "v2")
if TWIN not in sys.path:
    sys.path.insert(0, TWIN)

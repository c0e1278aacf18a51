"""Write docs/settings.md from flchain.config.Settings (`--check`: exit 1 if it is stale)."""

from __future__ import annotations

import sys
from pathlib import Path

from flchain.config import settings_reference

TARGET = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def main() -> int:
    text = settings_reference()
    if "--check" in sys.argv[1:]:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run python scripts/settings_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

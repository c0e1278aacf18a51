"""Write the generated references: docs/settings.md (from flchain.config.Settings) and the
federation file tables of protocol v1 and v2 in docs/deploy.md (between its rules-reference and
rules-v2-reference markers).
`--check`: exit 1 if either is stale."""

from __future__ import annotations

import sys
from pathlib import Path

from flchain.config import settings_reference
from flchain.rules_file import federation_reference
from flchain.rules_file_v2 import federation_reference_v2

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCKS = {"rules-reference": federation_reference, "rules-v2-reference": federation_reference_v2}


def with_federation_reference(text: str) -> str:
    """`text` (docs/deploy.md) with the generated tables between each pair of markers."""
    for name, generate in BLOCKS.items():
        start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        text = head + start + generate() + end + tail
    return text


def main() -> int:
    deploy = (DOCS / "deploy.md").read_text(encoding="utf-8")
    wanted = {
        DOCS / "settings.md": settings_reference(),
        DOCS / "deploy.md": with_federation_reference(deploy),
    }
    stale = [p for p, text in wanted.items() if p.read_text(encoding="utf-8") != text]
    if "--check" in sys.argv[1:]:
        for path in stale:
            print(f"{path} is stale: run python scripts/settings_reference.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Every test the docs cite exists: `tests/…py::test_name` and forge `test/…t.sol::test_name`
name a file of the repository and a test defined in it; `…::test_name` (the docs' short form)
names a test of a file the same document cited before. The security model's attack table is
only as good as the tests it points to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md", ROOT / "contracts" / "README.md"])
CITATION = re.compile(r"(tests/[\w/]+\.py|test/[\w/]+\.t\.sol|…)(?:::(\w+))?")


def _defines(path: Path, name: str) -> bool:
    return re.search(rf"\b(def|function) {re.escape(name)}\b", path.read_text()) is not None


def _broken_citations(doc: Path) -> list[str]:
    broken: list[str] = []
    cited: list[Path] = []
    for match in CITATION.finditer(doc.read_text()):
        where, name = match.group(1), match.group(2)
        if where == "…":
            if name is not None and not any(_defines(f, name) for f in cited):
                broken.append(f"…::{name} (in none of {len(cited)} files cited before)")
            continue
        path = ROOT / where
        if not path.is_file():
            broken.append(where)
            continue
        cited.append(path)
        if name is not None and not _defines(path, name):
            broken.append(f"{where}::{name}")
    return broken


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_test_exists(doc: Path) -> None:
    assert _broken_citations(doc) == []

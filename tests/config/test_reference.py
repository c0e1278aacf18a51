"""docs/settings.md is the reference generated from the Settings model, and is up to date."""

from __future__ import annotations

from pathlib import Path

from flchain.config import SETTING_NAMES, settings_reference
from flchain.rules_file import RULE_BOUNDS, federation_reference

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC = DOCS / "settings.md"


def test_committed_reference_matches_the_model() -> None:
    assert DOC.read_text(encoding="utf-8") == settings_reference(), (
        "docs/settings.md is stale: run `python scripts/settings_reference.py`"
    )


def test_reference_lists_every_setting_once() -> None:
    rows = [line for line in settings_reference().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(SETTING_NAMES)
    assert all(
        f"`FLCHAIN_{name.upper()}`" in row for name, row in zip(SETTING_NAMES, rows, strict=True)
    )


def test_deploy_doc_carries_the_current_federation_file_tables() -> None:
    text = (DOCS / "deploy.md").read_text(encoding="utf-8")
    start, end = "<!-- rules-reference:start -->\n", "<!-- rules-reference:end -->"
    assert text.count(start) == 1 and text.count(end) == 1
    block = text.split(start)[1].split(end)[0]
    assert block == federation_reference(), (
        "docs/deploy.md's federation tables are stale: run `python scripts/settings_reference.py`"
    )
    for name, (low, _) in RULE_BOUNDS.items():
        assert f"| `{name}` | {low} … " in block

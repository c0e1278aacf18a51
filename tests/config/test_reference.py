"""docs/settings.md is the reference generated from the Settings model, and is up to date."""

from __future__ import annotations

from pathlib import Path

from flchain.config import SETTING_NAMES, settings_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


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

"""`flchain audit --run DIR` on a `flchain simulate` run folder (embedded chain rebuilt from its
journal, local store copy): an honest run verifies, exit 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flchain.cli import app

pytestmark = pytest.mark.slow


def test_simulation_run_folder_verifies(tmp_path: Path) -> None:
    simulate = pytest.importorskip("flchain.simulate")
    run = tmp_path / "run"
    simulate.run_simulation(
        simulate.SimulationConfig(nodes=3, days=2, protocol=1), run, progress=False
    )
    result = CliRunner().invoke(app, ["audit", "--run", str(run), "--all", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [r["verdict"] for r in doc["rounds"]] == ["verified", "verified"]

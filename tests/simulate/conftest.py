"""One real 10-node × 7-day embedded simulation of protocol v1 with every v1 adversary, shared
by the tests of test_simulate.py (protocol v2: test_simulate_v2.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flchain.simulate import SimulationConfig, SimulationResult, parse_adversaries, run_simulation


@pytest.fixture(scope="session")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("sim") / "run"
    config = SimulationConfig(
        nodes=10, days=7, protocol=1, adversaries=parse_adversaries("all", protocol=1)
    )
    return run_simulation(config, out, progress=False)


@pytest.fixture(scope="session")
def run_dir(full_run: SimulationResult) -> Path:
    return Path(full_run.run_dir)

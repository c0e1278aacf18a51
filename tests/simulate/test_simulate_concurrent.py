"""`flchain simulate --chain anvil` steps the nodes of a phase at once while it mines
(`--workers`), and the run is the one-after-another run's bit for bit: the same table, the same
balances, the same merged models, decisions, seeds and settlements. Manifests are compared
without where each input landed (block number, log index: the concurrent mode packs a phase
into fewer blocks) and without the base's manifest CID (which hashes the previous round's
positions). Faulty nodes of `--nodes` step alone after the honest ones, in both runs' order of
faults; the per-phase progress counts each node once."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from flchain.simulate import SimulationConfig, parse_adversaries, run_simulation

pytestmark = [pytest.mark.slow, pytest.mark.anvil]

WHERE = {"block_number", "log_index"}


def _positionless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _positionless(v) for k, v in value.items() if k not in WHERE}
    if isinstance(value, list):
        return [_positionless(v) for v in value]
    return value


def _manifests(run: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted((run / "manifests").glob("round-*.json")):
        doc = _positionless(json.loads(path.read_text()))
        doc["base"].pop("manifest_cid")
        out.append(doc)
    return out


def test_concurrent_simulation_is_the_sequential_one(tmp_path: Path) -> None:
    def run(workers: int, console: Console | None = None) -> tuple[Any, Path]:
        config = SimulationConfig(
            nodes=8, days=2, chain="anvil", workers=workers,
            adversaries=parse_adversaries("inflated-roi,no-reveal"),
        )  # fmt: skip
        out = tmp_path / f"w{workers}"
        return run_simulation(config, out, console=console, progress=console is not None), out

    seq, seq_dir = run(1)
    log = tmp_path / "progress.txt"
    with log.open("w") as fh:
        con, con_dir = run(4, Console(file=fh, width=120, force_terminal=False))
    assert (con_dir / "table.txt").read_text() == (seq_dir / "table.txt").read_text()
    assert [r.finality for r in con.rounds] == ["final", "final"]
    assert con.balances == seq.balances and con.outcomes == seq.outcomes
    assert [r.rejected for r in con.rounds] == [r.rejected for r in seq.rounds]
    assert any(r.rejected for r in con.rounds)  # the faults were played, and caught alike
    manifests = _manifests(con_dir)
    assert len(manifests) == 2 and manifests == _manifests(seq_dir)
    assert all(m["merged"] for m in manifests)
    # fewer blocks: one phase's transactions share blocks
    seq_blocks = json.loads((seq_dir / "events.json").read_text())
    con_blocks = json.loads((con_dir / "events.json").read_text())
    blocks = [{e["block_number"] for e in doc} for doc in (seq_blocks, con_blocks)]
    assert len(blocks[1]) < len(blocks[0])
    assert re.search(r"\b\d attested of 8\b", log.read_text())  # the last phase's count

"""The simulation's caches change no bit of a v2 run.

One 10 × 3 run with every adversary, twice: as shipped, and with every in-process cache this
branch relies on turned off — the merge memo keeps nothing, the settlement tables and base
manifests are parsed per call, no beacon signature counts as valid for having been signed in
this process, and the embedded chain keeps web3's validation and ENS middleware. The two run
folders must agree byte for byte: the journal (every signed transaction in order, so the same
chain), the event log, every manifest, the table, and the summary but its wall time. Turning
the caches off is the reference path, not a mock: each one is swapped for the plain function
it memoises.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flchain.ledger import backends
from flchain.merge import settlement
from flchain.protocol import beacon
from flchain.replay import v2 as replay_v2
from flchain.simulate import SimulationConfig, parse_adversaries, run_simulation
from flchain.simulate import v2 as simulate_v2
from flchain.simulate.phases import SharedMemo

pytestmark = pytest.mark.slow

CONFIG = SimulationConfig(nodes=10, days=3, adversaries=parse_adversaries("all"))
#: Files of the run folder compared byte for byte (summary.json apart: it has the wall time).
SAME_BYTES = ("chain.jsonl", "events.json", "table.txt")


class _ForgetfulSet(set[tuple[bytes, int, bytes]]):
    def add(self, item: tuple[bytes, int, bytes]) -> None:
        pass


def _without_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulate_v2, "SharedMemo", lambda: SharedMemo(max_entries=0))
    monkeypatch.setattr(settlement, "_table", settlement._table.__wrapped__)
    monkeypatch.setattr(replay_v2, "_parsed_prior", replay_v2._parsed_prior.__wrapped__)
    monkeypatch.setattr(beacon, "_SIGNED_HERE", _ForgetfulSet())
    monkeypatch.setattr(backends, "_EMBEDDED_SKIPPED_MIDDLEWARE", ())


def _files(run_dir: Path) -> dict[str, bytes]:
    names = [*SAME_BYTES, *(f"manifests/{p.name}" for p in (run_dir / "manifests").iterdir())]
    return {name: (run_dir / name).read_bytes() for name in sorted(names)}


def _summary(run_dir: Path) -> dict[str, object]:
    doc = json.loads((run_dir / "summary.json").read_text())
    doc.pop("wall_seconds")
    doc.pop("run_dir")
    return dict(doc)


def test_a_run_without_the_caches_is_the_same_run_bit_for_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = run_simulation(CONFIG, tmp_path / "cached", progress=False)
    with monkeypatch.context() as patch:
        _without_caches(patch)
        plain = run_simulation(CONFIG, tmp_path / "plain", progress=False)
    assert plain.rounds and all(r.finalized for r in plain.rounds)
    assert len(list((Path(plain.run_dir) / "manifests").iterdir())) == CONFIG.days
    assert _files(Path(cached.run_dir)) == _files(Path(plain.run_dir))
    assert _summary(Path(cached.run_dir)) == _summary(Path(plain.run_dir))

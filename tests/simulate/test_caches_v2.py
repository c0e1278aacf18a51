"""The simulation's caches change no bit of a v2 run.

One 10 × 2 run with every adversary, twice: as shipped, and with every in-process cache this
branch relies on turned off — the merge memo keeps nothing, the settlement tables, base
manifests and rules of a started round are read per call, no beacon signature counts as valid
for having been signed in this process, and the embedded chain keeps web3's validation and ENS
middleware. The two run folders must agree byte for byte: the journal (every signed
transaction in order, so the same chain), the event log, every manifest, the table, and the
summary but its wall time. Turning the caches off is the reference path, not a mock: each one
is swapped for the plain function it memoises. The salts are the only randomness of a run
(`SaltStore` draws them from the OS), so both runs draw them from one seeded sequence instead
(injected on purpose, as the round driver's `SeededSalts` does).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from flchain.ledger import LedgerV2, backends, views_v2
from flchain.merge import settlement
from flchain.node import salt
from flchain.protocol import beacon
from flchain.replay import v2 as replay_v2
from flchain.simulate import SimulationConfig, parse_adversaries, run_simulation
from flchain.simulate import v2 as simulate_v2
from flchain.simulate.phases import SharedMemo

# two simulations in a row: on a loaded machine well past the default 600 s
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]

CONFIG = SimulationConfig(nodes=10, days=2, adversaries=parse_adversaries("all"))
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
    monkeypatch.setattr(
        LedgerV2, "rules_for_round", lambda self, r: views_v2.get_rules_for_round(self.binding, r)
    )


def _seeded_salts(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = itertools.count()

    def token_bytes(n: int) -> bytes:
        return hashlib.sha256(b"test_caches_v2|%d" % next(counter)).digest()[:n]

    monkeypatch.setattr(salt, "secrets", SimpleNamespace(token_bytes=token_bytes))


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
    with monkeypatch.context() as patch:
        _seeded_salts(patch)
        cached = run_simulation(CONFIG, tmp_path / "cached", progress=False)
    with monkeypatch.context() as patch:
        _seeded_salts(patch)
        _without_caches(patch)
        plain = run_simulation(CONFIG, tmp_path / "plain", progress=False)
    assert plain.rounds and all(r.finalized for r in plain.rounds)
    assert len(list((Path(plain.run_dir) / "manifests").iterdir())) == CONFIG.days
    assert _files(Path(cached.run_dir)) == _files(Path(plain.run_dir))
    assert _summary(Path(cached.run_dir)) == _summary(Path(plain.run_dir))

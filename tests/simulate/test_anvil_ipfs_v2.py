"""`flchain simulate --chain anvil --store ipfs` on protocol v2 (the default), as a user runs it:
once the simulation's anvil and js-ipfs daemon are gone, its run folder must still hold every
content the chain names (the final models and manifests the `Attested` events carry, in their
binary form) and `flchain audit --run` must verify every round from it. Before
`ChainEvent.cids` named v2's binary CIDs, the folder kept the genesis model alone and every
round audited `unverifiable`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from flchain.config import load_profile
from flchain.ledger import cid_to_str
from flchain.storage import LocalStore
from flchain.testing.cli import clean_env, run_flchain

NODES, DAYS = 4, 2

pytestmark = pytest.mark.slow


def flchain(*args: str) -> subprocess.CompletedProcess[str]:
    return run_flchain(*args, env=clean_env(COLUMNS="80", LINES="50"), script=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("anvil-ipfs-v2") / "run"
    done = flchain("simulate", "--nodes", str(NODES), "--days", str(DAYS), "--chain", "anvil",
                   "--store", "ipfs", "--out", str(out), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_the_run_folder_holds_every_final_model_and_manifest(run_dir: Path) -> None:
    profile = load_profile(run_dir / "profile.json")
    assert profile.protocol == 2 and profile.store == "local" and profile.store_dir is not None
    store = LocalStore(run_dir / profile.store_dir)
    events = json.loads((run_dir / "events.json").read_text())
    final = {
        (e["args"]["round"], e["args"]["resultHash"]) for e in events if e["name"] == "Finalized"
    }
    named = {
        cid_to_str(bytes.fromhex(str(e["args"][key])[2:]))
        for e in events
        if e["name"] == "Attested" and (e["args"]["round"], e["args"]["resultHash"]) in final
        for key in ("mergedCid", "manifestCid")
    }
    assert len(final) == DAYS and len(named) == 2 * DAYS  # a model and a manifest a round
    assert [c for c in sorted(named) if not store.has(c)] == []
    for cid in sorted(named):
        store.get(cid)  # a verified read: the bytes hash to their CID


def test_audit_verifies_every_round_from_the_run_folder(run_dir: Path) -> None:
    done = flchain("audit", "--run", str(run_dir), "--all", "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["protocol_version"] == 2
    assert [(r["round"], r["verdict"]) for r in report["rounds"]] == [
        (r, "verified") for r in range(DAYS)
    ]

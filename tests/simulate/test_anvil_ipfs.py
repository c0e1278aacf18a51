"""`flchain simulate --chain anvil --store ipfs`: the same federation on a real anvil and a real
js-ipfs daemon, run as the CLI a user types (a subprocess, on an 80-column terminal).

Each adversary must be caught by the rule meant for it (manifests, events, summary), the printed
table must fit 80 columns without cutting a reason, and the run folder must be auditable after
the simulation's anvil and IPFS daemon are gone: `flchain audit --run <run>` restores
`anvil-state.json` into a temporary anvil and re-merges every round.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from flchain.config import load_profile
from flchain.ledger import cid_to_str
from flchain.simulate import REASON_LABELS
from flchain.storage import LocalStore
from flchain.testing.cli import clean_env, run_flchain

ADVERSARIES = ("inflated-roi", "nan-weights", "no-reveal", "wrong-attestation")
NODES, DAYS = 6, 2  # four adversaries need two honest nodes beyond them

pytestmark = pytest.mark.slow


def flchain(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_flchain(*args, env=env, script=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("anvil-ipfs") / "run"
    env = clean_env(COLUMNS="80", LINES="50")
    done = flchain(
        "simulate",
        "--nodes",
        str(NODES),
        "--days",
        str(DAYS),
        "--chain",
        "anvil",
        "--store",
        "ipfs",
        "--adversaries",
        ",".join(ADVERSARIES),
        "--protocol",
        "1",
        "--out",
        str(out),
        "--quiet",
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def summary(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "summary.json").read_text()))


def manifest(run_dir: Path, round: int) -> dict[str, Any]:
    return dict(json.loads((run_dir / "manifests" / f"round-{round:04d}.json").read_text()))


def node_of(run_dir: Path, kind: str) -> str:
    (address,) = [r["address"] for r in summary(run_dir)["roles"] if r["behaviour"] == kind]
    return str(address)


def decision(run_dir: Path, round: int, node: str) -> dict[str, Any] | None:
    return next((i for i in manifest(run_dir, round)["inputs"] if i["node"] == node), None)


def test_ran_on_anvil_and_ipfs_and_every_round_finalized(run: tuple[Path, str]) -> None:
    run_dir, _ = run
    doc = summary(run_dir)
    assert doc["config"]["chain"] == "anvil" and doc["config"]["store"] == "ipfs"
    assert (run_dir / "anvil-state.json").is_file() and not (run_dir / "chain.jsonl").exists()
    assert [r["finalized"] for r in doc["rounds"]] == [True] * DAYS
    for role in doc["roles"]:
        if role["behaviour"] == "honest":
            assert doc["outcomes"][role["address"]] == ["accepted"] * DAYS


def test_each_adversary_caught_by_its_rule(run: tuple[Path, str]) -> None:
    run_dir, _ = run
    doc = summary(run_dir)
    inflated, nan, silent, liar = (node_of(run_dir, k) for k in ADVERSARIES)
    for day in range(DAYS):
        m = manifest(run_dir, day)
        entry = decision(run_dir, day, inflated)
        assert entry is not None and entry["reason"] == "roi_not_reproduced"
        assert entry["claimed_roi_bps"] > entry["recomputed_roi_bps"]
        nan_entry = decision(run_dir, day, nan)
        assert nan_entry is not None and nan_entry["reason"] == "non_finite"
        assert {inflated, nan} <= set(m["penalised"])
        assert decision(run_dir, day, silent) is None  # committed, never revealed, not merged
        row = doc["rounds"][day]
        assert (row["commits"], row["reveals"]) == (NODES, NODES - 1)
        assert row["rejected"] == {"no_reveal": 1, "non_finite": 1, "roi_not_reproduced": 1}
        assert row["conflicting_results"] == 1
    events = json.loads((run_dir / "events.json").read_text())
    for day in range(DAYS):
        final = next(
            e for e in events if e["name"] == "RoundFinalized" and e["args"]["round"] == day
        )
        attests = {
            e["args"]["attester"]: e["args"]["resultHash"]
            for e in events
            if e["name"] == "Attested" and e["args"]["round"] == day
        }
        wrong = {a for a, h in attests.items() if h != final["args"]["resultHash"]}
        assert wrong == {liar}  # the only conflicting result; the honest quorum finalized


def test_run_folder_holds_every_referenced_content(run: tuple[Path, str]) -> None:
    """The IPFS daemon is gone: the run folder's local store must hold what the chain names."""
    run_dir, _ = run
    profile = load_profile(run_dir / "profile.json")
    assert profile.store == "local" and profile.store_dir is not None
    store = LocalStore(profile.store_dir)
    events = json.loads((run_dir / "events.json").read_text())
    cids = {
        cid_to_str(bytes.fromhex(str(e["args"][key])[2:]))
        for e in events
        for key in ("cid", "mergedCid", "manifestCid")
        if key in e["args"]
    }
    assert len(cids) >= DAYS * 2 + NODES
    missing = [c for c in sorted(cids) if not store.has(c)]
    # the wrong attester's "merge" is the base model re-attested, which is in the store
    assert missing == []
    for cid in sorted(cids):
        store.get(cid)  # verified read: bytes hash to their CID


def test_table_fits_80_columns_and_names_every_reason(run: tuple[Path, str]) -> None:
    run_dir, printed = run
    lines = printed.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, printed
    assert "…" not in printed  # nothing truncated
    for reason in ("no_reveal", "non_finite", "roi_not_reproduced"):
        label = REASON_LABELS[reason]
        assert f"{label}×1" in printed
        assert any(line.split()[:3] == [label, "rejected:", reason] for line in lines), reason
    saved = (run_dir / "table.txt").read_text()
    assert "roi_not_reproduced" in saved and "contract" in saved and "…" not in saved


def test_audit_after_the_run_from_the_run_folder(run: tuple[Path, str]) -> None:
    """The simulation's anvil died with it (profile.json's rpc_url is dead): `flchain audit
    --run` restores the folder's anvil-state.json into a temporary anvil itself and audits every
    round from it and the run folder's store."""
    run_dir, _ = run
    liar = node_of(run_dir, "wrong-attestation")
    done = flchain("audit", "--run", str(run_dir), "--all", "--json")
    report = json.loads(done.stdout)
    assert [r["round"] for r in report["rounds"]] == list(range(DAYS))
    for audited in report["rounds"]:
        # the finalized result is exactly the replay; the one disagreement is the liar's
        assert audited["verdict"] == "conflict", audited["headline"]
        assert audited["replayed"] == audited["finalized"]
        disagree = {a["attester"] for a in audited["attesters"] if not a["matches_replay"]}
        assert disagree == {liar}
        by_node = {i["node"]: i for i in audited["inputs"]}
        assert by_node[node_of(run_dir, "inflated-roi")]["finalized_reason"] == (
            "roi_not_reproduced"
        )
    # a conflicting attestation is a fault found (docs/audit.md: exit 1, not "cannot verify")
    assert done.returncode == 1 and report["exit_code"] == 1, done.stderr[-2000:]

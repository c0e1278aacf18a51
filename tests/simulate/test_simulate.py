"""`flchain simulate` 10 × 7 with every adversary on the embedded chain: each misbehaviour is
caught by the rule meant for it, visible in the manifests, and the run folder can be audited."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from flchain.config import load_profile
from flchain.devnet.journal import replay_journal
from flchain.ledger import Ledger
from flchain.replay import MergeMemo, gather_inputs, merge_inputs_key, replay_round, run_merge
from flchain.simulate import (
    SimulationConfig,
    SimulationError,
    SimulationResult,
    assign_roles,
    parse_adversaries,
    run_simulation,
)
from flchain.storage import LocalStore
from flchain.testing.cli import run_flchain


def manifest(run_dir: Path, round: int) -> dict[str, Any]:
    return json.loads((run_dir / "manifests" / f"round-{round:04d}.json").read_text())


def by_kind(result: SimulationResult, kind: str) -> list[str]:
    return [r.address for r in result.roles if r.behaviour == kind]


def reason(doc: dict[str, Any], node: str) -> str:
    return next(str(i["reason"]) for i in doc["inputs"] if i["node"] == node)


def test_every_round_finalized_with_honest_nodes_accepted(
    full_run: SimulationResult, run_dir: Path
) -> None:
    assert [r.finalized for r in full_run.rounds] == [True] * 7
    for node in by_kind(full_run, "honest"):
        assert full_run.outcomes[node] == ["accepted"] * 7
        assert all(reason(manifest(run_dir, d), node) == "accepted" for d in range(7))


def test_inflated_claim_fails_roi_verification_then_eligibility(
    full_run: SimulationResult, run_dir: Path
) -> None:
    (node,) = by_kind(full_run, "inflated-roi")
    first = manifest(run_dir, 0)
    entry = next(i for i in first["inputs"] if i["node"] == node)
    assert entry["reason"] == "roi_not_reproduced"
    assert entry["claimed_roi_bps"] != entry["recomputed_roi_bps"]
    assert node in first["penalised"]
    # two penalties drive its on-chain score under the threshold once probation ends
    assert full_run.outcomes[node][2:] == ["rejected_on_chain_ineligible"] * 5


def test_abnormal_claim_rejected_on_chain_at_reveal(
    full_run: SimulationResult, run_dir: Path
) -> None:
    (node,) = by_kind(full_run, "abnormal-roi")
    assert full_run.outcomes[node] == ["rejected_on_chain_abnormal_roi"] * 7
    assert reason(manifest(run_dir, 3), node) == "rejected_on_chain_abnormal_roi"


def test_nan_weights_rejected_by_validation_and_penalised(
    full_run: SimulationResult, run_dir: Path
) -> None:
    (node,) = by_kind(full_run, "nan-weights")
    assert reason(manifest(run_dir, 0), node) == "non_finite"
    assert node in manifest(run_dir, 0)["penalised"]


def test_silent_node_commits_but_never_reveals(full_run: SimulationResult, run_dir: Path) -> None:
    (node,) = by_kind(full_run, "no-reveal")
    assert full_run.outcomes[node] == ["no_reveal"] * 7
    assert all(node not in {i["node"] for i in manifest(run_dir, d)["inputs"]} for d in range(7))
    assert all(r.commits == 10 for r in full_run.rounds)


def test_copycat_cluster_capped_and_sent_exploring(
    full_run: SimulationResult, run_dir: Path
) -> None:
    copies = set(by_kind(full_run, "copycat"))
    first = manifest(run_dir, 0)
    cluster = next(set(c) for c in first["clusters"] if copies <= set(c))
    share = sum(int(w["share_ppm"]) for w in first["weights"] if w["node"] in cluster)
    assert share <= first["rules"]["cluster_cap_ppm"]
    sent = {d["node"] for d in first["directives"]}
    # every member of the cluster but its best explores next round (the copies at least two)
    assert len(sent & cluster) == len(cluster) - 1 and len(sent & copies) >= 2
    second = manifest(run_dir, 1)
    assert {d["node"] for d in second["directives_in_force"]} == sent
    for node in sent:  # they followed the directive: accepted, not ignored_directive
        assert reason(second, node) == "accepted"
    assert not any(copies <= set(c) for c in second.get("clusters", []))


def test_wrong_attestation_is_a_visible_conflict_and_the_quorum_wins(
    full_run: SimulationResult, run_dir: Path
) -> None:
    (liar,) = by_kind(full_run, "wrong-attestation")
    events = json.loads((run_dir / "events.json").read_text())
    for day in range(7):
        attested = [e for e in events if e["name"] == "Attested" and e["args"]["round"] == day]
        final = next(
            e for e in events if e["name"] == "RoundFinalized" and e["args"]["round"] == day
        )
        lie = next(e for e in attested if e["args"]["attester"] == liar)
        assert lie["args"]["resultHash"] != final["args"]["resultHash"]
        assert full_run.rounds[day].conflicting_results == 1


def test_run_folder_rebuilds_the_chain_and_the_merge_replays(
    full_run: SimulationResult, run_dir: Path
) -> None:
    profile = load_profile(run_dir / "profile.json")
    assert profile.chain == "embedded" and profile.contract == full_run.contract
    assert profile.state_dir is not None and profile.store_dir is not None
    backend = replay_journal(profile.state_dir / "chain.jsonl")
    ledger = Ledger.connect(backend, profile.contract, from_block=profile.deployment_block)
    store = LocalStore(profile.store_dir)
    for day in (0, 6):
        replayed = replay_round(ledger, store, day)
        assert replayed.record.finalized is not None
        assert replayed.result.manifest_cid == replayed.record.finalized.manifest_cid
        assert replayed.result.merged_digest == replayed.record.finalized.digest
    assert (run_dir / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["contract"] == full_run.contract and len(summary["rounds"]) == 7


def test_merge_memo_shares_only_identical_inputs(full_run: SimulationResult, run_dir: Path) -> None:
    profile = load_profile(run_dir / "profile.json")
    assert profile.state_dir is not None and profile.store_dir is not None
    backend = replay_journal(profile.state_dir / "chain.jsonl")
    ledger = Ledger.connect(backend, profile.contract, from_block=profile.deployment_block)
    inputs, _ = gather_inputs(ledger, LocalStore(profile.store_dir), 1)
    memo = MergeMemo()
    first = memo.merge(inputs)
    assert first == run_merge(inputs)  # the memo returns what a recomputation returns
    assert inputs.record.finalized is not None
    assert first.manifest_cid == inputs.record.finalized.manifest_cid
    # attestations arrive one by one while nodes replay: they are not a merge input
    unattested = replace(inputs, record=inputs.record.model_copy(update={"attestations": ()}))
    assert memo.merge(unattested) is first and (memo.hits, memo.misses) == (1, 1)
    # one flipped payload byte under the same CID is another input: recomputed, not shared
    cid = next(c for c, data in inputs.payloads.items() if data is not None)
    data = inputs.payloads[cid]
    assert data is not None
    forged = replace(inputs, payloads={**inputs.payloads, cid: data[:-1] + bytes([data[-1] ^ 1])})
    assert merge_inputs_key(forged) != merge_inputs_key(inputs)
    assert memo.merge(forged) == run_merge(forged) != first and memo.misses == 2
    other_round, _ = gather_inputs(ledger, LocalStore(profile.store_dir), 2)
    assert merge_inputs_key(other_round) != merge_inputs_key(inputs)


def test_bad_input_is_refused_with_one_line(tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(SimulationError, match="unknown adversary 'bogus'"):
        parse_adversaries("inflated-roi,bogus")
    with pytest.raises(SimulationError, match="need at least 10 nodes"):
        assign_roles(SimulationConfig(nodes=9, days=1, adversaries=parse_adversaries("all")))
    with pytest.raises(SimulationError, match="already exists"):
        run_simulation(SimulationConfig(nodes=2, days=1, protocol=1), run_dir, progress=False)
    assert (run_dir / "summary.json").is_file()  # untouched
    cli = run_flchain(
        "simulate", "--adversaries", "nope", "--out", str(tmp_path / "x"), timeout=120, script=False
    )
    assert cli.returncode == 1
    assert "unknown adversary 'nope'" in cli.stderr and "Traceback" not in cli.stderr
    assert not (tmp_path / "x").exists()

"""Tamper tests: every fault of the module's federation is detected and named (see conftest.py).

Store damage is done to a copy of the module's store folder, so each test sees only its own.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from rich.console import Console

from flchain.audit.core import audit, audit_round, closed_rounds
from flchain.audit.render import print_report, report_json
from flchain.audit.report import Severity, Verdict
from flchain.storage import LocalStore

from .conftest import FALSE_CLAIM_BPS, Played


def block_file(store_dir: Path, cid: str) -> Path:
    """A single-block payload's file in a LocalStore (blocks/<last two chars>/<cid>)."""
    path = store_dir / "blocks" / cid[-2:] / cid
    assert path.exists(), f"expected one block for {cid}"
    return path


def damaged_copy(played: Played, tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(played.store_dir, copy)
    return copy


def text_of(report: object) -> str:
    buf = io.StringIO()
    print_report(report, Console(file=buf, width=200, color_system=None))  # type: ignore[arg-type]
    return buf.getvalue()


def test_honest_round_is_verified_bit_for_bit(played: Played) -> None:
    a = audit_round(played.snapshot_ledger(), played.fed.store, 0)
    assert a.verdict == Verdict.VERIFIED, a.findings
    assert a.replayed == a.finalized.model_copy(update={}) if a.finalized else False
    assert a.exit_code == 0
    assert [r.reason for r in a.inputs] == ["accepted"] * 4
    assert all(r.recomputed_roi_bps == r.claimed_roi_bps for r in a.inputs)
    assert [r.attester for r in a.attesters] == [played.nodes[0]]


def test_wrong_attestation_that_did_not_finalize_is_flagged(played: Played) -> None:
    a = audit_round(played.snapshot_ledger(), played.fed.store, 1)
    assert a.verdict == Verdict.CONFLICT and a.exit_code == 1
    wrong = [r for r in a.attesters if r.matches_replay is False]
    assert [r.attester for r in wrong] == [played.nodes[1]]
    assert not wrong[0].finalizing and "merged_digest" in wrong[0].differs_in
    assert played.nodes[1] in a.headline
    assert any(f.fact == "attestation" and f.node == played.nodes[1] for f in a.findings)


def test_colluding_quorum_finalizing_a_wrong_result_is_a_mismatch(played: Played) -> None:
    a = audit_round(played.snapshot_ledger(), played.fed.store, 2)
    assert a.verdict == Verdict.MISMATCH and a.exit_code == 1
    assert a.finalized is not None and a.replayed is not None
    assert a.finalized.merged_digest != a.replayed.merged_digest
    facts = {f.fact for f in a.findings if f.severity == Severity.MISMATCH}
    assert {"merged_digest", "merged_cid", "manifest_cid"} <= facts
    colluders = {r.attester for r in a.attesters if r.matches_replay is False}
    assert colluders == {played.nodes[2], played.nodes[3]}


def test_false_roi_claim_accepted_by_faulty_mergers_names_node_and_claim(played: Played) -> None:
    a = audit_round(played.snapshot_ledger(), played.fed.store, 3)
    assert a.verdict == Verdict.MISMATCH
    liar = played.nodes[0]
    row = next(r for r in a.inputs if r.node == liar)
    assert row.reason == "roi_not_reproduced" and row.finalized_reason == "accepted"
    assert row.claimed_roi_bps - row.recomputed_roi_bps == FALSE_CLAIM_BPS  # type: ignore[operator]
    named = [f for f in a.findings if f.fact == "input.reason" and f.node == liar]
    assert (
        named
        and f"claimed {row.claimed_roi_bps} bps, recomputed {row.recomputed_roi_bps} bps"
        in named[0].message
    )
    assert liar in a.headline
    # the honest nodes' decisions agree: only the liar is named
    assert {f.node for f in a.findings if f.fact.startswith("input.")} == {liar}
    assert liar not in (a.finalized.penalised if a.finalized else ())
    assert a.replayed is not None and liar in a.replayed.penalised


def test_corrupted_block_is_named_and_unverifiable(played: Played, tmp_path: Path) -> None:
    store_dir = damaged_copy(played, tmp_path)
    victim = played.fed.reveals(4)[2]
    path = block_file(store_dir, victim.cid)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    a = audit_round(played.snapshot_ledger(), LocalStore(store_dir, fsync=False), 4)
    assert a.verdict == Verdict.UNVERIFIABLE and a.exit_code == 2
    row = next(r for r in a.inputs if r.node == victim.node)
    assert row.content == "corrupted" and "corrupt" in row.detail
    assert victim.node in a.headline and "corrupted" in a.headline


def test_payload_no_longer_available_exits_2(played: Played, tmp_path: Path) -> None:
    store_dir = damaged_copy(played, tmp_path)
    victim = played.fed.reveals(4)[1]
    block_file(store_dir, victim.cid).unlink()
    report = audit(played.snapshot_ledger(), LocalStore(store_dir, fsync=False), [4])
    assert report.exit_code == 2
    (a,) = report.rounds
    assert a.verdict == Verdict.UNVERIFIABLE
    row = next(r for r in a.inputs if r.node == victim.node)
    assert row.content == "unavailable"
    assert victim.node in a.headline


def test_whole_history_report_exit_code_and_json(played: Played) -> None:
    ledger = played.snapshot_ledger()
    assert closed_rounds(ledger) == [0, 1, 2, 3, 4]
    report = audit(ledger, played.fed.store)
    assert [r.verdict for r in report.rounds] == [
        Verdict.VERIFIED, Verdict.CONFLICT, Verdict.MISMATCH, Verdict.MISMATCH, Verdict.VERIFIED,
    ]  # fmt: skip
    assert report.exit_code == 1
    assert report.history == ()  # bases chain up, the quorum change was scheduled in advance
    assert [r.base_round for r in report.rounds] == [-1, 0, 1, 2, 3]
    doc = json.loads(report_json(report))
    assert doc["exit_code"] == 1 and doc["rounds"][3]["inputs"][0]["node"]
    text = text_of(report)
    assert "MISMATCH FOUND" in text and played.nodes[1] in text


def test_worker_processes_give_the_same_report(played: Played) -> None:
    ledger = played.snapshot_ledger()
    one = audit(ledger, played.fed.store, [0, 3])
    two = audit(ledger, played.fed.store, [0, 3], jobs=2)
    strip = {"seconds_fetch", "seconds_merge"}
    assert [r.model_dump(exclude=strip) for r in one.rounds] == [
        r.model_dump(exclude=strip) for r in two.rounds
    ]


def test_conflict_only_rounds_say_conflict_found(played: Played) -> None:
    # round 1's final result is reproduced; only a wrong attester disagrees with it
    report = audit(played.snapshot_ledger(), played.fed.store, [0, 1])
    assert [r.verdict for r in report.rounds] == [Verdict.VERIFIED, Verdict.CONFLICT]
    assert report.exit_code == 1 and report.verdict == "conflict found"
    assert "CONFLICT FOUND" in text_of(report)
    assert json.loads(report_json(report))["verdict"] == "conflict found"


def test_verified_rounds_only_exit_0(played: Played) -> None:
    report = audit(played.snapshot_ledger(), played.fed.store, [0, 4])
    assert report.exit_code == 0 and report.verdict == "verified"

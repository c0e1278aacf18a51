"""The audit: rebuild each round from contract events alone, re-run the merge, compare.

Two phases per round, so rounds can be judged on several cores:

* `gather_round` (I/O, main process): the round record from events, the merge inputs fetched
  by CID (`flchain.replay.gather_inputs`), the finalized manifest by its on-chain CID, the
  contract's storage view of the finalized result. Nothing a merger wrote off-chain is read.
* `judge_round` (pure CPU, any process): run the merge (which re-runs every ROI backtest and
  checks every CID and digest), compare merged digest, merged CID, manifest CID and penalised
  list with what was finalized; diff the finalized manifest decision by decision; check every
  attestation; decide the verdict (`flchain.audit.report`).

`audit` runs both over a range of rounds and adds the history checks: each round's base model
is the previous finalized one (as the manifest records it), and every rule change was scheduled
before the round it governs opened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from flchain.audit.report import (
    AttesterRow,
    AuditReport,
    Finding,
    InputRow,
    Result,
    RoundAudit,
    Severity,
    Verdict,
    WeightRow,
)
from flchain.backtest import roi_bps
from flchain.errors import FlchainError, UnavailableError
from flchain.ledger import Ledger, RoundFinalized, RulesScheduled, result_hash
from flchain.ledger.hashes import canonical_penalised
from flchain.merge.core import MergeResult
from flchain.model import config_from_metadata, reference_positions
from flchain.protocol import RevealOutcome, RoundRecord
from flchain.replay import (
    ReplayError,
    ReplayInputs,
    gather_inputs,
    parse_manifest,
    run_merge,
)
from flchain.storage import ContentStore
from flchain.storage.errors import BlockNotFoundError, ContentMismatchError, MalformedDagError
from flchain.storage.weights import decode_weights

__all__ = ["RoundMaterial", "audit", "audit_round", "closed_rounds", "gather_round", "judge_round"]

Progress = Callable[[int, int, RoundAudit], None]


@dataclass
class RoundMaterial:
    """Everything judging one round needs; plain data, picklable for worker processes."""

    round: int
    record: RoundRecord
    inputs: ReplayInputs | None = None
    gather_error: str | None = None
    unavailable: tuple[str, ...] = ()
    corrupted: tuple[str, ...] = ()
    problems: dict[str, str] = field(default_factory=dict)
    final_result_hash: str | None = None
    finalized_manifest: bytes | None = None
    finalized_manifest_problem: str | None = None
    findings: list[Finding] = field(default_factory=list)
    seconds_fetch: float = 0.0


# --- gather (I/O) -----------------------------------------------------------------------------


def _fetch_manifest(store: ContentStore, cid: str) -> tuple[bytes | None, str | None]:
    try:
        return store.get(cid), None
    except BlockNotFoundError as exc:
        return None, f"unavailable: {exc}"
    except (ContentMismatchError, MalformedDagError) as exc:
        return None, f"corrupted: {exc}"


def gather_round(ledger: Ledger, store: ContentStore, round: int) -> RoundMaterial:
    """Read the chain and fetch the content for `round` (no judgement, no merge).

    @raises UnavailableError when the chain or the IPFS daemon cannot be reached at all
    """
    t0 = time.perf_counter()
    record = ledger.round_record(round)
    m = RoundMaterial(round=round, record=record)
    try:
        inputs, fetched = gather_inputs(ledger, store, round, record)
        m.inputs = inputs
        m.unavailable, m.corrupted, m.problems = (
            fetched.unavailable,
            fetched.corrupted,
            fetched.problems,
        )
    except ReplayError as exc:  # base model / previous manifest missing or inconsistent
        m.gather_error = str(exc)
    except UnavailableError:  # a dead chain or daemon: nothing about this round is known
        raise
    except FlchainError as exc:  # e.g. a benchmark nobody can resolve
        m.gather_error = str(exc)
    if record.finalized is not None:
        fin = ledger.events(RoundFinalized, round)
        m.final_result_hash = fin[0].result_hash if fin else None
        m.finalized_manifest, m.finalized_manifest_problem = _fetch_manifest(
            store, record.finalized.manifest_cid or ""
        )
        view = ledger.finalized(round)  # contract storage, to compare with the events
        if view is None or (view.digest, view.cid, view.manifest_cid) != (
            record.finalized.digest,
            record.finalized.cid,
            record.finalized.manifest_cid,
        ):
            m.findings.append(
                Finding(
                    severity=Severity.MISMATCH,
                    fact="finalized_storage",
                    message="the contract's stored finalized result differs from its events",
                    expected=record.finalized.digest,
                    found=view.digest if view else "none",
                )
            )
    m.seconds_fetch = time.perf_counter() - t0
    return m


# --- judge (pure) -----------------------------------------------------------------------------


def _result_of(round: int, r: MergeResult) -> Result:
    pen = canonical_penalised(r.penalised)
    return Result(
        merged_digest=r.merged_digest,
        merged_cid=r.merged_cid,
        manifest_cid=r.manifest_cid,
        penalised=pen,
        result_hash=result_hash(round, r.merged_digest, r.merged_cid, r.manifest_cid, pen),
    )


def _finalized_result(m: RoundMaterial) -> Result | None:
    rec = m.record
    if rec.finalized is None:
        return None
    att = next((a for a in rec.attestations if a.result_hash == m.final_result_hash), None)
    return Result(
        merged_digest=rec.finalized.digest,
        merged_cid=rec.finalized.cid,
        manifest_cid=rec.finalized.manifest_cid or "",
        penalised=canonical_penalised(att.penalised) if att else (),
        result_hash=m.final_result_hash or "",
    )


def _differing(a: Result, b: Result) -> list[str]:
    return [
        name
        for name in ("merged_digest", "merged_cid", "manifest_cid", "penalised")
        if getattr(a, name) != getattr(b, name)
    ]


def _content_state(m: RoundMaterial, cid: str, needed: bool) -> str:
    if not needed:
        return "not needed"
    if cid in m.corrupted:
        return "corrupted"
    if cid in m.unavailable:
        return "unavailable"
    return "ok"


def _input_rows(
    m: RoundMaterial, ours: Mapping[str, Any], theirs: Mapping[str, Any] | None, result: MergeResult
) -> list[InputRow]:
    details = {d.node.lower(): d.detail for d in result.decisions}
    fin_inputs = {str(i.get("node", "")).lower(): i for i in (theirs or {}).get("inputs", [])}
    rows = []
    for entry in ours.get("inputs", []):
        node = str(entry["node"])
        fin = fin_inputs.get(node.lower(), {})
        needed = (
            int(entry["on_chain_outcome"]) == int(RevealOutcome.ACCEPTED)
            and entry["base_digest"] == m.record.base.digest
        )
        rows.append(
            InputRow(
                node=node,
                cid=str(entry["cid"]),
                on_chain_outcome=RevealOutcome(int(entry["on_chain_outcome"])).name.lower(),
                claimed_roi_bps=int(entry["claimed_roi_bps"]),
                recomputed_roi_bps=entry.get("recomputed_roi_bps"),
                reason=str(entry["reason"]),
                finalized_reason=fin.get("reason") if theirs is not None else None,
                finalized_recomputed_roi_bps=fin.get("recomputed_roi_bps"),
                norm_micro=entry.get("norm_micro"),
                content=_content_state(m, str(entry["cid"]), needed),
                detail=m.problems.get(str(entry["cid"]), details.get(node.lower(), "")),
            )
        )
    return rows


def _decision_findings(rows: Sequence[InputRow], theirs: Mapping[str, Any]) -> list[Finding]:
    """Per-node differences between the replay and the finalized manifest. A difference about
    content the auditor verified is a definite mismatch; about content it could not read, not."""
    out: list[Finding] = []
    listed = {str(i.get("node", "")).lower() for i in theirs.get("inputs", [])}
    for row in rows:
        sev = Severity.MISMATCH if row.content in ("ok", "not needed") else Severity.UNVERIFIABLE
        if row.node.lower() not in listed:
            out.append(Finding(severity=sev, fact="input.missing", node=row.node,
                               message=f"{row.node} revealed {row.cid} but the finalized manifest does not list it"))  # fmt: skip
            continue
        if row.finalized_reason != row.reason:
            claim = f"claimed {row.claimed_roi_bps} bps, recomputed {row.recomputed_roi_bps} bps"
            out.append(
                Finding(
                    severity=sev,
                    fact="input.reason",
                    node=row.node,
                    message=f"{row.node}: finalized manifest says {row.finalized_reason}, replay says "
                    f"{row.reason} ({claim})",
                    expected=row.reason,
                    found=row.finalized_reason,
                )
            )
        elif row.finalized_recomputed_roi_bps != row.recomputed_roi_bps:
            out.append(
                Finding(
                    severity=sev,
                    fact="input.recomputed_roi_bps",
                    node=row.node,
                    message=f"{row.node}: finalized manifest recomputed {row.finalized_recomputed_roi_bps} "
                    f"bps, replay recomputes {row.recomputed_roi_bps} bps",
                    expected=str(row.recomputed_roi_bps),
                    found=str(row.finalized_recomputed_roi_bps),
                )
            )
    return out


def _section_findings(
    ours: Mapping[str, Any], theirs: Mapping[str, Any], incomplete: bool
) -> list[Finding]:
    """Round-level manifest sections that differ. With content missing, clusters and weights
    are expected to differ, so they only count as unverifiable."""
    out = []
    for key in (
        "base",
        "rules",
        "benchmark_id",
        "directives_in_force",
        "clusters",
        "weights",
        "directives",
    ):
        if ours.get(key) != theirs.get(key):
            out.append(
                Finding(
                    severity=Severity.UNVERIFIABLE
                    if incomplete and key in ("clusters", "weights", "directives")
                    else Severity.MISMATCH,
                    fact=f"manifest.{key}",
                    message=f"the finalized manifest's {key!r} differs from the replay's",
                    expected=_short(ours.get(key)),
                    found=_short(theirs.get(key)),
                )
            )
    return out


def _short(value: Any, limit: int = 160) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _global_roi(inputs: ReplayInputs, result: MergeResult) -> int | None:
    try:
        tensors, metadata = decode_weights(result.merged_weights)
        positions = reference_positions(
            tensors, config_from_metadata(metadata), inputs.benchmark.bars
        )
    except FlchainError:
        return None
    return roi_bps(inputs.benchmark.exec_prices, positions, inputs.record.rules.fee_ppm)


def _attester_rows(
    m: RoundMaterial, replayed: Result | None
) -> tuple[list[AttesterRow], list[Finding]]:
    rows, findings = [], []
    for a in m.record.attestations:
        theirs = Result(
            merged_digest=a.merged_digest,
            merged_cid=a.merged_cid,
            manifest_cid=a.manifest_cid,
            penalised=canonical_penalised(a.penalised),
            result_hash=a.result_hash,
        )
        matches = None if replayed is None else a.result_hash == replayed.result_hash
        differs = (
            tuple(_differing(replayed, theirs)) if replayed is not None and not matches else ()
        )
        rows.append(
            AttesterRow(
                attester=a.attester,
                result_hash=a.result_hash,
                merged_digest=a.merged_digest,
                matches_replay=matches,
                finalizing=a.result_hash == m.final_result_hash,
                differs_in=differs,
            )
        )
        if matches is False:
            findings.append(
                Finding(
                    severity=Severity.MISMATCH,
                    fact="attestation",
                    node=a.attester,
                    message=f"attester {a.attester} attested another result (differs in "
                    f"{', '.join(differs)})",
                    expected=replayed.merged_digest if replayed else None,
                    found=a.merged_digest,
                )
            )
    return rows, findings


def judge_round(m: RoundMaterial) -> RoundAudit:
    """Re-run the merge of a gathered round and decide its verdict (pure; any process)."""
    rec = m.record
    finalized = _finalized_result(m)
    base = {"base_round": rec.base.round, "base_digest": rec.base.digest}
    rules = rec.rules.model_dump(mode="json")
    findings = list(m.findings)
    if m.inputs is None:
        early_rows, _ = _attester_rows(m, None)
        findings.append(
            Finding(
                severity=Severity.UNVERIFIABLE, fact="inputs", message=m.gather_error or "no inputs"
            )
        )
        return RoundAudit(round=m.round, verdict=Verdict.UNVERIFIABLE, headline=m.gather_error or "",
                          rules=rules, finalized=finalized, findings=tuple(findings),
                          attesters=tuple(early_rows), seconds_fetch=m.seconds_fetch, **base)  # fmt: skip

    t0 = time.perf_counter()
    try:
        result = run_merge(m.inputs)
    except FlchainError as exc:  # the chain's own record is inconsistent (e.g. two reveals)
        findings.append(
            Finding(
                severity=Severity.MISMATCH,
                fact="record",
                message=f"merge refused the record: {exc}",
            )
        )
        return RoundAudit(round=m.round, verdict=Verdict.MISMATCH, headline=f"merge refused the record: {exc}",
                          rules=rules, finalized=finalized, findings=tuple(findings),
                          seconds_fetch=m.seconds_fetch, **base)  # fmt: skip
    seconds_merge = time.perf_counter() - t0
    replayed = _result_of(m.round, result)
    ours = parse_manifest(result.manifest)
    theirs: dict[str, Any] | None = None
    if m.finalized_manifest is not None:
        try:
            theirs = parse_manifest(m.finalized_manifest)
        except ReplayError as exc:
            findings.append(
                Finding(
                    severity=Severity.MISMATCH,
                    fact="manifest",
                    message=f"finalized manifest: {exc}",
                )
            )
    rows = _input_rows(m, ours, theirs, result)
    for cid in (*m.unavailable, *m.corrupted):
        node = next((r.node for r in rows if r.cid == cid), None)
        findings.append(
            Finding(
                severity=Severity.NOTE,
                fact="content",
                node=node,
                message=f"{cid} ({node}): {m.problems.get(cid, '')}",
            )
        )
    incomplete = bool(m.unavailable or m.corrupted)

    verdict = Verdict.NOT_FINALIZED
    headline = "not finalized"
    if finalized is not None:
        differs = _differing(replayed, finalized)
        if not differs:
            verdict, headline = Verdict.VERIFIED, "finalized result reproduced bit for bit"
        else:
            for name in differs:
                findings.append(
                    Finding(
                        severity=Severity.UNVERIFIABLE if incomplete else Severity.MISMATCH,
                        fact=name,
                        message=f"finalized {name} differs from the replay",
                        expected=_short(getattr(replayed, name)),
                        found=_short(getattr(finalized, name)),
                    )
                )
            detail: list[Finding] = []
            if theirs is not None:
                detail = _decision_findings(rows, theirs) + _section_findings(
                    ours, theirs, incomplete
                )
            elif m.finalized_manifest_problem:
                detail = [Finding(severity=Severity.NOTE, fact="manifest",
                                  message=f"finalized manifest {finalized.manifest_cid}: {m.finalized_manifest_problem}")]  # fmt: skip
            findings.extend(detail)
            definite = [f for f in detail if f.severity == Severity.MISMATCH]
            if definite or not incomplete:
                verdict = Verdict.MISMATCH
                named = [f.message for f in definite] or [f"{', '.join(differs)} differ"]
                headline = "finalized result is NOT reproduced: " + named[0]
            else:
                verdict = Verdict.UNVERIFIABLE
                lost = ", ".join(
                    f"{r.node} ({r.content})"
                    for r in rows
                    if r.content in ("unavailable", "corrupted")
                )
                headline = f"cannot verify: content of {lost} could not be fetched intact"
    att_rows, att_findings = _attester_rows(
        m, None if (incomplete and verdict != Verdict.VERIFIED) else replayed
    )
    findings.extend(att_findings)
    if verdict == Verdict.VERIFIED and att_findings:
        verdict = Verdict.CONFLICT
        headline = (
            f"finalized result verified; {len(att_findings)} attestation(s) disagree: "
            + att_findings[0].message
        )
    elif verdict == Verdict.NOT_FINALIZED and att_findings:
        verdict = Verdict.CONFLICT
        headline = "not finalized; " + att_findings[0].message
    if any(f.severity == Severity.MISMATCH for f in m.findings) and verdict in (
        Verdict.VERIFIED,
        Verdict.NOT_FINALIZED,
    ):
        verdict, headline = Verdict.MISMATCH, m.findings[0].message
    return RoundAudit(
        round=m.round,
        verdict=verdict,
        headline=headline,
        rules=rules,
        finalized=finalized,
        replayed=replayed,
        findings=tuple(findings),
        inputs=tuple(rows),
        attesters=tuple(att_rows),
        clusters=tuple(tuple(c) for c in ours.get("clusters", [])),
        weights=tuple(WeightRow(node=w["node"], share=w["share"], share_ppm=w["share_ppm"]) for w in ours.get("weights", [])),
        similarity=tuple((str(a), str(b), int(v)) for a, b, v in ours.get("similarity", [])),
        directives_assigned=len(ours.get("directives", [])),
        global_roi_bps=_global_roi(m.inputs, result),
        seconds_fetch=m.seconds_fetch,
        seconds_merge=seconds_merge,
        **base,
    )  # fmt: skip


def audit_round(ledger: Ledger, store: ContentStore, round: int) -> RoundAudit:
    """Gather and judge one round in this process."""
    return judge_round(gather_round(ledger, store, round))


# --- history ----------------------------------------------------------------------------------


def closed_rounds(ledger: Ledger) -> list[int]:
    """Every round whose reveal window has closed at the latest block (0 … n-1)."""
    return list(range(ledger.schedule.rounds_closed_at(ledger.now())))


def rules_schedule_findings(ledger: Ledger) -> list[Finding]:
    """Every rule change was scheduled before the round it governs opened."""
    schedule = ledger.schedule
    out = []
    for e in ledger.events(RulesScheduled):
        effective = e.effective_round
        at = ledger.block_timestamp(e.block_number)
        if at >= schedule.start(effective) and effective > 0:
            out.append(
                Finding(
                    severity=Severity.MISMATCH,
                    fact="rules_schedule",
                    message=f"rules version {e.version} for round {effective} were scheduled at "
                    f"{at}, after that round opened at {schedule.start(effective)}",
                )
            )
    return out


def base_chain_findings(audits: Sequence[RoundAudit], finals: Mapping[int, str]) -> list[Finding]:
    """Each round's base is a finalized model of an earlier round (or genesis)."""
    out = []
    for a in audits:
        if a.base_round >= 0 and (
            a.base_round >= a.round or finals.get(a.base_round) != a.base_digest
        ):
            out.append(
                Finding(
                    severity=Severity.MISMATCH,
                    fact="base",
                    message=f"round {a.round} is based on {a.base_digest}, not the finalized model of "
                    f"round {a.base_round}",
                )
            )
    return out


# --- the audit --------------------------------------------------------------------------------


def audit(
    ledger: Ledger,
    store: ContentStore,
    rounds: Iterable[int] | None = None,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
) -> AuditReport:
    """Audit `rounds` (default: every closed round) and the history; `jobs` > 1 judges rounds
    in that many worker processes (chain reads and fetches stay in this process)."""
    wanted = sorted(set(rounds)) if rounds is not None else closed_rounds(ledger)
    results: dict[int, RoundAudit] = {}
    done = 0

    def record(a: RoundAudit) -> None:
        nonlocal done
        results[a.round] = a
        done += 1
        if progress is not None:
            progress(done, len(wanted), a)

    if jobs <= 1 or len(wanted) <= 1:
        for r in wanted:
            record(judge_round(gather_round(ledger, store, r)))
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(judge_round, gather_round(ledger, store, r)) for r in wanted]
            for f in futures:
                record(f.result())
    audits = [results[r] for r in wanted]
    finals = {
        r: g.digest
        for r in range(max(wanted, default=-1) + 1)
        if (g := ledger.finalized_from_events(r))
    }
    history = rules_schedule_findings(ledger) + base_chain_findings(audits, finals)
    _, genesis = ledger.schedule_from_events()
    return AuditReport(
        chain_id=ledger.chain_id,
        contract=ledger.address,
        rounds=tuple(audits),
        history=tuple(history),
        genesis_digest=genesis.digest,
    )

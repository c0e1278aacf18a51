"""Judging one gathered round (pure CPU, any process): the rules, their findings, the verdict.

    judge_round(material) -> RoundAudit

Each `check_*` function below checks one rule and returns what it found (`Finding`s); none of
them decides anything. `decide_verdict` derives the round's verdict and headline once, from the
findings alone, by a fixed order of precedence. In the order they run:

    check_inputs_gathered        the merge's inputs could be rebuilt from chain + content
    check_record_merges          the merge accepts the chain's own record
    check_finalized_manifest     the finalized manifest, fetched by its CID, parses
    check_content                every payload the merge reads was fetched intact (notes)
    check_finalized_result       merged digest, merged CID, manifest CID and penalised list
                                 equal the replay's
    check_finalized_decisions    (only when the result differs) which decision or manifest
                                 section differs, and whether that is definite
    check_attestations           every attestation equals the replay
    decide_verdict               verified / not_finalized / conflict / mismatch / unverifiable

Findings gathered with the chain reads (`RoundMaterial.findings`: the contract's storage view
of the finalized result against its events) come first.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flchain.audit.report import (
    AttesterRow,
    Finding,
    InputRow,
    Result,
    RoundAudit,
    Severity,
    Verdict,
    WeightRow,
)
from flchain.backtest import roi_bps
from flchain.errors import FlchainError
from flchain.ledger import result_hash
from flchain.ledger.hashes import canonical_penalised
from flchain.merge.content import needs_content
from flchain.merge.core import MergeResult
from flchain.model import config_from_metadata, reference_positions
from flchain.protocol import RevealOutcome, RoundRecord
from flchain.replay import ReplayError, ReplayInputs, parse_manifest, run_merge
from flchain.storage.weights import decode_weights

__all__ = [
    "RESULT_FACTS",
    "RoundMaterial",
    "check_attestations",
    "check_content",
    "check_finalized_decisions",
    "check_finalized_manifest",
    "check_finalized_result",
    "check_inputs_gathered",
    "check_record_merges",
    "decide_verdict",
    "judge_round",
]

#: The facts attesters agree on, in the order a difference is reported.
RESULT_FACTS: tuple[str, ...] = ("merged_digest", "merged_cid", "manifest_cid", "penalised")
#: Manifest sections compared when the finalized result is not reproduced.
MANIFEST_SECTIONS: tuple[str, ...] = (
    "base",
    "rules",
    "benchmark_id",
    "directives_in_force",
    "clusters",
    "weights",
    "directives",
)
#: Sections that follow from the accepted inputs: with content missing they are expected to
#: differ, so a difference there is unverifiable, not a mismatch.
INPUT_DEPENDENT_SECTIONS = frozenset({"clusters", "weights", "directives"})


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

    @property
    def incomplete(self) -> bool:
        """Some payload the merge reads could not be fetched intact."""
        return bool(self.unavailable or self.corrupted)


# --- results compared -------------------------------------------------------------------------


def compute_replayed_result(round: int, r: MergeResult) -> Result:
    pen = canonical_penalised(r.penalised)
    return Result(
        merged_digest=r.merged_digest,
        merged_cid=r.merged_cid,
        manifest_cid=r.manifest_cid,
        penalised=pen,
        result_hash=result_hash(round, r.merged_digest, r.merged_cid, r.manifest_cid, pen),
    )


def get_finalized_result(m: RoundMaterial) -> Result | None:
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


def differing_facts(a: Result, b: Result) -> list[str]:
    return [name for name in RESULT_FACTS if getattr(a, name) != getattr(b, name)]


def _short(value: Any, limit: int = 160) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the input table --------------------------------------------------------------------------


def _content_state(m: RoundMaterial, cid: str, needed: bool) -> str:
    if not needed:
        return "not needed"
    if cid in m.corrupted:
        return "corrupted"
    if cid in m.unavailable:
        return "unavailable"
    return "ok"


def get_input_rows(
    m: RoundMaterial, ours: Mapping[str, Any], theirs: Mapping[str, Any] | None, result: MergeResult
) -> list[InputRow]:
    """One row per revealed update: the replay's decision beside the finalized manifest's."""
    details = {d.node.lower(): d.detail for d in result.decisions}
    fin_inputs = {str(i.get("node", "")).lower(): i for i in (theirs or {}).get("inputs", [])}
    reads = {r.node.lower(): needs_content(r, m.record) for r in m.record.reveals}
    rows = []
    for entry in ours.get("inputs", []):
        node = str(entry["node"])
        fin = fin_inputs.get(node.lower(), {})
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
                content=_content_state(m, str(entry["cid"]), reads.get(node.lower(), False)),
                detail=m.problems.get(str(entry["cid"]), details.get(node.lower(), "")),
            )
        )
    return rows


def lost_content(rows: Sequence[InputRow]) -> list[str]:
    """`node (unavailable|corrupted)` for each input whose content could not be had intact."""
    return [f"{r.node} ({r.content})" for r in rows if r.content in ("unavailable", "corrupted")]


# --- the rules --------------------------------------------------------------------------------


def check_inputs_gathered(m: RoundMaterial) -> list[Finding]:
    """The base model, the previous manifest and the benchmark could be had (else nothing can
    be replayed: unverifiable)."""
    if m.inputs is not None:
        return []
    return [
        Finding(
            severity=Severity.UNVERIFIABLE, fact="inputs", message=m.gather_error or "no inputs"
        )
    ]


def check_record_merges(inputs: ReplayInputs) -> tuple[MergeResult | None, list[Finding]]:
    """The merge accepts the chain's own record (it refuses e.g. two reveals of one node)."""
    try:
        return run_merge(inputs), []
    except FlchainError as exc:
        message = f"merge refused the record: {exc}"
        return None, [Finding(severity=Severity.MISMATCH, fact="record", message=message)]


def check_finalized_manifest(m: RoundMaterial) -> tuple[dict[str, Any] | None, list[Finding]]:
    """The finalized manifest's bytes (fetched by its on-chain CID) are a JSON object."""
    if m.finalized_manifest is None:
        return None, []
    try:
        return parse_manifest(m.finalized_manifest), []
    except ReplayError as exc:
        return None, [
            Finding(
                severity=Severity.MISMATCH, fact="manifest", message=f"finalized manifest: {exc}"
            )
        ]


def check_content(m: RoundMaterial, rows: Sequence[InputRow]) -> list[Finding]:
    """A note for every payload the merge reads that could not be fetched intact."""
    out = []
    for cid in (*m.unavailable, *m.corrupted):
        node = next((r.node for r in rows if r.cid == cid), None)
        message = f"{cid} ({node}): {m.problems.get(cid, '')}"
        out.append(Finding(severity=Severity.NOTE, fact="content", node=node, message=message))
    return out


def check_finalized_result(
    replayed: Result, finalized: Result | None, incomplete: bool
) -> list[Finding]:
    """Every result fact of the finalized result equals the replay's. With content missing a
    difference is unverifiable: the replay merged less than the finalizers may have."""
    if finalized is None:
        return []
    severity = Severity.UNVERIFIABLE if incomplete else Severity.MISMATCH
    return [
        Finding(
            severity=severity,
            fact=name,
            message=f"finalized {name} differs from the replay",
            expected=_short(getattr(replayed, name)),
            found=_short(getattr(finalized, name)),
        )
        for name in differing_facts(replayed, finalized)
    ]


def check_input_decisions(rows: Sequence[InputRow], theirs: Mapping[str, Any]) -> list[Finding]:
    """Per-node differences between the replay and the finalized manifest. A difference about
    content the auditor verified is a definite mismatch; about content it could not read, not."""
    out: list[Finding] = []
    listed = {str(i.get("node", "")).lower() for i in theirs.get("inputs", [])}
    for row in rows:
        sev = Severity.MISMATCH if row.content in ("ok", "not needed") else Severity.UNVERIFIABLE
        if row.node.lower() not in listed:
            message = f"{row.node} revealed {row.cid} but the finalized manifest does not list it"
            out.append(Finding(severity=sev, fact="input.missing", node=row.node, message=message))
            continue
        if row.finalized_reason != row.reason:
            claim = f"claimed {row.claimed_roi_bps} bps, recomputed {row.recomputed_roi_bps} bps"
            fact, expected, found = "input.reason", row.reason, row.finalized_reason
            message = (
                f"{row.node}: finalized manifest says {row.finalized_reason}, replay says "
                f"{row.reason} ({claim})"
            )
        elif row.finalized_recomputed_roi_bps != row.recomputed_roi_bps:
            fact = "input.recomputed_roi_bps"
            expected, found = str(row.recomputed_roi_bps), str(row.finalized_recomputed_roi_bps)
            message = (
                f"{row.node}: finalized manifest recomputed {row.finalized_recomputed_roi_bps} "
                f"bps, replay recomputes {row.recomputed_roi_bps} bps"
            )
        else:
            continue
        out.append(
            Finding(
                severity=sev,
                fact=fact,
                node=row.node,
                message=message,
                expected=expected,
                found=found,
            )
        )
    return out


def check_manifest_sections(
    ours: Mapping[str, Any], theirs: Mapping[str, Any], incomplete: bool
) -> list[Finding]:
    """Round-level manifest sections that differ (`MANIFEST_SECTIONS`)."""
    return [
        Finding(
            severity=Severity.UNVERIFIABLE
            if incomplete and key in INPUT_DEPENDENT_SECTIONS
            else Severity.MISMATCH,
            fact=f"manifest.{key}",
            message=f"the finalized manifest's {key!r} differs from the replay's",
            expected=_short(ours.get(key)),
            found=_short(theirs.get(key)),
        )
        for key in MANIFEST_SECTIONS
        if ours.get(key) != theirs.get(key)
    ]


def check_finalized_decisions(
    m: RoundMaterial,
    rows: Sequence[InputRow],
    ours: Mapping[str, Any],
    theirs: Mapping[str, Any] | None,
    finalized: Result,
) -> list[Finding]:
    """Where a non-reproduced finalized result departs from the replay: decision by decision
    and section by section when its manifest is readable, else why it is not."""
    if theirs is not None:
        return check_input_decisions(rows, theirs) + check_manifest_sections(
            ours, theirs, m.incomplete
        )
    if m.finalized_manifest_problem:
        message = f"finalized manifest {finalized.manifest_cid}: {m.finalized_manifest_problem}"
        return [Finding(severity=Severity.NOTE, fact="manifest", message=message)]
    return []


def check_attestations(
    m: RoundMaterial, replayed: Result | None
) -> tuple[list[AttesterRow], list[Finding]]:
    """Every attestation equals the replay (`replayed` None: the replay cannot judge them)."""
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
            tuple(differing_facts(replayed, theirs)) if replayed is not None and not matches else ()
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


# --- the verdict ------------------------------------------------------------------------------


def _is_decision_fact(fact: str) -> bool:
    return fact.startswith(("input.", "manifest."))


def decide_verdict(
    findings: Sequence[Finding], *, finalized: bool, lost: Sequence[str] = ()
) -> tuple[Verdict, str]:
    """The round's verdict and headline from its findings; the first rule that applies wins.

    1. an `inputs` finding (nothing could be replayed) → unverifiable;
    2. a `record` finding (the merge refused the chain's record) → mismatch;
    3. a result fact (`RESULT_FACTS`) differs from the finalized result → mismatch when it is
       definite — a decision or manifest section differs about content the auditor verified,
       or no content was missing (the result facts are mismatches) — naming the first definite
       difference; otherwise unverifiable, naming the content that was `lost`;
    4. an `attestation` finding (someone attested another result) → conflict;
    5. a `finalized_storage` finding (the contract's storage contradicts its events) → mismatch;
    6. finalized → verified; else not_finalized.
    """

    def of(fact: str) -> list[Finding]:
        return [f for f in findings if f.fact == fact]

    if inputs := of("inputs"):
        return Verdict.UNVERIFIABLE, inputs[0].message
    if record := of("record"):
        return Verdict.MISMATCH, record[0].message
    differs = [f for f in findings if f.fact in RESULT_FACTS]
    if differs:
        definite = [
            f for f in findings if _is_decision_fact(f.fact) and f.severity == Severity.MISMATCH
        ]
        if definite or any(f.severity == Severity.MISMATCH for f in differs):
            named = (
                definite[0].message if definite else f"{', '.join(f.fact for f in differs)} differ"
            )
            return Verdict.MISMATCH, "finalized result is NOT reproduced: " + named
        return (
            Verdict.UNVERIFIABLE,
            f"cannot verify: content of {', '.join(lost)} could not be fetched intact",
        )
    if attestations := of("attestation"):
        if finalized:
            return Verdict.CONFLICT, (
                f"finalized result verified; {len(attestations)} attestation(s) disagree: "
                + attestations[0].message
            )
        return Verdict.CONFLICT, "not finalized; " + attestations[0].message
    if storage := [f for f in of("finalized_storage") if f.severity == Severity.MISMATCH]:
        return Verdict.MISMATCH, storage[0].message
    if finalized:
        return Verdict.VERIFIED, "finalized result reproduced bit for bit"
    return Verdict.NOT_FINALIZED, "not finalized"


# --- the judge --------------------------------------------------------------------------------


def compute_global_roi(inputs: ReplayInputs, result: MergeResult) -> int | None:
    """The replayed merged model's ROI on the round's benchmark (None if it does not decode)."""
    try:
        tensors, metadata = decode_weights(result.merged_weights)
        positions = reference_positions(
            tensors, config_from_metadata(metadata), inputs.benchmark.bars
        )
    except FlchainError:
        return None
    return roi_bps(inputs.benchmark.exec_prices, positions, inputs.record.rules.fee_ppm)


def judge_round(m: RoundMaterial) -> RoundAudit:
    """Re-run the merge of a gathered round, check every rule, decide its verdict (pure)."""
    rec = m.record
    finalized = get_finalized_result(m)
    header: dict[str, Any] = {
        "round": m.round,
        "base_round": rec.base.round,
        "base_digest": rec.base.digest,
        "rules": rec.rules.model_dump(mode="json"),
        "finalized": finalized,
        "seconds_fetch": m.seconds_fetch,
    }
    findings = list(m.findings)

    def audit_of(**fields: Any) -> RoundAudit:
        verdict, headline = decide_verdict(
            findings, finalized=finalized is not None, lost=fields.pop("lost", ())
        )
        return RoundAudit(verdict=verdict, headline=headline, findings=tuple(findings),
                          **header, **fields)  # fmt: skip

    if m.inputs is None:
        findings += check_inputs_gathered(m)
        attesters, _ = check_attestations(m, None)
        return audit_of(attesters=tuple(attesters))

    t0 = time.perf_counter()
    result, refused = check_record_merges(m.inputs)
    if result is None:
        findings += refused
        return audit_of()
    seconds_merge = time.perf_counter() - t0
    replayed = compute_replayed_result(m.round, result)
    ours = parse_manifest(result.manifest)
    theirs, unreadable = check_finalized_manifest(m)
    findings += unreadable
    rows = get_input_rows(m, ours, theirs, result)
    findings += check_content(m, rows)

    differs = check_finalized_result(replayed, finalized, m.incomplete)
    findings += differs
    if differs and finalized is not None:
        findings += check_finalized_decisions(m, rows, ours, theirs, finalized)
    # Attestations are judged against the replay unless the replay itself is in doubt: content
    # was missing and the finalized result (if any) was not reproduced.
    reproduced = finalized is not None and not differs
    attesters, disagree = check_attestations(
        m, None if m.incomplete and not reproduced else replayed
    )
    findings += disagree
    return audit_of(
        lost=lost_content(rows),
        replayed=replayed,
        inputs=tuple(rows),
        attesters=tuple(attesters),
        clusters=tuple(tuple(c) for c in ours.get("clusters", [])),
        weights=tuple(WeightRow(node=w["node"], share=w["share"], share_ppm=w["share_ppm"]) for w in ours.get("weights", [])),
        similarity=tuple((str(a), str(b), int(v)) for a, b, v in ours.get("similarity", [])),
        directives_assigned=len(ours.get("directives", [])),
        global_roi_bps=compute_global_roi(m.inputs, result),
        seconds_merge=seconds_merge,
    )  # fmt: skip

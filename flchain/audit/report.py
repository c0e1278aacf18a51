"""The audit's report: plain pydantic values, rendered as text, JSON or HTML elsewhere.

Verdicts and exit codes (never confused):

* ``verified`` (0) — the finalized result and every attestation equal the replay.
* ``not_finalized`` (0) — nothing was finalized; every attestation there is equals the replay.
* ``conflict`` (1) — the finalized result is verified, but some attester attested another one.
* ``mismatch`` (1) — the finalized result is not what the replay computes; `findings` say
  which byte-level fact differs and, when the finalized manifest is readable, which decision.
* ``unverifiable`` (2) — content the replay needs could not be fetched (or was corrupt) and
  the replay does not match, so nobody can say who is wrong; the CIDs are named.

The whole audit exits 1 if any round is ``mismatch``/``conflict`` or a history finding is a
mismatch (a definite fault was found), else 2 if any round is ``unverifiable``, else 0.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Verdict(StrEnum):
    VERIFIED = "verified"
    NOT_FINALIZED = "not_finalized"
    CONFLICT = "conflict"
    MISMATCH = "mismatch"
    UNVERIFIABLE = "unverifiable"


EXIT_OF: dict[Verdict, int] = {
    Verdict.VERIFIED: 0,
    Verdict.NOT_FINALIZED: 0,
    Verdict.CONFLICT: 1,
    Verdict.MISMATCH: 1,
    Verdict.UNVERIFIABLE: 2,
}


class Severity(StrEnum):
    MISMATCH = "mismatch"  # a definite disagreement with the replay
    UNVERIFIABLE = "unverifiable"  # something could not be checked
    NOTE = "note"  # worth knowing, not a fault


class CheckStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # the rule, recomputed, disagrees with the chain: a definite fault
    UNVERIFIABLE = "unverifiable"  # the rule could not be recomputed
    SKIPPED = "skipped"  # the rule does not apply (e.g. settlement of a skipped round)


class RuleCheck(BaseModel):
    """One named rule of a protocol v2 audit and its own verdict (`flchain.audit.judge_v2`)."""

    model_config = ConfigDict(frozen=True)

    rule: str
    status: CheckStatus
    message: str


class Finding(BaseModel):
    """One fact the audit established. `fact` names what was compared (e.g. `merged_digest`,
    `input.reason`, `attestation`, `base`, `rules_schedule`, `content`)."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    fact: str
    message: str
    node: str | None = None
    expected: str | None = None  # what the replay (or the chain's own rule) says
    found: str | None = None  # what the chain / the finalized manifest says


class Result(BaseModel):
    """A merge result as the facts attesters agree on."""

    model_config = ConfigDict(frozen=True)

    merged_digest: str
    merged_cid: str
    manifest_cid: str
    penalised: tuple[str, ...] = ()
    result_hash: str = ""


class InputRow(BaseModel):
    """One revealed update, as replayed and as the finalized manifest decided it."""

    model_config = ConfigDict(frozen=True)

    node: str
    cid: str
    on_chain_outcome: str
    claimed_roi_bps: int
    recomputed_roi_bps: int | None = None
    reason: str  # the replay's decision
    finalized_reason: str | None = None  # the finalized manifest's decision, when readable
    finalized_recomputed_roi_bps: int | None = None
    norm_micro: int | None = None
    content: str = "ok"  # ok | unavailable | corrupted | not needed
    detail: str = ""


class AttesterRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    attester: str
    result_hash: str
    merged_digest: str
    matches_replay: bool | None  # None when the replay could not be completed
    finalizing: bool  # attested the finalized result (printed "final result"): every vote of
    # the quorum, not only the attestation that reached it
    differs_in: tuple[str, ...] = ()


class WeightRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    node: str
    share: str
    share_ppm: int


class RoundAudit(BaseModel):
    """The audit of one round."""

    model_config = ConfigDict(frozen=True)

    round: int
    verdict: Verdict
    headline: str
    base_round: int
    base_digest: str
    rules: dict[str, object] = {}
    finalized: Result | None = None
    replayed: Result | None = None
    findings: tuple[Finding, ...] = ()
    inputs: tuple[InputRow, ...] = ()
    attesters: tuple[AttesterRow, ...] = ()
    clusters: tuple[tuple[str, ...], ...] = ()
    weights: tuple[WeightRow, ...] = ()
    similarity: tuple[tuple[str, str, int], ...] = ()
    directives_assigned: int = 0
    global_roi_bps: int | None = None  # the replayed merged model's ROI on the round's benchmark
    checks: tuple[RuleCheck, ...] = ()  # protocol v2: each rule's verdict line
    seconds_fetch: float = 0.0
    seconds_merge: float = 0.0

    @property
    def exit_code(self) -> int:
        return EXIT_OF[self.verdict]


class AuditReport(BaseModel):
    """The audit of a range of rounds plus the checks on the history as a whole."""

    model_config = ConfigDict(frozen=True)

    chain_id: int
    contract: str
    rounds: tuple[RoundAudit, ...]
    history: tuple[Finding, ...] = ()
    genesis_digest: str = ""
    notes: tuple[str, ...] = ()  # how the chain was read when not simply as named (header)
    protocol_version: int = 1
    checks: tuple[RuleCheck, ...] = ()  # protocol v2: the deployment's rules (code, state)

    @property
    def exit_code(self) -> int:
        codes = [r.exit_code for r in self.rounds]
        codes += [
            {CheckStatus.FAIL: 1, CheckStatus.UNVERIFIABLE: 2}.get(c.status, 0) for c in self.checks
        ]
        if any(f.severity == Severity.MISMATCH for f in self.history):
            codes.append(1)
        if any(f.severity == Severity.UNVERIFIABLE for f in self.history):
            codes.append(2)
        if 1 in codes:
            return 1
        if 2 in codes:
            return 2
        return 0

    @property
    def verdict(self) -> str:
        """The headline. Exit 1 splits in two: "mismatch found" when a final result, a rule check
        or the history disagrees with the replay; "conflict found" when every final result was
        reproduced and only attestations differ from it (an attester voted another result)."""
        code = self.exit_code
        if code != 1:
            return {0: "verified", 2: "could not verify"}[code]
        return "mismatch found" if self._has_mismatch() else "conflict found"

    def _has_mismatch(self) -> bool:
        return (
            any(r.verdict == Verdict.MISMATCH for r in self.rounds)
            or any(c.status == CheckStatus.FAIL for c in self.checks)
            or any(f.severity == Severity.MISMATCH for f in self.history)
        )

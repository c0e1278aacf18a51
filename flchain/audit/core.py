"""The audit: rebuild each round from contract events alone, re-run the merge, compare.

Two phases per round, so rounds can be judged on several cores:

* `gather_round` (I/O, main process): the round record from events, the merge inputs fetched
  by CID (`flchain.replay.gather_inputs`), the finalized manifest by its on-chain CID, the
  contract's storage view of the finalized result. Nothing a merger wrote off-chain is read.
* `judge_round` (pure CPU, any process; `flchain.audit.judge`): run the merge (which re-runs
  every ROI backtest and checks every CID and digest), check each rule — merged digest, merged
  CID, manifest CID and penalised list equal what was finalized, the finalized manifest decision
  by decision, every attestation — and derive the verdict from the findings once.

`audit` runs both over a range of rounds and adds the history checks: each round's base model
is the previous finalized one (as the manifest records it), and every rule change was scheduled
before the round it governs opened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from flchain.audit.judge import RoundMaterial, judge_round
from flchain.audit.report import (
    AuditReport,
    Finding,
    RoundAudit,
    Severity,
)
from flchain.errors import FlchainError, UnavailableError
from flchain.ledger import Ledger, RoundFinalized, RulesScheduled
from flchain.replay import (
    FetchProblem,
    ReplayError,
    fetch_content,
    gather_inputs,
)
from flchain.storage import ContentStore

__all__ = ["RoundMaterial", "audit", "audit_round", "closed_rounds", "gather_round", "judge_round"]

Progress = Callable[[int, int, RoundAudit], None]


# --- gather (I/O) -----------------------------------------------------------------------------


def _fetch_manifest(store: ContentStore, cid: str) -> tuple[bytes | None, str | None]:
    got = fetch_content(store, cid)
    return (None, str(got)) if isinstance(got, FetchProblem) else (got, None)


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

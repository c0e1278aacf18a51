"""Round history rebuilt from the contract's events alone (no contract view is trusted for it).

`compute_*` functions over an `EventLog` — anything that answers typed event queries and block
timestamps: a `Ledger` (through its shared event index, or pinned, as the audit's
`SnapshotLedger`) or a test's raw scan. So an auditor can compare what the events say with what
the contract's storage says (`flchain.ledger.views`).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from pydantic import BaseModel

from flchain.ledger.errors import LedgerError
from flchain.ledger.events import (
    Attested,
    ChainEvent,
    Committed,
    Genesis,
    Revealed,
    RoundFinalized,
    RulesScheduled,
)
from flchain.protocol import (
    Address,
    Attestation,
    Commitment,
    GlobalModel,
    Reveal,
    RoundRecord,
    Rules,
    Schedule,
)

E = TypeVar("E", bound=ChainEvent)
V = TypeVar("V", bound=BaseModel)


class EventLog(Protocol):
    """What round history reads."""

    def events(
        self, kind: type[E], round: int | None = None, *, to_block: int | None = None
    ) -> list[E]:
        """Events of `kind` in chain order (of `round` when given: its first indexed topic)."""
        ...

    def block_timestamp(self, block_number: int) -> int: ...


def compute_schedule(log: EventLog) -> tuple[Schedule, GlobalModel]:
    """Round schedule and genesis model from the deployment's `Genesis` event."""
    found = log.events(Genesis)
    if not found:
        raise LedgerError("no Genesis event: wrong contract or from_block after the deployment")
    g = found[0]
    schedule = Schedule(
        t0=g.t0,
        round_length=g.round_length,
        commit_window=g.commit_window,
        reveal_window=g.reveal_window,
    )
    return schedule, GlobalModel(round=-1, digest=g.digest, cid=g.cid)


def compute_rules(log: EventLog, round: int) -> Rules:
    """Rules frozen for `round`, from `RulesScheduled` events (a later event for the same
    version replaces it; the version with the greatest effective round ≤ `round` wins)."""
    versions: dict[int, RulesScheduled] = {e.version: e for e in log.events(RulesScheduled)}
    applicable = [e for e in versions.values() if e.effective_round <= round]
    if not applicable:
        raise LedgerError(f"no rules in force for round {round} in the event log")
    return max(applicable, key=lambda e: (e.effective_round, e.version)).rules


def compute_finalized(log: EventLog, round: int) -> GlobalModel | None:
    """The finalized model of `round` from its `RoundFinalized` and `Attested` events."""
    fin = log.events(RoundFinalized, round)
    if not fin:
        return None
    att = next(a for a in log.events(Attested, round) if a.result_hash == fin[0].result_hash)
    return GlobalModel(
        round=round,
        digest=att.merged_digest,
        cid=att.merged_cid,
        manifest_cid=att.manifest_cid,
        finalized_at=log.block_timestamp(fin[0].block_number),
    )


def compute_base(log: EventLog, round: int, schedule: Schedule | None = None) -> GlobalModel:
    """Base model of `round`: the finalized model of the latest round r' < round finalized
    before `round`'s reveal window closed; genesis if there is none."""
    from_events, genesis = compute_schedule(log)
    deadline = (schedule or from_events).reveal_end(round)
    best: GlobalModel | None = None
    for e in log.events(RoundFinalized):
        if e.round >= round or (best is not None and e.round <= best.round):
            continue
        if log.block_timestamp(e.block_number) >= deadline:
            continue
        best = compute_finalized(log, e.round)
    return best or genesis


def compute_round_record(
    log: EventLog, round: int, *, chain_id: int, contract: Address
) -> RoundRecord:
    """Everything the events say about `round` on the deployment `contract` of `chain_id`."""
    schedule, _ = compute_schedule(log)
    return RoundRecord(
        round=round,
        chain_id=chain_id,
        contract=contract,
        start=schedule.start(round),
        commit_end=schedule.commit_end(round),
        reveal_end=schedule.reveal_end(round),
        end=schedule.deadline(round),
        rules=compute_rules(log, round),
        commitments=tuple(_as(Commitment, e) for e in log.events(Committed, round)),
        reveals=tuple(_as(Reveal, e) for e in log.events(Revealed, round)),
        attestations=tuple(_as(Attestation, e) for e in log.events(Attested, round)),
        base=compute_base(log, round, schedule),
        finalized=compute_finalized(log, round),
    )


def _as(value: type[V], event: ChainEvent) -> V:
    """The protocol value `value` of an event (its fields are the event's, by name)."""
    return value.model_validate(event, from_attributes=True)

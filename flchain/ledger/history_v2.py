"""A protocol v2 round rebuilt from the contract's events and the reveals' calldata alone.

`compute_*` functions over an `EventLogV2` — anything that answers typed event queries (a
`LedgerV2` through its shared event index, or a pinned view of one) — and a payload reader
(`flchain.ledger.payloads`), so no contract view is trusted for history and an auditor can set
what the events say against what the storage says (`flchain.ledger.views_v2`).

`compute_round_record_v2` produces exactly the `RoundRecordV2` the v2 merge reads
(flchain/protocol/record.py): the schedule, rules and beacon from `Genesis` and the rules
events, `RoundOpened.reserved` (0 if the round was never opened), the nodes registered before
S(r) by index, the base (the latest final model at S(r), genesis otherwise), every reveal with
its payload (None when unreadable), the beacon posts, attestations and finalization in chain
order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from flchain.ledger.errors import LedgerError
from flchain.ledger.events import ChainEvent
from flchain.ledger.events_v2 import (
    Attested,
    BeaconPosted,
    Committed,
    Finalized,
    Genesis,
    Registered,
    Revealed,
    RoundOpened,
    RulesCancelled,
    RulesScheduled,
)
from flchain.protocol import Address
from flchain.protocol.machine import Deployment, RulesV2
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import (
    AttestationV2,
    BaseModelV2,
    BeaconParams,
    BeaconPost,
    FinalizedV2,
    RegisteredNode,
    RevealV2,
)

E = TypeVar("E", bound=ChainEvent)

#: Reads the payload of each `Revealed` event (None: unreadable), in the order given.
PayloadSource = Callable[[Sequence[Revealed]], list[bytes | None]]


class EventLogV2(Protocol):
    """What v2 round history reads."""

    def events(
        self, kind: type[E], round: int | None = None, *, to_block: int | None = None
    ) -> list[E]:
        """Events of `kind` in chain order (of `round` when given)."""
        ...


def compute_deployment(log: EventLogV2) -> Deployment:
    """The immutables from the deployment's `Genesis` event."""
    found = log.events(Genesis)
    if not found:
        raise LedgerError("no Genesis event: wrong contract or from_block after the deployment")
    return found[0].deployment


def compute_rule_versions(log: EventLogV2) -> list[RulesV2]:
    """The live rule versions, by version index: every `RulesScheduled` appends one, every
    `RulesCancelled` removes the last (§10), in chain order."""
    changes: list[RulesScheduled | RulesCancelled] = [
        *log.events(RulesScheduled),
        *log.events(RulesCancelled),
    ]
    versions: list[RulesV2] = []
    for e in sorted(changes, key=lambda e: (e.block_number, e.log_index)):
        if isinstance(e, RulesScheduled):
            if e.version != len(versions):
                raise LedgerError(f"RulesScheduled version {e.version} out of order in the log")
            versions.append(e.rules)
        elif e.version == len(versions) - 1 and e.version > 0:
            versions.pop()
        else:
            raise LedgerError(f"RulesCancelled of version {e.version}, not the last one")
    return versions


def compute_rules(log: EventLogV2, round: int) -> RulesV2:
    """The rules frozen for `round`: the last version with effectiveRound ≤ round."""
    applicable = [v for v in compute_rule_versions(log) if v.effective_round <= round]
    if not applicable:
        raise LedgerError(f"no rules in force for round {round} in the event log")
    return applicable[-1]


def compute_beacon(deployment: Deployment) -> BeaconParams:
    return BeaconParams(
        genesis=deployment.beacon_genesis,
        period=deployment.beacon_period,
        delay=deployment.beacon_delay,
        public_key=deployment.beacon_public_key,
    )


def compute_nodes(log: EventLogV2, round: int) -> tuple[RegisteredNode, ...]:
    """The nodes registered before S(round), by index. A registration at time t counts from
    effective(t) (`fromRound`), and t < S(round) exactly when fromRound ≤ round."""
    return tuple(
        RegisteredNode(address=e.node, index=e.index)
        for e in sorted(log.events(Registered), key=lambda e: e.index)
        if e.from_round <= round
    )


def compute_final(log: EventLogV2, round: int) -> tuple[Finalized, Attested] | None:
    """Round `round`'s `Finalized` event and an `Attested` event of its result, or None."""
    found = log.events(Finalized, round)
    if not found:
        return None
    final = found[0]
    for a in log.events(Attested, round):
        if a.result_hash == final.result_hash:
            return final, a
    raise LedgerError(f"round {round} is final with a result nobody attested: inconsistent log")


def compute_base(log: EventLogV2, round: int, deployment: Deployment) -> BaseModelV2:
    """The base of `round`: the latest final model at S(round) — the final result of the
    latest round before it (finalize(r') closes at S(r' + 1) ≤ S(round)) — or genesis."""
    earlier = sorted({e.round for e in log.events(Finalized) if e.round < round})
    if not earlier:
        return BaseModelV2(round=-1, digest=deployment.genesis_digest, cid=deployment.genesis_cid)
    last = earlier[-1]
    final = compute_final(log, last)
    assert final is not None  # `last` has a Finalized event
    result = final[1].result
    return BaseModelV2(
        round=last,
        digest=result.merged_digest,
        cid=result.merged_cid,
        manifest_cid=result.manifest_cid,
        settlement_root=result.settlement_root,
    )


def compute_reserved(log: EventLogV2, round: int) -> int:
    """What `openRound(round)` reserved; 0 for a round nobody opened."""
    opened = log.events(RoundOpened, round)
    return opened[0].reserved if opened else 0


def compute_reveals(log: EventLogV2, round: int, payloads: PayloadSource) -> tuple[RevealV2, ...]:
    events = log.events(Revealed, round)
    return tuple(
        RevealV2(
            node=e.node,
            update_digest=e.update_digest,
            base_digest=e.base_digest,
            roi_bps=e.roi_bps,
            salt=e.salt,
            outcome=e.outcome,
            block_number=e.block_number,
            log_index=e.log_index,
            payload=payload,
        )
        for e, payload in zip(events, payloads(events), strict=True)
    )


def compute_round_record_v2(
    log: EventLogV2,
    round: int,
    *,
    chain_id: int,
    contract: Address,
    payloads: PayloadSource,
    forward_window: bytes | None = None,
) -> RoundRecordV2:
    """Everything the events and the reveals' calldata say about `round` of the deployment
    `contract` on `chain_id`, as the v2 merge reads it; `forward_window` is the round's
    accepted forward window (`forwardWindowOf`, state of the forward box: §15.2)."""
    d = compute_deployment(log)
    final = compute_final(log, round)
    return RoundRecordV2(
        round=round,
        chain_id=chain_id,
        contract=contract,
        start=d.start(round),
        commit_end=d.commit_end(round),
        reveal_end=d.reveal_end(round),
        attest_open=d.attest_open(round),
        deadline=d.deadline(round),
        rules=compute_rules(log, round),
        beacon=compute_beacon(d),
        reserved=compute_reserved(log, round),
        nodes=compute_nodes(log, round),
        base=compute_base(log, round, d),
        reveals=compute_reveals(log, round, payloads),
        beacon_posts=tuple(
            BeaconPost(
                node=e.node,
                beacon_round=e.beacon_round,
                signature=e.signature,
                block_number=e.block_number,
                log_index=e.log_index,
            )
            for e in log.events(BeaconPosted, round)
        ),
        attestations=tuple(
            AttestationV2(
                node=e.node,
                result_hash=e.result_hash,
                weight=e.weight,
                result=e.result,
                block_number=e.block_number,
                log_index=e.log_index,
            )
            for e in log.events(Attested, round)
        ),
        committed=tuple(e.node for e in log.events(Committed, round)),
        forward_window=forward_window,
        finalized=None
        if final is None
        else FinalizedV2(
            result_hash=final[0].result_hash,
            tally=final[0].tally,
            total_stake=final[0].total_stake,
            block_number=final[0].block_number,
            log_index=final[0].log_index,
        ),
    )

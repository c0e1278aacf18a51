"""What `flchain node status` and `flchain chain info|nodes|attestations` report, from the chain
only, as JSON-friendly dicts (the CLI renders them as text or prints them as JSON);
`node_status_v2` for a protocol-v2 contract."""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from flchain.ledger import (
    Attested,
    Committed,
    ExitRequested,
    Ledger,
    LedgerV2,
    Registered,
    Revealed,
    RoundFinalized,
    Withdrawn,
)
from flchain.ledger.events_v2 import Revealed as RevealedV2
from flchain.protocol import Rules, rules_from_tuple
from flchain.rules_file import format_utc


def node_status(ledger: Ledger, address: str, round: int) -> dict[str, Any]:
    """A JSON-friendly status of `address` in `round` (from the chain only)."""
    rec = ledger.node_record(address)
    current, phase = ledger.phase()
    committed = any(e.node.lower() == address.lower() for e in ledger.events(Committed, round))
    reveal = next(
        (e for e in ledger.events(Revealed, round) if e.node.lower() == address.lower()), None
    )
    attested = any(e.attester.lower() == address.lower() for e in ledger.events(Attested, round))
    final = ledger.finalized(round)
    return {
        "node": rec.address,
        "status": rec.status.name,
        "accepted_reveals": rec.accepted_reveals,
        "penalties": rec.penalties,
        "roi_sum_bps": rec.roi_sum_bps,
        "bond_wei": rec.bond,
        "current_round": current,
        "phase": phase.name,
        "round": round,
        "committed": committed,
        "revealed": reveal is not None,
        "reveal_outcome": None if reveal is None else int(reveal.outcome),
        "claim_bps": None if reveal is None else reveal.roi_bps,
        "attested": attested,
        "finalized": final is not None,
    }


def node_status_v2(ledger: LedgerV2, address: str, round: int) -> dict[str, Any]:
    """`node_status` on a protocol-v2 contract: the node's bond, stake, settlement and rewards,
    and what it did in `round` (from the chain only)."""
    node = to_checksum_address(address)
    view = ledger.node_view(node)
    current, phase = ledger.phase()
    _, state, outcome = ledger.commitment_of(round, address)
    reveal = next((e for e in ledger.events(RevealedV2, round) if e.node == node), None)
    final = ledger.round_view(round).final_result
    return {
        "node": node,
        "status": view.status.name,
        "index": view.index,
        "bond_wei": view.bond,
        "stake_this_round_wei": view.stake_this_round,
        "stake_next_round_wei": view.stake_next_round,
        "settled_round": view.settled_round - 1,  # -1: never settled
        "earned_wei": view.cum_earned,
        "claimed_wei": view.claimed,
        "uncollected_wei": view.cum_earned - view.claimed,
        "penalties": view.cum_penalties,
        "penalties_slashed": view.penalties_applied,
        "withdrawable_at": view.withdrawable_at or None,
        "current_round": current,
        "phase": phase.name,
        "round": round,
        "commitment": state.name,
        "reveal_outcome": None if reveal is None else outcome.name,
        "claim_bps": None if reveal is None else reveal.roi_bps,
        "attested": view.last_attested_round >= round + 1,
        "finalized": final != bytes(32),
    }


# ------------------------------------------------------------------ the federation as a whole


def contract_view(ledger: Ledger, function: str, *args: Any) -> Any:
    """A contract view the `Ledger` has no method for (schedule constants, rule versions)."""
    from flchain.ledger.backends import NETWORK_ERRORS
    from flchain.ledger.errors import ChainUnavailable, LedgerError

    try:
        return getattr(ledger.contract.functions, function)(*args).call()
    except NETWORK_ERRORS:
        raise ChainUnavailable(f"cannot reach the chain to call {function}") from None
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise LedgerError(f"{function} call failed: {first}") from None


def rules_doc(rules: Rules) -> dict[str, Any]:
    """Every rule by name; the two enums by their lower-case names."""
    doc = rules.model_dump()
    doc["similarity_metric"] = rules.similarity_metric.name.lower()
    doc["aggregation"] = rules.aggregation.name.lower()
    return doc


def time_doc(ts: int) -> dict[str, Any]:
    return {"unix": ts, "utc": format_utc(ts)}


def rule_versions(ledger: Ledger) -> list[tuple[int, int, Rules]]:
    """(version, effective round, rules) of every rules version the contract holds."""
    count = int(contract_view(ledger, "rulesVersionCount"))
    out = []
    for version in range(count):
        effective, rules = rules_from_tuple(contract_view(ledger, "rulesVersion", version))
        out.append((version, effective, rules))
    return out


def nodes(ledger: Ledger) -> list[dict[str, Any]]:
    """Every node that ever registered (from Registered, ExitRequested and Withdrawn events),
    in registration order, with its current on-chain record."""
    registered = ledger.events(Registered)
    exits = {e.node.lower(): e for e in ledger.events(ExitRequested)}
    withdrawals = {e.node.lower(): e for e in ledger.events(Withdrawn)}
    out = []
    for event in registered:
        address = event.node
        rec = ledger.node_record(address)
        exit_event = exits.get(address.lower())
        withdrawal = withdrawals.get(address.lower())
        out.append(
            {
                "node": rec.address,
                "index": rec.index,
                "status": rec.status.name,
                "bond_wei": event.bond,
                "registered_block": event.block_number,
                "accepted_reveals": rec.accepted_reveals,
                "penalties": rec.penalties,
                "roi_sum_bps": rec.roi_sum_bps,
                "last_attested_round": rec.last_attested_round,
                "exit_requested_block": None if exit_event is None else exit_event.block_number,
                "withdrawable_at": None
                if exit_event is None
                else time_doc(exit_event.withdrawable_at),
                "withdrawn_block": None if withdrawal is None else withdrawal.block_number,
            }
        )
    return out


def attestations(ledger: Ledger, round: int) -> list[dict[str, Any]]:
    """The attestations of `round` in chain order; `finalized` marks the result that reached
    quorum (later attestations of it count as votes too)."""
    final = ledger.events(RoundFinalized, round)
    final_hash = final[0].result_hash if final else None
    return [
        {
            "attester": e.attester,
            "result_hash": e.result_hash,
            "finalized": e.result_hash == final_hash,
            "votes": e.votes,
            "merged_digest": e.merged_digest,
            "merged_cid": e.merged_cid,
            "manifest_cid": e.manifest_cid,
            "penalised": list(e.penalised),
            "block": e.block_number,
        }
        for e in ledger.events(Attested, round)
    ]


def chain_overview(ledger: Ledger, round: int | None = None) -> dict[str, Any]:
    """What `flchain chain info` shows, JSON-friendly: the contract, the schedule (unix and UTC),
    the governor, every rules version, the nodes, and one round's rules, times and attestations
    (default: the current round)."""
    current, phase = ledger.phase()
    shown = current if round is None else round
    s = ledger.schedule
    final = ledger.finalized(shown)
    latest = ledger.latest_global()
    return {
        "contract": ledger.address,
        "chain_id": ledger.chain_id,
        "deployment_block": ledger.from_block,
        "governor": ledger.governor(),
        "now": {**time_doc(ledger.now()), "round": current, "phase": phase.name},
        "schedule": {
            "t0": time_doc(s.t0),
            "round_length_s": s.round_length,
            "commit_window_s": s.commit_window,
            "reveal_window_s": s.reveal_window,
            "min_bond_wei": int(contract_view(ledger, "minBond")),
            "exit_delay_s": int(contract_view(ledger, "exitDelay")),
        },
        "genesis": ledger.genesis().model_dump(include={"digest", "cid"}),
        "rule_versions": [
            {"version": v, "effective_round": eff, "rules": rules_doc(r)}
            for v, eff, r in rule_versions(ledger)
        ],
        "round": {
            "round": shown,
            "start": time_doc(s.start(shown)),
            "commit_end": time_doc(s.commit_end(shown)),
            "reveal_end": time_doc(s.reveal_end(shown)),
            "rules": rules_doc(ledger.rules_for_round(shown)),
            "finalized": None
            if final is None
            else final.model_dump(include={"digest", "cid", "manifest_cid", "finalized_at"}),
            "attestations": attestations(ledger, shown),
        },
        "latest_global": latest.model_dump(include={"round", "digest", "cid"}),
        "nodes": nodes(ledger),
    }

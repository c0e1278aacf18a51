"""What `flchain node status` reports: the node's record, the phase, and its part in a round."""

from __future__ import annotations

from typing import Any

from flchain.ledger import Attested, Committed, Ledger, Revealed


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

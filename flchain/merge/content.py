"""Which reveals the merge reads the content of: the one rule merger, replay and audit share.

The merge decides a reveal from the record alone when the contract rejected it at reveal
(abnormal ROI, ineligible) or when it was built on another base than the round's (stale base);
the content of every other reveal is fetched by its CID, verified and validated. Whoever
gathers the merge's inputs fetches exactly these CIDs; whoever reports on content (the audit)
calls a reveal's content "not needed" exactly when this says so.
"""

from __future__ import annotations

from flchain.protocol import Reveal, RevealOutcome, RoundRecord

__all__ = ["content_cids", "needs_content"]


def needs_content(reveal: Reveal, record: RoundRecord) -> bool:
    """The merge reads `reveal`'s content: accepted on-chain and built on the round's base."""
    return reveal.outcome == RevealOutcome.ACCEPTED and reveal.base_digest == record.base.digest


def content_cids(record: RoundRecord) -> list[str]:
    """The CIDs the merge of `record` reads, de-duplicated, in reveal order."""
    return list(dict.fromkeys(r.cid for r in record.reveals if needs_content(r, record)))

"""Stable reason codes for every decision the merge takes about an input.

The string values are part of the manifest format (v1 and v2): never rename one; add new
codes instead. `PENALISED_REASONS` are the ones that are the node's own fault and provable
from public data by anyone, so attesters report them for an on-chain record update.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why an input was (or was not) aggregated."""

    ACCEPTED = "accepted"
    REJECTED_ON_CHAIN_ABNORMAL_ROI = "rejected_on_chain_abnormal_roi"
    REJECTED_ON_CHAIN_INELIGIBLE = "rejected_on_chain_ineligible"
    STALE_BASE = "stale_base"
    CONTENT_UNAVAILABLE = "content_unavailable"
    CID_MISMATCH = "cid_mismatch"
    DIGEST_MISMATCH = "digest_mismatch"
    NOT_SAFETENSORS = "not_safetensors"
    WRONG_DTYPE = "wrong_dtype"
    NON_FINITE = "non_finite"
    MISSING_TENSOR = "missing_tensor"
    EXTRA_TENSOR = "extra_tensor"
    WRONG_SHAPE = "wrong_shape"
    BAD_METADATA = "bad_metadata"
    NORM_TOO_LARGE = "norm_too_large"
    IGNORED_DIRECTIVE = "ignored_directive"
    ROI_NOT_REPRODUCED = "roi_not_reproduced"
    BEYOND_PARTICIPANT_CAP = "beyond_participant_cap"
    # protocol v2
    REJECTED_ON_CHAIN_STALE_BASE = "rejected_on_chain_stale_base"
    PAYLOAD_UNREADABLE = "payload_unreadable"
    #: the payload's metadata does not name its own reveal's node and round (protocol.md §5):
    #: a byte-for-byte copy of an earlier update, the base or genesis
    UNBOUND_UPDATE = "unbound_update"
    # forward scoring (protocol v2 §15.4): scored, not merged or paid; never penalised
    PROBATION = "probation"
    BELOW_RECORD = "below_record"


#: Faults of the node itself, checkable by anyone from chain + content. Not included:
#: unavailable content (could be the merger's own network), a CID mismatch (the bytes handed to
#: the merge are not what the CID names, so the fetcher erred), a stale base (an honest node
#: that missed a finalization) and the participant cap (a ranking, not a fault).
PENALISED_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.DIGEST_MISMATCH,
        Reason.NOT_SAFETENSORS,
        Reason.WRONG_DTYPE,
        Reason.NON_FINITE,
        Reason.MISSING_TENSOR,
        Reason.EXTRA_TENSOR,
        Reason.WRONG_SHAPE,
        Reason.BAD_METADATA,
        Reason.NORM_TOO_LARGE,
        Reason.IGNORED_DIRECTIVE,
        Reason.ROI_NOT_REPRODUCED,
        Reason.PAYLOAD_UNREADABLE,
        Reason.UNBOUND_UPDATE,
    }
)

#: Codes only the v2 merge gives: the contract's new outcomes, and a payload the reveal's
#: transaction does not carry as a `reveal` call (the node chose to send it so: penalised).
V2_ONLY_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.REJECTED_ON_CHAIN_STALE_BASE,
        Reason.PAYLOAD_UNREADABLE,
        Reason.UNBOUND_UPDATE,
        Reason.PROBATION,
        Reason.BELOW_RECORD,
    }
)

#: Codes the v2 merge never gives: payloads travel in calldata checked against their digest by
#: the contract, so nothing is fetched (unavailable), named by a CID of the reader's choice
#: (mismatch) or hashes to another digest; a stale base is the contract's outcome.
V1_ONLY_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.STALE_BASE,
        Reason.CONTENT_UNAVAILABLE,
        Reason.CID_MISMATCH,
        Reason.DIGEST_MISMATCH,
    }
)

#: Codes only a merge with forward scoring on gives (protocol.md §15.4).
FORWARD_REASONS: frozenset[Reason] = frozenset({Reason.PROBATION, Reason.BELOW_RECORD})

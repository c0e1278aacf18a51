"""Presentation shared by the terminal reports (the simulate table, the audit report): display only.

Reason and outcome codes are the manifest's (`flchain.merge.reasons`, never renamed); the labels
here are what tables that must fit an 80-column terminal print instead, with a legend naming
each label's code in full. Changing a label changes no manifest, digest or verdict.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["REASON_LABELS", "reason_label", "reason_legend"]

#: Short labels of decision and outcome codes for tables that must fit an 80-column terminal
#: (the simulate per-round table, the audit report); a legend under the table names each one in
#: full, and a code without a label shows in full. Never part of a manifest.
REASON_LABELS: dict[str, str] = {
    "no_reveal": "no-rev",
    "not_merged": "unmerged",
    "rejected_on_chain_abnormal_roi": "roi-abn",
    "rejected_on_chain_ineligible": "inelig",
    "roi_not_reproduced": "roi-nr",
    "non_finite": "nan",
    "ignored_directive": "ign-dir",
    "stale_base": "stale",
    "beyond_participant_cap": "cap",
    "content_unavailable": "unavail",
    "cid_mismatch": "cid-mm",
    "digest_mismatch": "dig-mm",
    "not_safetensors": "not-st",
    "wrong_dtype": "dtype",
    "missing_tensor": "miss-t",
    "extra_tensor": "extra-t",
    "wrong_shape": "shape",
    "bad_metadata": "meta",
    "norm_too_large": "norm",
    "unbound_update": "unbound",
    "rejected_on_chain_stale_base": "stale-b",
    "payload_unreadable": "unread",
}


def reason_label(reason: str) -> str:
    """The short table label of a reason or outcome code (the code itself when it has none)."""
    return REASON_LABELS.get(reason, reason)


def reason_legend(reasons: Iterable[str]) -> list[tuple[str, str]]:
    """(label, code) for each distinct code that has a label other than itself, first seen first."""
    return [(reason_label(r), r) for r in dict.fromkeys(reasons) if reason_label(r) != r]

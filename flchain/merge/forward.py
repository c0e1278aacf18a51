"""Forward scoring in the v2 merge (docs/protocol.md §15.3–§15.4): the scores of round w's
updates on w's accepted forward window, and the trailing records they update.

    ForwardRound(record, base_weights, window)   what the merge of w + lag reads about round w
    compute_forward_excess(...)                  an update's forward ROI less the base's
    process_forward_scores(forward, market)      every frozen-set node's score of round w
    apply_scores(records, scores, trail)         the records after round w
    record_scores(records, rules)                each record's score (mean less z std. errors)

Pure: the window's bytes come from calldata (the caller read them), the base model by digest.
Every figure is an integer; ROIs come from the reference path (DESIGN §4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from flchain.backtest import roi_bps
from flchain.errors import FlchainError
from flchain.market.benchmark import Benchmark
from flchain.market.errors import ForwardWindowError
from flchain.market.forward import parse_window
from flchain.merge.core import (
    BaseModelState,
    Candidate,
    Tensors,
    decode_base,
    norm_micro,
    validate_content,
)
from flchain.merge.errors import MergeInputError
from flchain.model import reference_positions
from flchain.protocol import digests as dg
from flchain.protocol import forward as fw
from flchain.protocol.machine import RevealOutcome, RulesV2
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import Address, ChecksumAddress, canonical_address_key

__all__ = [
    "ForwardOutcome",
    "ForwardRecord",
    "ForwardRound",
    "ForwardStatus",
    "NodeScore",
    "apply_scores",
    "base_norm_micro",
    "compute_forward_excess",
    "effective_norm_bound",
    "process_forward_scores",
    "record_scores",
]

#: The contract's outcomes whose update is scored: a stale base is not (nor, by the content
#: check, a copy: its binding names another reveal).
_SCORED_OUTCOMES = frozenset(
    {RevealOutcome.ACCEPTED, RevealOutcome.REJECTED_ABNORMAL_ROI, RevealOutcome.REJECTED_INELIGIBLE}
)


class ForwardStatus(StrEnum):
    SCORED = "scored"
    MISSING = "missing"  # no window reached the threshold, or nobody has its bytes
    INVALID = "invalid"  # the accepted bytes are not the round's window


class ForwardRecord(BaseModel):
    """A node's trailing forward record: its last K scores (oldest first) and how many rounds
    it was ever scored in."""

    model_config = ConfigDict(frozen=True)

    node: ChecksumAddress
    scores: tuple[int, ...] = ()
    scored: int = Field(default=0, ge=0, lt=2**32)


@dataclass(frozen=True)
class ForwardRound:
    """What the merge of round c reads about the round w whose window is voted in c: its record
    (reveals with payloads, commitments, the accepted window hash), its base model's bytes and
    the accepted window's bytes (None when nobody posted them or none was accepted)."""

    record: RoundRecordV2
    base_weights: bytes
    window: bytes | None = None


@dataclass(frozen=True)
class _Scored:
    """The reveal as `core.validate_content` names it (its decisions are not recorded here)."""

    node: Address
    cid: str = ""
    roi_bps: int = 0


@dataclass(frozen=True)
class NodeScore:
    node: Address
    excess_bps: int  # clamped; FORWARD_WORST_BPS for an unscorable commitment
    reason: str  # "scored", "unrevealed", or why the reveal could not be scored
    roi_bps: int | None = None  # the update's forward ROI when scored


@dataclass(frozen=True)
class ForwardOutcome:
    """Round w's scores: `status`, why when not scored, the base's forward ROI and a score per
    node that committed in w (canonical order)."""

    round: int
    window_hash: bytes | None
    status: ForwardStatus
    reason: str = ""
    base_roi_bps: int | None = None
    scores: tuple[NodeScore, ...] = field(default=())


def base_norm_micro(base: BaseModelState) -> int:
    """‖base‖ in units of 10⁻⁶, computed like an update's norm (`core.update_norm_squared`:
    float64 squares, each correctly rounded, summed exactly with math.fsum)."""
    parts: list[float] = []
    for name in sorted(base.layout):
        values = base.tensors[name].astype(np.float64)
        parts.append(math.fsum((values * values).reshape(-1).tolist()))
    return norm_micro(math.fsum(parts))


def effective_norm_bound(rules: RulesV2, base: BaseModelState) -> int:
    """`normBoundMicro`, tightened to `normBoundRelPpm` of the base's norm when that is set."""
    if rules.norm_bound_rel_ppm == 0:
        return rules.norm_bound_micro
    relative = base_norm_micro(base) * rules.norm_bound_rel_ppm // 1_000_000
    return min(rules.norm_bound_micro, relative)


def compute_forward_excess(
    update: Tensors, base: BaseModelState, window: Benchmark, fee_ppm: int
) -> tuple[int, int]:
    """(excess, ROI) of `update` on `window` under the base's config: its ROI less the base
    model's on the same bars, clamped to ±FORWARD_CLAMP_BPS. A copy of the base scores 0.
    @raise FlchainError (from the model) when the weights do not fit the base's config"""
    roi = forward_roi(update, base, window, fee_ppm)
    return fw.clamp_score(roi - forward_roi(base.tensors, base, window, fee_ppm)), roi


def forward_roi(tensors: Tensors, base: BaseModelState, window: Benchmark, fee_ppm: int) -> int:
    """The ROI (bps) of `tensors` on `window`'s scored bars under the base's config."""
    positions = reference_positions(tensors, base.config, window.bars)
    return roi_bps(window.exec_prices, positions, fee_ppm)


def _window_of(
    forward: ForwardRound, market: tuple[str, str] | None
) -> tuple[Benchmark | None, ForwardStatus, str]:
    record = forward.record
    rules = record.rules
    if record.forward_window is None:
        return None, ForwardStatus.MISSING, "no window reached the vote threshold"
    if forward.window is None:
        return None, ForwardStatus.MISSING, "the accepted window's bytes were not found"
    if dg.sha256(forward.window) != record.forward_window:
        raise MergeInputError(
            f"the window bytes of round {record.round} do not hash to its accepted window "
            f"0x{record.forward_window.hex()}"
        )
    start = fw.forward_start(record.reveal_end, rules.forward_margin_seconds)
    try:
        return (
            parse_window(forward.window, start, rules.forward_bars, market),
            ForwardStatus.SCORED,
            "",
        )
    except ForwardWindowError as exc:
        return None, ForwardStatus.INVALID, exc.message


def process_forward_scores(
    forward: ForwardRound, market: tuple[str, str] | None = None
) -> ForwardOutcome:
    """Round w's forward scores (§15.3): a score for every node that committed in w, in
    canonical order — its update's clamped excess when the reveal is scorable, else the worst
    score — or none at all when the window is missing or invalid (the merge still runs).

    @raises MergeInputError when the base bytes are not w's base or the window bytes are not
        the accepted window (caller errors, never a node's)."""
    record = forward.record
    if dg.sha256(forward.base_weights) != record.base.digest:
        raise MergeInputError(f"the base weights are not round {record.round}'s base model")
    window, status, reason = _window_of(forward, market)
    if window is None:
        return ForwardOutcome(record.round, record.forward_window, status, reason)
    base = decode_base(forward.base_weights)
    rules = record.rules
    bound = effective_norm_bound(rules, base)
    base_roi = forward_roi(base.tensors, base, window, rules.fee_ppm)
    reveals = {r.node: r for r in record.reveals}
    scores: list[NodeScore] = []
    for node in sorted(set(record.committed) | set(reveals), key=canonical_address_key):
        reveal = reveals.get(node)
        if reveal is None:
            scores.append(NodeScore(node, fw.FORWARD_WORST_BPS, "unrevealed"))
            continue
        if reveal.outcome not in _SCORED_OUTCOMES:
            scores.append(
                NodeScore(node, fw.FORWARD_WORST_BPS, f"outcome_{reveal.outcome.name.lower()}")
            )
            continue
        if reveal.payload is None:
            scores.append(NodeScore(node, fw.FORWARD_WORST_BPS, "payload_unreadable"))
            continue
        checked = validate_content(
            _Scored(node), reveal.payload, base, bound, None, (node, record.round)
        )
        if not isinstance(checked, Candidate):
            scores.append(NodeScore(node, fw.FORWARD_WORST_BPS, checked[0].value))
            continue
        try:
            roi = forward_roi(checked.tensors, base, window, rules.fee_ppm)
        except FlchainError:  # weights that do not fit the base's config
            scores.append(NodeScore(node, fw.FORWARD_WORST_BPS, "bad_metadata"))
            continue
        scores.append(NodeScore(node, fw.clamp_score(roi - base_roi), "scored", roi))
    return ForwardOutcome(
        record.round, record.forward_window, ForwardStatus.SCORED, "", base_roi, tuple(scores)
    )


def apply_scores(
    records: Mapping[Address, ForwardRecord], outcome: ForwardOutcome | None, trail: int
) -> dict[Address, ForwardRecord]:
    """The records after round w: each scored node's score appended (the oldest beyond `trail`
    dropped) and its count grown; every other record as it was. Canonical order."""
    out = dict(records)
    if outcome is not None:
        for s in outcome.scores:
            prior = out.get(s.node, ForwardRecord(node=s.node))
            out[s.node] = ForwardRecord(
                node=s.node,
                scores=(*prior.scores, s.excess_bps)[-trail:],
                scored=prior.scored + 1,
            )
    return {n: out[n] for n in sorted(out, key=canonical_address_key)}


def record_scores(records: Mapping[Address, ForwardRecord], rules: RulesV2) -> dict[Address, int]:
    """Each record's score (`flchain.protocol.forward.record_score`) under `rules`."""
    return {
        n: fw.record_score(r.scores, rules.forward_noise_z_ppm, rules.forward_noise_floor_bps)
        for n, r in records.items()
    }


def records_doc(
    records: Mapping[Address, ForwardRecord], scores: Mapping[Address, int]
) -> list[dict[str, object]]:
    return [
        {"node": n, "scores": list(r.scores), "scored": r.scored, "score_bps": scores[n]}
        for n, r in records.items()
    ]


def records_from_doc(doc: Sequence[Mapping[str, object]]) -> tuple[ForwardRecord, ...]:
    """The records of a manifest's `forward.records` (MergeInputError if malformed)."""
    try:
        return tuple(
            ForwardRecord(node=str(d["node"]), scores=tuple(d["scores"]), scored=d["scored"])  # type: ignore[arg-type]
            for d in doc
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MergeInputError(f"manifest forward records are malformed: {exc}") from None

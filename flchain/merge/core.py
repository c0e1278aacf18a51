"""The merge of one round: a pure function of the on-chain record and the content it names.

    merge(record, payloads, base_weights, benchmark, directives) -> MergeResult

Steps, in this order, each a function below (docs/merge.md writes them out):

    process_base          the base bytes are the round's global model
    validate              per reveal: on-chain outcome, base, content, format, layout, norm,
                          directive compliance
    verify_roi_claims     recompute every claim on the benchmark (reference inference + ROI)
                          under the base model's config, the config the update is merged into
    select                best `max_participants` by claimed ROI, ties by address (v2: by
                          keccak(seed ‖ node), flchain.merge.v2 calls the same steps)
    process_diversity     similarity, clusters, capped weights, next round's directives
    process_aggregation   mean / median / trimmed mean (flchain.merge.aggregate)
    build_manifest        canonical JSON of every input and decision

No I/O, no clock, no environment, no global RNG. Inputs are visited in canonical address
order; every decision compares integers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from flchain.backtest import roi_bps
from flchain.errors import FlchainError
from flchain.hashing import sha256_hex
from flchain.market.benchmark import Benchmark
from flchain.merge.aggregate import (
    aggregate_median,
    aggregate_trimmed_mean,
    aggregate_weighted_mean,
)
from flchain.merge.content import needs_content
from flchain.merge.diversity import (
    TieKey,
    address_tie_key,
    behavioural_similarity_ppm,
    cap_cluster_weights,
    cluster_best,
    directive_seed,
    integer_weights,
    quantise_deltas,
    single_linkage_clusters,
    weight_delta_similarity_ppm,
)
from flchain.merge.errors import MergeInputError
from flchain.merge.manifest import MANIFEST_KIND, MANIFEST_VERSION, encode_manifest, fraction_str
from flchain.merge.reasons import PENALISED_REASONS, Reason
from flchain.model import (
    ModelConfig,
    config_from_metadata,
    directive_mask,
    directive_menu,
    draw_directive,
    reference_positions,
)
from flchain.protocol import (
    NORM_SCALE,
    PPM,
    Address,
    Aggregation,
    Directive,
    Reveal,
    RevealOutcome,
    RoundRecord,
    Rules,
    SimilarityMetric,
    canonical_address_key,
    is_unset_benchmark,
)
from flchain.protocol.binding import get_binding_fault
from flchain.storage.cid import cid_for_bytes
from flchain.storage.errors import NonFiniteWeightsError, WeightsDtypeError, WeightsError
from flchain.storage.weights import decode_weights, encode_weights

__all__ = ["Decision", "MergeResult", "merge"]

Tensors = dict[str, NDArray[np.float32]]


class RevealLike(Protocol):
    """What the shared steps read of a reveal (v1's `Reveal`, v2's `merge.v2.RevealInput`)."""

    @property
    def node(self) -> Address: ...
    @property
    def cid(self) -> str: ...
    @property
    def roi_bps(self) -> int: ...


class MergeRules(Protocol):
    """The rule fields the shared steps read (v1's `Rules`, v2's `RulesV2`: same names)."""

    @property
    def roi_min_bps(self) -> int: ...
    @property
    def max_participants(self) -> int: ...
    @property
    def similarity_threshold_ppm(self) -> int: ...
    @property
    def cluster_cap_ppm(self) -> int: ...
    @property
    def similarity_metric(self) -> int: ...
    @property
    def aggregation(self) -> int: ...
    @property
    def trim_ppm(self) -> int: ...
    @property
    def roi_tolerance_bps(self) -> int: ...
    @property
    def norm_bound_micro(self) -> int: ...
    @property
    def fee_ppm(self) -> int: ...


_ON_CHAIN_REASON = {
    RevealOutcome.REJECTED_ABNORMAL_ROI: Reason.REJECTED_ON_CHAIN_ABNORMAL_ROI,
    RevealOutcome.REJECTED_INELIGIBLE: Reason.REJECTED_ON_CHAIN_INELIGIBLE,
}


@dataclass(frozen=True)
class Decision:
    """What the merge decided about one reveal. `detail` is for people; only `reason` is in
    the manifest (error wording may change between versions, reason codes never do)."""

    node: Address
    cid: str
    reason: Reason
    detail: str = ""


class MergeResult(BaseModel):
    """The outputs nodes attest: merged weights and manifest, with their digests and CIDs."""

    model_config = ConfigDict(frozen=True)

    merged_weights: bytes
    merged_digest: str
    merged_cid: str
    manifest: bytes
    manifest_cid: str
    penalised: tuple[Address, ...]
    decisions: tuple[Decision, ...]
    directives: tuple[Directive, ...]
    kept_base: bool


@dataclass
class BaseModelState:
    tensors: Tensors
    metadata: dict[str, str]
    layout: dict[str, tuple[int, ...]]
    config: ModelConfig  # the global model's config: what every update is scored and merged under


@dataclass
class Candidate:
    """A reveal that passed `validate` (and, later, `verify_roi_claims`)."""

    reveal: RevealLike
    tensors: Tensors
    config: ModelConfig
    norm_micro: int
    positions: NDArray[np.int8] | None = None
    recomputed_roi_bps: int | None = None


@dataclass
class Notes:
    """Working notes of one merge: every decision and every measured figure per node."""

    decisions: dict[Address, Decision] = field(default_factory=dict)
    norm_micro: dict[Address, int] = field(default_factory=dict)
    recomputed_roi_bps: dict[Address, int] = field(default_factory=dict)

    def decide(self, reveal: RevealLike, reason: Reason, detail: str = "") -> None:
        self.decisions[reveal.node] = Decision(reveal.node, reveal.cid, reason, detail)


# --- step 0: inputs -------------------------------------------------------------------------


def process_base(record: RoundRecord, base_weights: bytes) -> BaseModelState:
    """The base bytes must be the round's current global model (a caller error otherwise)."""
    digest = sha256_hex(base_weights)
    if digest != record.base.digest:
        raise MergeInputError(
            f"base weights digest {digest} is not the round's base model {record.base.digest}"
        )
    return decode_base(base_weights)


def decode_base(base_weights: bytes) -> BaseModelState:
    """The base model's tensors, metadata, layout and config (its digest already checked)."""
    try:
        tensors, metadata = decode_weights(base_weights)
    except WeightsError as exc:
        raise MergeInputError(f"base model does not decode: {exc}") from None
    try:
        config = config_from_metadata(metadata)
    except FlchainError as exc:
        raise MergeInputError(f"base model carries no usable model config: {exc}") from None
    layout = {name: tuple(int(d) for d in t.shape) for name, t in tensors.items()}
    return BaseModelState(tensors, metadata, layout, config)


def check_benchmark(rules: Rules, benchmark: Benchmark) -> None:
    """The benchmark must be the one the rules name, by bars hash or file digest (an all-zero
    id means unset: devnets)."""
    check_benchmark_id(rules.benchmark_id, benchmark)


def check_benchmark_id(benchmark_id: str, benchmark: Benchmark) -> None:
    """`benchmark` is the one `benchmark_id` (0x-hex: bars hash or file digest) names, or the
    id is unset."""
    if not is_unset_benchmark(benchmark_id) and not benchmark.is_named_by(benchmark_id):
        raise MergeInputError(
            f"benchmark {benchmark.id} is not the rules' benchmark {benchmark_id}"
        )


def canonical_reveals(record: RoundRecord) -> list[Reveal]:
    """Reveals of this round in canonical address order; one per node."""
    reveals = sorted(record.reveals, key=lambda r: canonical_address_key(r.node))
    seen: set[str] = set()
    for r in reveals:
        if r.round != record.round:
            raise MergeInputError(f"reveal of {r.node} is for round {r.round}, not {record.round}")
        if r.node.lower() in seen:
            raise MergeInputError(f"two reveals from {r.node} in round {record.round}")
        seen.add(r.node.lower())
    return reveals


# --- step 1: validate -----------------------------------------------------------------------


def decode_reason(exc: WeightsError) -> Reason:
    if isinstance(exc, NonFiniteWeightsError):
        return Reason.NON_FINITE
    if isinstance(exc, WeightsDtypeError):
        return Reason.WRONG_DTYPE
    return Reason.NOT_SAFETENSORS  # pickles, zip archives, malformed headers and layouts


def layout_reason(tensors: Tensors, base: BaseModelState) -> tuple[Reason, str] | None:
    missing = sorted(set(base.layout) - set(tensors))
    if missing:
        return Reason.MISSING_TENSOR, f"missing {missing[0]!r}"
    extra = sorted(set(tensors) - set(base.layout))
    if extra:
        return Reason.EXTRA_TENSOR, f"unexpected {extra[0]!r}"
    for name, shape in base.layout.items():
        got = tuple(int(d) for d in tensors[name].shape)
        if got != shape:
            return Reason.WRONG_SHAPE, f"{name!r} has shape {list(got)}, base has {list(shape)}"
    return None


def update_norm_squared(tensors: Tensors, base: BaseModelState) -> float:
    """||update - base||^2 as float64: element-wise differences and squares (each correctly
    rounded), summed with math.fsum, which is exactly rounded and so independent of order."""
    parts: list[float] = []
    for name in sorted(base.layout):
        delta = tensors[name].astype(np.float64) - base.tensors[name].astype(np.float64)
        np.multiply(delta, delta, out=delta)
        parts.append(math.fsum(delta.reshape(-1).tolist()))
    return math.fsum(parts)


def norm_micro(norm_squared: float) -> int:
    """floor(sqrt(norm^2) * 1e6), exactly (the float64 is converted to a rational)."""
    scaled = Fraction(norm_squared) * NORM_SCALE * NORM_SCALE
    return math.isqrt(scaled.numerator // scaled.denominator)


def follows_directive(config: ModelConfig, directive: Directive) -> bool:
    """The update's config applies every choice of the directive it was assigned: training mask,
    learning rate, epochs, perturbation seed (a directive never changes the feature set or the
    lookbacks: those are the base's, and the update is scored under the base's config)."""
    return (
        config.directive == directive
        and config.train_mask == directive_mask(directive)
        and config.learning_rate_ppm == directive.learning_rate_ppm
        and config.epochs == directive.epochs
        and config.init_seed == directive.init_seed
    )


def validate_reveal(
    reveal: Reveal,
    payload: bytes | None,
    base: BaseModelState,
    record: RoundRecord,
    directive: Directive | None,
) -> Candidate | tuple[Reason, str]:
    """One reveal through every validity check, first failure wins (order documented)."""
    if reveal.outcome != RevealOutcome.ACCEPTED:
        return _ON_CHAIN_REASON[reveal.outcome], "rejected by the contract at reveal"
    if reveal.base_digest != record.base.digest:
        return Reason.STALE_BASE, f"trained from {reveal.base_digest}"
    if payload is None:
        return Reason.CONTENT_UNAVAILABLE, "content could not be fetched"
    if cid_for_bytes(payload) != reveal.cid:
        return Reason.CID_MISMATCH, "bytes do not hash to the revealed CID"
    if sha256_hex(payload) != reveal.update_digest:
        return Reason.DIGEST_MISMATCH, "bytes do not hash to the revealed digest"
    return validate_content(reveal, payload, base, record.rules.norm_bound_micro, directive)


def validate_content(
    reveal: RevealLike,
    payload: bytes,
    base: BaseModelState,
    norm_bound_micro: int,
    directive: Directive | None,
    bound_to: tuple[str, int] | None = None,
) -> Candidate | tuple[Reason, str]:
    """The checks of the bytes themselves (format, layout, metadata, binding, norm, directive),
    shared by v1 (content fetched by CID) and v2 (payload from calldata, `bound_to` the
    reveal's (node, round), which the metadata must name: `flchain.protocol.binding`); first
    failure wins."""
    try:
        tensors, metadata = decode_weights(payload, require_canonical=True)
    except WeightsError as exc:
        return decode_reason(exc), str(exc)
    bad_layout = layout_reason(tensors, base)
    if bad_layout is not None:
        return bad_layout
    try:
        config = config_from_metadata(metadata)
    except FlchainError as exc:
        return Reason.BAD_METADATA, str(exc)
    if bound_to is not None:
        fault = get_binding_fault(metadata, *bound_to)
        if fault is not None:
            return Reason.UNBOUND_UPDATE, fault
    norm = norm_micro(update_norm_squared(tensors, base))
    if norm > norm_bound_micro:
        return Reason.NORM_TOO_LARGE, f"norm {norm} > bound {norm_bound_micro} (1e-6)"
    if directive is not None and not follows_directive(config, directive):
        return Reason.IGNORED_DIRECTIVE, "model config does not apply the assigned directive"
    return Candidate(reveal=reveal, tensors=tensors, config=config, norm_micro=norm)


def validate(
    reveals: Sequence[Reveal],
    payloads: Mapping[str, bytes | None],
    base: BaseModelState,
    record: RoundRecord,
    directives: Mapping[str, Directive],
    notes: Notes,
) -> list[Candidate]:
    """Step 1. Candidates in canonical order; every other reveal gets its reason."""
    candidates: list[Candidate] = []
    for reveal in reveals:
        reads = needs_content(reveal, record)
        if reads and reveal.cid not in payloads:
            raise MergeInputError(
                f"no payload entry for CID {reveal.cid} of {reveal.node} (pass None if unfetchable)"
            )
        payload = payloads.get(reveal.cid) if reads else None
        outcome = validate_reveal(
            reveal, payload, base, record, directives.get(reveal.node.lower())
        )
        if isinstance(outcome, Candidate):
            notes.norm_micro[reveal.node] = outcome.norm_micro
            candidates.append(outcome)
        else:
            notes.decide(reveal, *outcome)
    return candidates


# --- step 2: verify ROI claims --------------------------------------------------------------


def verify_roi_claims(
    candidates: Sequence[Candidate],
    benchmark: Benchmark,
    rules: MergeRules,
    notes: Notes,
    scoring: ModelConfig,
) -> list[Candidate]:
    """Step 2. Re-run every claim's backtest under ``scoring`` — the base model's config, the
    one the update's weights will be merged into (features, lookbacks, decision rule) — whatever
    config the update declares; a claim off by more than the tolerance fails."""
    prices = benchmark.exec_prices
    verified: list[Candidate] = []
    for c in candidates:
        try:
            positions = reference_positions(c.tensors, scoring, benchmark.bars)
        except FlchainError as exc:  # weights that do not fit the scoring config
            notes.decide(c.reveal, Reason.BAD_METADATA, str(exc))
            continue
        recomputed = roi_bps(prices, positions, rules.fee_ppm)
        notes.recomputed_roi_bps[c.reveal.node] = recomputed
        c.positions, c.recomputed_roi_bps = positions, recomputed
        if abs(c.reveal.roi_bps - recomputed) > rules.roi_tolerance_bps:
            notes.decide(
                c.reveal,
                Reason.ROI_NOT_REPRODUCED,
                f"claimed {c.reveal.roi_bps} bps, recomputed {recomputed} bps",
            )
            continue
        verified.append(c)
    return verified


# --- step 3: select -------------------------------------------------------------------------


def select(
    candidates: Sequence[Candidate],
    rules: MergeRules,
    notes: Notes,
    tie: TieKey = address_tie_key,
    score: Mapping[Address, int] | None = None,
) -> list[Candidate]:
    """Step 3. Keep the best `max_participants` by claimed ROI — or by `score`, the forward
    record's (protocol v2 §15.4), when given — ties: lower `tie` key first."""

    def rank(c: Candidate) -> int:
        return c.reveal.roi_bps if score is None else score[c.reveal.node]

    ranked = sorted(candidates, key=lambda c: (-rank(c), tie(c.reveal.node)))
    kept = ranked[: rules.max_participants]
    for c in ranked[rules.max_participants :]:
        notes.decide(c.reveal, Reason.BEYOND_PARTICIPANT_CAP, f"limit {rules.max_participants}")
    for c in kept:
        notes.decide(c.reveal, Reason.ACCEPTED)
    return sorted(kept, key=lambda c: canonical_address_key(c.reveal.node))


# --- step 4: diversity ----------------------------------------------------------------------


@dataclass(frozen=True)
class DiversityOutcome:
    similarity: list[tuple[Address, Address, int]]
    clusters: tuple[tuple[Address, ...], ...]
    shares: dict[Address, Fraction]
    weights: dict[Address, int]
    seed: bytes
    directives: tuple[Directive, ...]


def pairwise_similarity(
    selected: Sequence[Candidate], base: BaseModelState, metric: int
) -> dict[tuple[Address, Address], int]:
    nodes = [c.reveal.node for c in selected]
    if metric == SimilarityMetric.WEIGHT_DELTA:
        deltas = {
            c.reveal.node: np.concatenate(
                [
                    (c.tensors[n].astype(np.float64) - base.tensors[n].astype(np.float64)).reshape(
                        -1
                    )
                    for n in sorted(base.layout)
                ]
            )
            for c in selected
        }
        quantised, _ = quantise_deltas(deltas)
        score: Callable[[Address, Address], int] = lambda a, b: weight_delta_similarity_ppm(  # noqa: E731
            quantised[a], quantised[b]
        )
    else:
        positions = {c.reveal.node: c.positions for c in selected}
        score = lambda a, b: behavioural_similarity_ppm(positions[a], positions[b])  # type: ignore[arg-type]  # noqa: E731
    out: dict[tuple[Address, Address], int] = {}
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            out[(a, b)] = score(a, b)
    return out


def raw_weight(c: Candidate, rules: MergeRules, score: Mapping[Address, int] | None = None) -> int:
    """Integer weight before cluster caps: 1, or the verified ROI — the record's score when
    `score` is given — shifted to be >= 1."""
    if rules.aggregation == Aggregation.MEAN_ROI:
        value = score[c.reveal.node] if score is not None else c.recomputed_roi_bps
        assert value is not None
        return max(1, value - rules.roi_min_bps + 1)
    return 1


def process_diversity(
    selected: Sequence[Candidate], base: BaseModelState, record: RoundRecord
) -> DiversityOutcome:
    """Step 4 of v1: the directive seed from the salts alone, ties by address."""
    seed = directive_seed(
        record.chain_id, record.contract, record.round, {r.node: r.salt for r in record.reveals}
    )
    return diversity_outcome(selected, base, record.rules, seed, address_tie_key)


def diversity_outcome(
    selected: Sequence[Candidate],
    base: BaseModelState,
    rules: MergeRules,
    seed: bytes,
    tie: TieKey,
    score: Mapping[Address, int] | None = None,
) -> DiversityOutcome:
    """Step 4. Similarity, clusters, capped weights and next round's exploration directives,
    drawn from `seed` for every member of a cluster but its best (ties by `tie`). Weights and a
    cluster's best follow the verified ROI, or `score` (the forward record's) when given."""
    nodes = [c.reveal.node for c in selected]
    sim = pairwise_similarity(selected, base, rules.similarity_metric)
    clusters = single_linkage_clusters(nodes, sim, rules.similarity_threshold_ppm)
    shares = cap_cluster_weights(
        {c.reveal.node: raw_weight(c, rules, score) for c in selected},
        clusters,
        rules.cluster_cap_ppm,
    )
    verified = (
        {c.reveal.node: c.recomputed_roi_bps or 0 for c in selected}
        if score is None
        else {c.reveal.node: score[c.reveal.node] for c in selected}
    )
    menu = directive_menu(base.config)
    directives: list[Directive] = []
    for members in clusters:
        if len(members) > 1:
            best = cluster_best(members, verified, tie)
            directives.extend(draw_directive(n, seed, menu) for n in members if n != best)
    return DiversityOutcome(
        similarity=[(a, b, v) for (a, b), v in sim.items()],
        clusters=clusters,
        shares=shares,
        weights=integer_weights(shares),
        seed=seed,
        directives=tuple(directives),
    )


# --- step 5: aggregate ----------------------------------------------------------------------


def process_aggregation(
    selected: Sequence[Candidate], weights: Mapping[Address, int], rules: MergeRules
) -> dict[str, NDArray[np.float32]]:
    """Step 5. The rule's method over the selected updates (arithmetic in `aggregate`)."""
    updates = {c.reveal.node: c.tensors for c in selected}
    if rules.aggregation == Aggregation.MEDIAN:
        return aggregate_median(updates)
    if rules.aggregation == Aggregation.TRIMMED_MEAN:
        return aggregate_trimmed_mean(updates, rules.trim_ppm)
    return aggregate_weighted_mean(updates, weights)


# --- step 6: manifest -----------------------------------------------------------------------


def directive_doc(d: Directive) -> dict[str, Any]:
    return {
        "node": d.node,
        "feature_set": d.feature_set,
        "lookback_scale": d.lookback_scale,
        "learning_rate_ppm": d.learning_rate_ppm,
        "epochs": d.epochs,
        "init_seed": str(d.init_seed),  # a string: 64-bit integers overflow many JSON readers
    }


def build_manifest(
    record: RoundRecord,
    reveals: Sequence[Reveal],
    benchmark: Benchmark,
    notes: Notes,
    diversity: DiversityOutcome | None,
    directives_in_force: Sequence[Directive],
    merged_digest: str,
    merged_cid: str,
    penalised: Sequence[Address],
) -> bytes:
    """Step 6. Canonical manifest bytes (schema in docs/merge.md)."""
    inputs = []
    for r in reveals:
        entry: dict[str, Any] = {
            "node": r.node,
            "cid": r.cid,
            "update_digest": r.update_digest,
            "base_digest": r.base_digest,
            "claimed_roi_bps": r.roi_bps,
            "salt": r.salt,
            "on_chain_outcome": int(r.outcome),
            "reason": notes.decisions[r.node].reason.value,
        }
        if r.node in notes.recomputed_roi_bps:
            entry["recomputed_roi_bps"] = notes.recomputed_roi_bps[r.node]
        if r.node in notes.norm_micro:
            entry["norm_micro"] = notes.norm_micro[r.node]
        inputs.append(entry)
    doc: dict[str, Any] = {
        "kind": MANIFEST_KIND,
        "version": MANIFEST_VERSION,
        "round": record.round,
        "chain_id": record.chain_id,
        "contract": record.contract,
        "base": {"round": record.base.round, "digest": record.base.digest, "cid": record.base.cid},
        "benchmark_id": benchmark.id,
        "rules": record.rules.model_dump(mode="json"),
        "directives_in_force": [
            directive_doc(d) for d in canonical_directives(directives_in_force)
        ],
        "inputs": inputs,
        "outcome": "kept_base" if diversity is None else "merged",
        "penalised": list(penalised),
        "merged": {"digest": merged_digest, "cid": merged_cid},
    }
    if diversity is not None:
        doc.update(diversity_doc(diversity))
        doc["directive_seed"] = "0x" + diversity.seed.hex()
    else:
        doc["directives"] = []
    return encode_manifest(doc)


def diversity_doc(diversity: DiversityOutcome) -> dict[str, Any]:
    """The manifest's similarity, clusters, weights and next round's directives."""
    return {
        "similarity": [[a, b, v] for a, b, v in diversity.similarity],
        "clusters": [list(c) for c in diversity.clusters],
        "weights": [
            {
                "node": n,
                "share": fraction_str(diversity.shares[n]),
                "share_ppm": diversity.shares[n].numerator * PPM // diversity.shares[n].denominator,
                "integer": diversity.weights[n],
            }
            for n in sorted(diversity.shares, key=canonical_address_key)
        ],
        "directives": [directive_doc(d) for d in diversity.directives],
    }


def canonical_directives(directives: Sequence[Directive]) -> list[Directive]:
    return sorted(directives, key=lambda d: canonical_address_key(d.node))


# --- the merge ------------------------------------------------------------------------------


def merge(
    record: RoundRecord,
    payloads: Mapping[str, bytes | None],
    base_weights: bytes,
    benchmark: Benchmark,
    directives: Sequence[Directive],
) -> MergeResult:
    """The deterministic merge of one round (DESIGN §3-4).

    @param record the round as the chain recorded it (rules, reveals with on-chain outcomes).
    @param payloads CID -> bytes fetched for it, or None when the content was unavailable; must
        have an entry for every reveal that reaches the content checks.
    @param base_weights canonical safetensors of the round's base model (digest checked).
    @param benchmark the benchmark the rules name (id checked unless the rule id is all zero).
    @param directives exploration directives assigned for this round by the previous manifest.
    @return merged weights, manifest, their digests/CIDs, decisions, penalised nodes, directives.
    @raises MergeInputError when the inputs do not belong to the record (never for bad updates).
    """
    base = process_base(record, base_weights)
    check_benchmark(record.rules, benchmark)
    reveals = canonical_reveals(record)
    assigned = {d.node.lower(): d for d in directives}
    notes = Notes()

    candidates = validate(reveals, payloads, base, record, assigned, notes)
    verified = verify_roi_claims(candidates, benchmark, record.rules, notes, base.config)
    selected = select(verified, record.rules, notes)

    diversity: DiversityOutcome | None = None
    if selected:
        diversity = process_diversity(selected, base, record)
        merged = process_aggregation(selected, diversity.weights, record.rules)
        merged_bytes = encode_weights(merged, base.metadata)
    else:
        merged_bytes = bytes(base_weights)  # zero accepted: the base model stays, byte for byte

    merged_digest, merged_cid = sha256_hex(merged_bytes), cid_for_bytes(merged_bytes)
    decisions = tuple(notes.decisions[r.node] for r in reveals)
    penalised = tuple(d.node for d in decisions if d.reason in PENALISED_REASONS)
    manifest = build_manifest(
        record, reveals, benchmark, notes, diversity, directives,
        merged_digest, merged_cid, penalised,
    )  # fmt: skip
    return MergeResult(
        merged_weights=merged_bytes,
        merged_digest=merged_digest,
        merged_cid=merged_cid,
        manifest=manifest,
        manifest_cid=cid_for_bytes(manifest),
        penalised=penalised,
        decisions=decisions,
        directives=diversity.directives if diversity else (),
        kept_base=diversity is None,
    )

"""The merge of a protocol-v2 round: a pure function of the record and the base manifest.

    merge_v2(record, base_weights, benchmark, prior) -> MergeResultV2

The v1 steps (flchain.merge.core) with the changes of docs/protocol.md §12, in this order:

    process_base_v2       the base bytes are the round's base (latest final model at S(r))
    check_prior           the base manifest's table has the base's settlement root
    compute_seed          seed(r) from every salt and the first valid beacon post (§6)
    validate_v2           per reveal: on-chain outcome (stale base included), payload read
                          from calldata, then v1's checks of the bytes and the binding (the
                          update names its own reveal: flchain.protocol.binding)
    verify_roi_claims     as v1
    select                as v1, ties by keccak(seed ‖ node)
    diversity_outcome     as v1, cluster-best ties by the same key, directives from seed(r)
    process_aggregation   as v1
    process_settlement    the cumulative table, its root and roundEarned (flchain.merge.settlement)
    build_manifest_v2     canonical JSON, manifest version 2

No I/O: the payloads are in the record, the prior table and directives come from the base
manifest the caller fetched (`prior_from_manifest`). No clock, environment or global RNG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flchain.hashing import sha256_hex
from flchain.market.benchmark import Benchmark
from flchain.merge.core import (
    BaseModelState,
    Candidate,
    Decision,
    DiversityOutcome,
    Notes,
    canonical_directives,
    check_benchmark_id,
    decode_base,
    directive_doc,
    diversity_doc,
    process_aggregation,
    select,
    validate_content,
    verify_roi_claims,
)
from flchain.merge.core import diversity_outcome as process_diversity
from flchain.merge.errors import MergeInputError
from flchain.merge.forward import (
    ForwardOutcome,
    ForwardRecord,
    ForwardRound,
    apply_scores,
    effective_norm_bound,
    process_forward_scores,
    record_scores,
    records_doc,
    records_from_doc,
)
from flchain.merge.manifest import MANIFEST_KIND, MANIFEST_VERSION_V2, encode_manifest
from flchain.merge.reasons import PENALISED_REASONS, Reason
from flchain.merge.seed import SeedOutcome, compute_seed, seed_tie_key
from flchain.merge.settlement import (
    SCORE_WINDOW_ROUNDS,
    Settlement,
    decode_manifest_v2,
    leaf_doc,
    manifest_leaves,
    process_settlement,
    settlement_root,
)
from flchain.protocol import digests as dg
from flchain.protocol.machine import RULES_ABI, Leaf, Result, RevealOutcome, RulesV2
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import Address, BeaconPost, Directive, RevealV2, canonical_address_key
from flchain.storage.cid import cid_for_bytes, cid_from_bytes, parse_cid
from flchain.storage.weights import encode_weights

__all__ = [
    "ForwardRound",
    "MergeResultV2",
    "PriorRound",
    "RevealInput",
    "merge_v2",
    "prior_from_manifest",
]

_ON_CHAIN_REASON = {
    RevealOutcome.REJECTED_ABNORMAL_ROI: Reason.REJECTED_ON_CHAIN_ABNORMAL_ROI,
    RevealOutcome.REJECTED_INELIGIBLE: Reason.REJECTED_ON_CHAIN_INELIGIBLE,
    RevealOutcome.REJECTED_STALE_BASE: Reason.REJECTED_ON_CHAIN_STALE_BASE,
}

#: ABI types of `Rules` whose values may exceed 2^53: decimal strings in the manifest.
_WIDE_TYPES = frozenset({"uint64", "uint128"})


class PriorRound(BaseModel):
    """What the v2 merge of round r reads from the base manifest (the latest final round before
    r): its cumulative settlement table and the directives it assigned. Genesis: neither."""

    model_config = ConfigDict(frozen=True)

    round: int = Field(ge=-1)  # the base's round, -1 for genesis
    directives: tuple[Directive, ...] = ()
    leaves: tuple[Leaf, ...] = ()  # by index
    #: the forward records (§15.4) the base manifest carried, canonical order
    forward_records: tuple[ForwardRecord, ...] = ()

    @classmethod
    def genesis(cls) -> PriorRound:
        return cls(round=-1)


def prior_from_manifest(manifest: bytes) -> PriorRound:
    """The prior of the next rounds from a v2 manifest's bytes (fetched by the base's manifest
    CID). @raises MergeInputError when it is not a v2 manifest or its table is malformed."""
    doc = decode_manifest_v2(manifest)
    try:
        directives = tuple(Directive.model_validate(d) for d in doc["directives"])
        records = records_from_doc(doc.get("forward", {}).get("records", []))
        return PriorRound(
            round=doc["round"],
            directives=directives,
            leaves=manifest_leaves(doc),
            forward_records=records,
        )
    except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError included
        raise MergeInputError(f"manifest round or directives are malformed: {exc}") from None


class MergeResultV2(BaseModel):
    """The outputs of a v2 merge. `result` is what nodes attest (`attest(r, result)`), its hash
    `result_hash`; `settlement.leaves` is the table every node settles from."""

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
    seed: SeedOutcome
    settlement: Settlement
    result: Result
    result_hash: bytes


# --- inputs ---------------------------------------------------------------------------------


def process_base_v2(record: RoundRecordV2, base_weights: bytes) -> BaseModelState:
    """The base bytes must be the round's base model (a caller error otherwise)."""
    digest = dg.sha256(base_weights)
    if digest != record.base.digest:
        raise MergeInputError(
            f"base weights digest 0x{digest.hex()} is not the round's base model "
            f"0x{record.base.digest.hex()}"
        )
    return decode_base(base_weights)


def check_prior(record: RoundRecordV2, prior: PriorRound) -> None:
    """The prior must be the base's: its round, and a table with the base's settlement root
    whose rows are the first registrations of this round's nodes (a caller error otherwise)."""
    if prior.round != record.base.round:
        raise MergeInputError(
            f"the prior table is of round {prior.round}, the base model of round {record.base.round}"
        )
    if record.base.round == -1:
        if prior.leaves or prior.directives or prior.forward_records:
            raise MergeInputError("the genesis base has no settlement table and no directives")
        return
    root = settlement_root(prior.leaves, record.chain_id, record.contract)
    if root != record.base.settlement_root:
        raise MergeInputError(
            f"the prior table has root 0x{root.hex()}, the base's settlement root is "
            f"0x{record.base.settlement_root.hex()}"
        )
    for position, leaf in enumerate(prior.leaves):
        if leaf.index != position:
            raise MergeInputError("the prior table's leaves are not listed by index 0 to n-1")
        if leaf.index >= len(record.nodes) or record.nodes[leaf.index].address != leaf.node:
            raise MergeInputError(f"prior leaf {leaf.index} ({leaf.node}) is not that registration")


@dataclass(frozen=True)
class RevealInput:
    """A v2 reveal as the shared steps read it (`core.RevealLike`): with its CID as a string,
    the raw-leaf CID of its digest (§5: the record carries no CID)."""

    reveal: RevealV2

    @property
    def node(self) -> Address:
        return self.reveal.node

    @property
    def roi_bps(self) -> int:
        return self.reveal.roi_bps

    @property
    def cid(self) -> str:
        return cid_string(dg.raw_leaf_cid(self.reveal.update_digest))


def cid_string(cid: bytes) -> str:
    return str(cid_from_bytes(cid))


def canonical_reveals_v2(record: RoundRecordV2) -> list[RevealV2]:
    """Reveals in canonical address order (the record holds one per node)."""
    return sorted(record.reveals, key=lambda r: canonical_address_key(r.node))


# --- step 1: validate -----------------------------------------------------------------------


def validate_reveal_v2(
    reveal: RevealV2,
    round: int,
    base: BaseModelState,
    norm_bound: int,
    directive: Directive | None,
) -> Candidate | tuple[Reason, str]:
    """One reveal of `round`: the contract's outcome, a payload the calldata carried, then the
    bytes, which must name this reveal (`flchain.protocol.binding`; `norm_bound`: the rules'
    bound on ‖update − base‖, relative to the base when set)."""
    if reveal.outcome != RevealOutcome.ACCEPTED:
        return _ON_CHAIN_REASON[reveal.outcome], "rejected by the contract at reveal"
    if reveal.payload is None:
        return Reason.PAYLOAD_UNREADABLE, "the reveal's transaction is not a reveal call"
    return validate_content(
        RevealInput(reveal), reveal.payload, base, norm_bound, directive, (reveal.node, round)
    )


def validate_v2(
    reveals: Sequence[RevealV2],
    round: int,
    base: BaseModelState,
    rules: RulesV2,
    directives: Mapping[str, Directive],
    notes: Notes,
) -> list[Candidate]:
    """Step 1. Candidates in canonical order; every other reveal gets its reason."""
    candidates: list[Candidate] = []
    bound = effective_norm_bound(rules, base)
    for reveal in reveals:
        directive = directives.get(reveal.node.lower())
        outcome = validate_reveal_v2(reveal, round, base, bound, directive)
        if isinstance(outcome, Candidate):
            notes.norm_micro[reveal.node] = outcome.norm_micro
            candidates.append(outcome)
        else:
            notes.decide(RevealInput(reveal), *outcome)
    return candidates


# --- manifest -------------------------------------------------------------------------------


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def rules_doc(rules: RulesV2) -> dict[str, Any]:
    """RulesV2 by field name: bytes as 0x-hex, 64- and 128-bit integers as decimal strings."""
    doc: dict[str, Any] = {}
    for name, _, abi_type in RULES_ABI:
        value = getattr(rules, name)
        if abi_type == "bytes32":
            doc[name] = _hex(value)
        elif abi_type in _WIDE_TYPES:
            doc[name] = str(value)
        else:
            doc[name] = int(value)
    return doc


def _post_doc(post: BeaconPost) -> dict[str, Any]:
    return {
        "node": post.node,
        "block_number": post.block_number,
        "log_index": post.log_index,
        "signature": _hex(post.signature),
    }


def seed_doc(seed: SeedOutcome) -> dict[str, Any]:
    return {
        "salts_hash": _hex(seed.salts_hash),
        "beacon_round": seed.beacon_round,
        "beacon_post": None if seed.post is None else _post_doc(seed.post),
        "refused_posts": [_post_doc(p) for p in seed.refused],
        "randomness": _hex(seed.randomness),
        "value": _hex(seed.value),
    }


def settlement_doc(settlement: Settlement) -> dict[str, Any]:
    return {
        "reserved": str(settlement.reserved),
        "round_earned": str(settlement.round_earned),
        "dust": str(settlement.dust),
        "earned": [{"node": n, "earned": str(v)} for n, v in settlement.earned.items()],
        "score_window_rounds": SCORE_WINDOW_ROUNDS,
        "leaves": [leaf_doc(leaf) for leaf in settlement.leaves],
        "root": _hex(settlement.root),
    }


def build_manifest_v2(
    record: RoundRecordV2,
    reveals: Sequence[RevealV2],
    benchmark: Benchmark,
    notes: Notes,
    seed: SeedOutcome,
    diversity: DiversityOutcome | None,
    directives_in_force: Sequence[Directive],
    settlement: Settlement,
    merged_digest: str,
    merged_cid: str,
    penalised: Sequence[Address],
    forward: dict[str, Any] | None = None,
) -> bytes:
    """Canonical manifest bytes, version 2 (schema in docs/merge.md); `forward`, with forward
    scoring on, is the round's forward section (`forward_doc`)."""
    inputs = []
    for r in reveals:
        entry: dict[str, Any] = {
            "node": r.node,
            "cid": RevealInput(r).cid,
            "update_digest": _hex(r.update_digest),
            "base_digest": _hex(r.base_digest),
            "claimed_roi_bps": r.roi_bps,
            "salt": _hex(r.salt),
            "on_chain_outcome": int(r.outcome),
            "block_number": r.block_number,
            "log_index": r.log_index,
            "payload_length": None if r.payload is None else len(r.payload),
            "reason": notes.decisions[r.node].reason.value,
        }
        if r.node in notes.recomputed_roi_bps:
            entry["recomputed_roi_bps"] = notes.recomputed_roi_bps[r.node]
        if r.node in notes.norm_micro:
            entry["norm_micro"] = notes.norm_micro[r.node]
        inputs.append(entry)
    base = record.base
    doc: dict[str, Any] = {
        "kind": MANIFEST_KIND,
        "version": MANIFEST_VERSION_V2,
        "round": record.round,
        "chain_id": record.chain_id,
        "contract": record.contract,
        "base": {
            "round": base.round,
            "digest": _hex(base.digest),
            "cid": cid_string(base.cid),
            "manifest_cid": None if base.manifest_cid is None else cid_string(base.manifest_cid),
            "settlement_root": _hex(base.settlement_root),
        },
        "benchmark_id": benchmark.id,
        "rules": rules_doc(record.rules),
        "directives_in_force": [
            directive_doc(d) for d in canonical_directives(directives_in_force)
        ],
        "seed": seed_doc(seed),
        "inputs": inputs,
        "outcome": "kept_base" if diversity is None else "merged",
        "penalised": list(penalised),
        "settlement": settlement_doc(settlement),
        "merged": {"digest": merged_digest, "cid": merged_cid},
    }
    doc.update(diversity_doc(diversity) if diversity is not None else {"directives": []})
    if forward is not None:
        doc["forward"] = forward
    return encode_manifest(doc)


def forward_doc(
    outcome: ForwardOutcome | None,
    records: Mapping[Address, ForwardRecord],
    scores: Mapping[Address, int],
) -> dict[str, Any]:
    """The manifest's forward section: the window scored in this merge (none before the first
    vote round), every node's score of it, and the records after it."""
    window: dict[str, Any] | None = None
    if outcome is not None:
        window = {
            "round": outcome.round,
            "window_hash": None if outcome.window_hash is None else _hex(outcome.window_hash),
            "status": outcome.status.value,
            "reason": outcome.reason,
            "base_roi_bps": outcome.base_roi_bps,
            "scores": [
                {
                    "node": s.node,
                    "excess_bps": s.excess_bps,
                    "reason": s.reason,
                    "roi_bps": s.roi_bps,
                }
                for s in outcome.scores
            ],
        }
    return {"window": window, "records": records_doc(records, scores)}


def check_forward(record: RoundRecordV2, forward: ForwardRound) -> None:
    """The forward input must be the round whose window is voted in this one (a caller error
    otherwise): same deployment, forward scoring on, round + lag = this round."""
    w = forward.record
    if (w.chain_id, w.contract) != (record.chain_id, record.contract):
        raise MergeInputError("the forward round is of another deployment")
    if w.rules.forward_bars == 0 or w.round + w.rules.forward_lag_rounds != record.round:
        raise MergeInputError(
            f"round {w.round}'s window is not voted in round {record.round} "
            f"(forwardBars {w.rules.forward_bars}, forwardLagRounds {w.rules.forward_lag_rounds})"
        )


def gate_by_record(
    verified: Sequence[Candidate],
    records: Mapping[Address, ForwardRecord],
    scores: Mapping[Address, int],
    rules: RulesV2,
    notes: Notes,
) -> list[Candidate]:
    """§15.4: a node in probation (fewer than `probationRounds` scored rounds) or whose record
    scores below `eligibilityMinScoreBps` is not merged (not penalised either)."""
    kept: list[Candidate] = []
    for c in verified:
        node = c.reveal.node
        scored = records[node].scored if node in records else 0
        if scored < rules.probation_rounds:
            notes.decide(
                c.reveal, Reason.PROBATION, f"{scored} of {rules.probation_rounds} scored rounds"
            )
        elif scores.get(node, 0) < rules.eligibility_min_score_bps:
            notes.decide(
                c.reveal,
                Reason.BELOW_RECORD,
                f"record {scores.get(node, 0)} < {rules.eligibility_min_score_bps} bps",
            )
        else:
            kept.append(c)
    return kept


# --- the merge ------------------------------------------------------------------------------


def merge_v2(
    record: RoundRecordV2,
    base_weights: bytes,
    benchmark: Benchmark,
    prior: PriorRound,
    forward: ForwardRound | None = None,
) -> MergeResultV2:
    """The deterministic merge of one v2 round (docs/protocol.md §12, docs/merge.md).

    @param record the round as the chain recorded it, payloads included.
    @param base_weights canonical safetensors of the round's base model (digest checked).
    @param benchmark the benchmark the rules name (id checked unless the rule id is all zero).
    @param prior the base manifest's table and directives (`prior_from_manifest`; genesis:
        `PriorRound.genesis()`), checked against the base's settlement root.
    @param forward with forward scoring on (the rules' forwardBars > 0, protocol.md §15): the
        round w whose window is voted in this one (w + forwardLagRounds = this round), whenever
        there is one — its scores update the records that rank, weigh, gate and pay.
    @return merged weights, manifest, settlement, the result to attest and its hash.
    @raises MergeInputError when the inputs do not belong to the record (never for bad updates).
    """
    rules = record.rules
    base = process_base_v2(record, base_weights)
    check_benchmark_id(_hex(rules.benchmark_id), benchmark)
    check_prior(record, prior)
    on = rules.forward_bars > 0
    outcome: ForwardOutcome | None = None
    if forward is not None:
        if not on:
            raise MergeInputError(f"round {record.round}'s rules score nothing forward")
        check_forward(record, forward)
        market = (
            None if benchmark.file is None else (benchmark.file.exchange, benchmark.file.symbol)
        )
        outcome = process_forward_scores(forward, market)
    prior_records = {r.node: r for r in prior.forward_records}
    records = apply_scores(prior_records, outcome, rules.forward_trail_rounds)
    scores = record_scores(records, rules)
    reveals = canonical_reveals_v2(record)
    seed = compute_seed(record)
    tie = seed_tie_key(seed.value)
    assigned = {d.node.lower(): d for d in prior.directives}
    notes = Notes()

    candidates = validate_v2(reveals, record.round, base, rules, assigned, notes)
    verified = verify_roi_claims(candidates, benchmark, rules, notes, base.config)
    ranking: dict[Address, int] | None = None
    if on:
        verified = gate_by_record(verified, records, scores, rules, notes)
        ranking = {c.reveal.node: scores.get(c.reveal.node, 0) for c in verified}
    selected = select(verified, rules, notes, tie, ranking)

    diversity: DiversityOutcome | None = None
    if selected:
        diversity = process_diversity(selected, base, rules, seed.value, tie, ranking)
        merged = process_aggregation(selected, diversity.weights, rules)
        merged_bytes = encode_weights(merged, base.metadata)
    else:
        merged_bytes = bytes(base_weights)  # zero accepted: the base model stays, byte for byte

    merged_digest, merged_cid = sha256_hex(merged_bytes), cid_for_bytes(merged_bytes)
    decisions = tuple(notes.decisions[r.node] for r in reveals)
    penalised = tuple(d.node for d in decisions if d.reason in PENALISED_REASONS)
    merged_nodes = {
        c.reveal.node: (diversity.weights[c.reveal.node], notes.recomputed_roi_bps[c.reveal.node])
        for c in selected
        if diversity is not None
    }
    settlement = process_settlement(
        record.round, record.chain_id, record.contract, record.nodes, prior.leaves,
        record.reserved, merged_nodes, penalised,
        {n: (r.scored, scores[n]) for n, r in records.items()} if on else None,
    )  # fmt: skip
    manifest = build_manifest_v2(
        record, reveals, benchmark, notes, seed, diversity, prior.directives, settlement,
        merged_digest, merged_cid, penalised,
        forward_doc(outcome, records, scores) if on else None,
    )  # fmt: skip
    manifest_cid = cid_for_bytes(manifest)
    result = Result(
        bytes.fromhex(merged_digest[2:]),
        parse_cid(merged_cid).to_bytes(),
        parse_cid(manifest_cid).to_bytes(),
        settlement.root,
        settlement.round_earned,
    )
    return MergeResultV2(
        merged_weights=merged_bytes,
        merged_digest=merged_digest,
        merged_cid=merged_cid,
        manifest=manifest,
        manifest_cid=manifest_cid,
        penalised=penalised,
        decisions=decisions,
        directives=diversity.directives if diversity else (),
        kept_base=diversity is None,
        seed=seed,
        settlement=settlement,
        result=result,
        result_hash=result.hash(record.chain_id, record.contract, record.round),
    )

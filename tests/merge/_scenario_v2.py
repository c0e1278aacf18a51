"""A seeded protocol-v2 round for the merge tests, built from the real model, market and storage
code (the v1 scenario's updates), a devnet beacon key and a prior settlement table.

`build_v2(updates, rules, ...)` gives a `RoundRecordV2` whose reveals carry their payloads, with
every registered node of the table and the base whose settlement root is the prior table's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from _scenario import ROUND, Update, _metadata, base_bytes, benchmark
from eth_utils import to_checksum_address

from flchain.market.benchmark import Benchmark
from flchain.merge.settlement import settlement_root
from flchain.merge.v2 import PriorRound
from flchain.protocol import digests as dg
from flchain.protocol.beacon import DevnetBeacon
from flchain.protocol.binding import compute_binding_metadata
from flchain.protocol.machine import Leaf, RulesV2
from flchain.protocol.machine import RevealOutcome as OutcomeV2
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import (
    BaseModelV2,
    BeaconParams,
    BeaconPost,
    Directive,
    RegisteredNode,
    RevealOutcome,
    RevealV2,
)
from flchain.storage.weights import encode_weights

CHAIN_ID = 31_337
CONTRACT = to_checksum_address("0x5FbDB2315678afecb367f032d93F642f64180aa3")
START = 1_000_000
COMMIT, REVEAL, BEACON_WINDOW, LENGTH = 400, 300, 100, 1_000
BEACON = DevnetBeacon(b"flchain/tests/merge/v2 beacon")
BEACON_PARAMS = BeaconParams(genesis=START - 100, period=3, delay=10, public_key=BEACON.public_key)
RESERVED = 10**18
PRIOR_MANIFEST_CID = dg.raw_leaf_cid(dg.sha256(b"the manifest of round 2"))

_OUTCOME = {
    RevealOutcome.ACCEPTED: OutcomeV2.ACCEPTED,
    RevealOutcome.REJECTED_ABNORMAL_ROI: OutcomeV2.REJECTED_ABNORMAL_ROI,
    RevealOutcome.REJECTED_INELIGIBLE: OutcomeV2.REJECTED_INELIGIBLE,
}


def same_positions(payload: bytes, tensors: dict[str, np.ndarray]) -> bytes:
    """A payload spoiler that is no fault: the output layer times 5/4 keeps every argmax, so
    the update holds the same positions (and has the same ROI) as the unscaled one."""
    scaled = {k: v * np.float32(1.25) if k.startswith("l2.") else v for k, v in tensors.items()}
    return encode_weights(scaled, _metadata(payload))


def v2_rules(**kw: object) -> RulesV2:
    defaults: dict[str, object] = {
        "fee_ppm": 1_000,
        "similarity_threshold_ppm": 990_000,
        "emission_wei": RESERVED,
    }
    defaults.update(kw)
    return RulesV2(**defaults)  # type: ignore[arg-type]


@dataclass
class UpdateV2:
    """A v1 scenario update revealed on a v2 chain: the contract's outcome and whether the
    payload could be read from calldata are the v2 knobs."""

    update: Update
    outcome: OutcomeV2 | None = None  # None: the v1 update's outcome
    unreadable: bool = False
    stale: bool = False
    address: str | None = None  # None: the v1 scenario's node(index)
    salt: bytes | None = None  # None: the v1 scenario's salt
    #: the (node, round) the payload names (protocol.md §5); None: its own reveal's
    bound_to: tuple[str, int] | None = None
    unbound: bool = False  # the payload names no reveal (as a v1 update or a global model)

    @property
    def node(self) -> str:
        return to_checksum_address(self.address or self.update.build()[0].node)


@dataclass
class World:
    """Everything a v2 merge of the scenario reads besides the record."""

    record: RoundRecordV2
    base: bytes
    benchmark: Benchmark
    prior: PriorRound
    labels: dict[str, str] = field(default_factory=dict)


def beacon_round() -> int:
    return _record(()).beacon_round


def valid_post(node: str, position: int = 10) -> BeaconPost:
    return BeaconPost(
        node=node,
        beacon_round=beacon_round(),
        signature=BEACON.sign(beacon_round()),
        block_number=position,
        log_index=0,
    )


def invalid_post(node: str, position: int = 9) -> BeaconPost:
    """A well-formed signature by the right key, of another beacon round: refused."""
    return BeaconPost(
        node=node,
        beacon_round=beacon_round(),
        signature=BEACON.sign(beacon_round() + 1),
        block_number=position,
        log_index=0,
    )


def binding_of(u: UpdateV2) -> dict[str, str]:
    if u.unbound:
        return {}
    return compute_binding_metadata(*(u.bound_to or (u.node, ROUND)))


def reveal_v2(u: UpdateV2, position: int) -> RevealV2:
    metadata = u.update.extra_metadata | binding_of(u)
    v1, payload = replace(u.update, extra_metadata=metadata).build()
    outcome = u.outcome if u.outcome is not None else _OUTCOME[v1.outcome]
    base = dg.sha256(b"another base") if u.stale else bytes.fromhex(v1.base_digest[2:])
    if u.stale:
        outcome = OutcomeV2.REJECTED_STALE_BASE
    return RevealV2(
        node=u.node,
        update_digest=v1.update_digest,
        base_digest=base,
        roi_bps=v1.roi_bps,
        salt=u.salt or v1.salt,
        outcome=outcome,
        block_number=5,
        log_index=position,
        payload=None if u.unreadable else payload,
    )


def prior_leaves(nodes: Sequence[str]) -> tuple[Leaf, ...]:
    """A prior cumulative table: history on every second node, a past penalty on some."""
    leaves = []
    for i, n in enumerate(nodes):
        if i % 2 == 0:
            leaves.append(Leaf(n, i))
            continue
        penalised = i % 3 == 1
        leaves.append(
            Leaf(
                n,
                i,
                cum_earned=(i + 1) * 10**15,
                cum_penalties=int(penalised),
                merged_rounds=i + 1,
                last_penalty_round=ROUND - 1 if penalised else 0,
                score_bps=50 * i,
            )
        )
    return tuple(leaves)


def _record(
    reveals: Iterable[RevealV2],
    *,
    rules: RulesV2 | None = None,
    nodes: Sequence[str] = (),
    prior: Sequence[Leaf] = (),
    posts: Sequence[BeaconPost] = (),
    reserved: int = RESERVED,
    genesis: bool = False,
) -> RoundRecordV2:
    base = base_bytes()
    root = settlement_root(prior, CHAIN_ID, CONTRACT)
    return RoundRecordV2(
        round=ROUND,
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        start=START,
        commit_end=START + COMMIT,
        reveal_end=START + COMMIT + REVEAL,
        attest_open=START + COMMIT + REVEAL + BEACON_WINDOW,
        deadline=START + LENGTH,
        rules=rules or v2_rules(),
        beacon=BEACON_PARAMS,
        reserved=reserved,
        nodes=tuple(RegisteredNode(address=n, index=i) for i, n in enumerate(nodes)),
        base=BaseModelV2(
            round=-1 if genesis else ROUND - 1,
            digest=dg.sha256(base),
            cid=dg.raw_leaf_cid(dg.sha256(base)),
            manifest_cid=None if genesis else PRIOR_MANIFEST_CID,
            settlement_root=dg.ZERO32 if genesis else root,
        ),
        reveals=tuple(reveals),
        beacon_posts=tuple(posts),
    )


def build_v2(
    updates: Sequence[UpdateV2],
    rules: RulesV2 | None = None,
    *,
    posts: Sequence[BeaconPost] | None = None,
    extra_nodes: Sequence[str] = (),
    directives: Sequence[Directive] = (),
    reserved: int = RESERVED,
    genesis: bool = False,
) -> World:
    """The round of `updates`; every revealer and `extra_nodes` registered (sorted by how
    the scenario numbers them, then the extras), a prior table over all but the last two
    registrations (they joined after the base round), a valid beacon post by the first
    revealer unless `posts` says otherwise."""
    reveals = [reveal_v2(u, i) for i, u in enumerate(updates)]
    nodes = [r.node for r in reveals] + [to_checksum_address(n) for n in extra_nodes]
    table = () if genesis else prior_leaves(nodes[: max(0, len(nodes) - 2)])
    if posts is None:
        posts = [valid_post(nodes[0])] if nodes else []
    record = _record(
        reveals,
        rules=rules,
        nodes=nodes,
        prior=table,
        posts=posts,
        reserved=reserved,
        genesis=genesis,
    )
    prior = PriorRound(round=record.base.round, directives=tuple(directives), leaves=table)
    return World(record, base_bytes(), benchmark(), prior)

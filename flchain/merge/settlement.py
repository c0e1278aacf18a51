"""Settlement, the last step of the v2 merge (docs/protocol.md §8, docs/merge.md "Settlement").

The cumulative table of round r: one `Leaf` per node registered before S(r), by index, starting
from the table of the base manifest (zeros for a node without a prior leaf) and adding round r:

- a merged node (selected and aggregated) earns `floor(reserved · w / Σw)` with the merge's
  integer weights, `mergedRounds += 1`, and its score moves toward its verified ROI
  (`next_score`);
- a penalised node gets `cumPenalties += 1` and `lastPenaltyRound = r + 1`;
- every other row is carried over unchanged.

`roundEarned = Σ earned ≤ reserved`; the dust stays in the pool. The root is the depth-16 tree of
`flchain.protocol.merkle` over the leaf hashes. Every figure is an integer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from eth_utils import to_checksum_address

from flchain.merge.errors import MergeInputError
from flchain.merge.manifest import MANIFEST_KIND, MANIFEST_VERSION_V2
from flchain.protocol.machine import Leaf
from flchain.protocol.merkle import SettlementTree
from flchain.protocol.types import Address, RegisteredNode, canonical_address_key

__all__ = [
    "SCORE_WINDOW_ROUNDS",
    "Settlement",
    "find_settlement_proof",
    "leaf_doc",
    "leaf_from_doc",
    "next_score",
    "process_settlement",
    "round_earnings",
    "settlement_proof",
    "settlement_root",
]

#: The score is the mean verified ROI of a node's first merged rounds, then a trailing average
#: in which each new round weighs 1/SCORE_WINDOW_ROUNDS: a bad spell is forgotten in a few
#: rounds (records recover, §9), and one round cannot lift a poor record past the gate.
SCORE_WINDOW_ROUNDS: Final = 8

#: Manifests whose checked table `settlement_proof` keeps (the last final rounds').
_TABLES_KEPT: Final = 4


def next_score(score_bps: int, merged_rounds: int, roi_bps: int) -> int:
    """The score after one more merged round with verified ROI `roi_bps`.

    n = min(merged_rounds + 1, SCORE_WINDOW_ROUNDS); the score moves |roi − score| // n toward
    roi (truncated toward the old score, so it never overshoots and never leaves the range of
    the ROIs it has seen). The first merged round sets it to roi exactly."""
    n = min(merged_rounds + 1, SCORE_WINDOW_ROUNDS)
    step = abs(roi_bps - score_bps) // n
    return score_bps + step if roi_bps >= score_bps else score_bps - step


def round_earnings(reserved: int, weights: Mapping[Address, int]) -> dict[Address, int]:
    """floor(reserved · w / Σw) per merged node, by the merge's integer weights."""
    total = sum(weights.values())
    return {n: reserved * w // total for n, w in weights.items()} if total else {}


@dataclass(frozen=True)
class Settlement:
    """The settlement of one round: the table, its root, and what the round pays."""

    leaves: tuple[Leaf, ...]  # by index
    root: bytes
    reserved: int
    earned: dict[Address, int]  # merged nodes only
    round_earned: int

    @property
    def dust(self) -> int:
        return self.reserved - self.round_earned


def settlement_root(leaves: Sequence[Leaf], chain_id: int, contract: Address) -> bytes:
    return settlement_tree(leaves, chain_id, contract).root


def settlement_tree(leaves: Sequence[Leaf], chain_id: int, contract: Address) -> SettlementTree:
    return SettlementTree({leaf.index: leaf.hash(chain_id, contract) for leaf in leaves})


def process_settlement(
    round: int,
    chain_id: int,
    contract: Address,
    nodes: Sequence[RegisteredNode],
    prior: Sequence[Leaf],
    reserved: int,
    merged: Mapping[Address, tuple[int, int]],
    penalised: Sequence[Address],
    records: Mapping[Address, tuple[int, int]] | None = None,
) -> Settlement:
    """The cumulative table after round `round`.

    @param nodes every node registered before S(round), by index (the table's rows)
    @param prior the base's table, by index (a prefix of `nodes`: later registrations have none)
    @param merged node -> (integer weight, verified ROI bps) of every merged node
    @param penalised the nodes the merge penalised
    @param records with forward scoring on (protocol.md §15.4): node -> (scored rounds, record
        score) of every node with a forward record; its leaf carries them as `mergedRounds`
        and `scoreBps`, and merging no longer moves either
    """
    earned = round_earnings(reserved, {n: w for n, (w, _) in merged.items()})
    punished = set(penalised)
    leaves = []
    for row in nodes:
        leaf = prior[row.index] if row.index < len(prior) else Leaf(row.address, row.index)
        if row.address in merged and records is not None:
            leaf = replace(leaf, cum_earned=leaf.cum_earned + earned[row.address])
        elif row.address in merged:
            leaf = replace(
                leaf,
                cum_earned=leaf.cum_earned + earned[row.address],
                merged_rounds=leaf.merged_rounds + 1,
                score_bps=next_score(leaf.score_bps, leaf.merged_rounds, merged[row.address][1]),
            )
        if records is not None and row.address in records:
            scored, score = records[row.address]
            leaf = replace(leaf, merged_rounds=scored, score_bps=score)
        if row.address in punished:
            leaf = replace(leaf, cum_penalties=leaf.cum_penalties + 1, last_penalty_round=round + 1)
        leaves.append(leaf)
    table = tuple(leaves)
    ordered = {n: earned[n] for n in sorted(earned, key=canonical_address_key)}
    return Settlement(
        leaves=table,
        root=settlement_root(table, chain_id, contract),
        reserved=reserved,
        earned=ordered,
        round_earned=sum(earned.values()),
    )


# --- the manifest's table -------------------------------------------------------------------


def leaf_doc(leaf: Leaf) -> dict[str, Any]:
    """A leaf as the manifest writes it (`cum_earned` in wei as a decimal string)."""
    return {
        "node": leaf.node,
        "index": leaf.index,
        "cum_earned": str(leaf.cum_earned),
        "cum_penalties": leaf.cum_penalties,
        "merged_rounds": leaf.merged_rounds,
        "last_penalty_round": leaf.last_penalty_round,
        "score_bps": leaf.score_bps,
    }


def leaf_from_doc(doc: Mapping[str, Any]) -> Leaf:
    """A manifest leaf back (the inverse of `leaf_doc`); MergeInputError if malformed."""
    try:
        return Leaf(
            node=to_checksum_address(str(doc["node"])),
            index=_int(doc["index"]),
            cum_earned=int(str(doc["cum_earned"]), 10),
            cum_penalties=_int(doc["cum_penalties"]),
            merged_rounds=_int(doc["merged_rounds"]),
            last_penalty_round=_int(doc["last_penalty_round"]),
            score_bps=_int(doc["score_bps"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MergeInputError(f"manifest leaf is malformed: {exc}") from None


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    return value


def decode_manifest_v2(data: bytes) -> dict[str, Any]:
    """A v2 manifest's document; MergeInputError if it is not one."""
    try:
        doc = json.loads(data.decode("ascii"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MergeInputError(f"manifest is not canonical JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != MANIFEST_KIND:
        raise MergeInputError("not a flchain merge manifest")
    if doc.get("version") != MANIFEST_VERSION_V2:
        raise MergeInputError(
            f"manifest version {doc.get('version')!r} is not {MANIFEST_VERSION_V2} (protocol v2)"
        )
    return doc


def manifest_leaves(doc: Mapping[str, Any]) -> tuple[Leaf, ...]:
    """The table of a decoded v2 manifest, by index (MergeInputError if it is not 0…n−1)."""
    try:
        leaves = tuple(leaf_from_doc(d) for d in doc["settlement"]["leaves"])
    except (KeyError, TypeError) as exc:
        raise MergeInputError(f"manifest has no settlement table: {exc}") from None
    if [leaf.index for leaf in leaves] != list(range(len(leaves))):
        raise MergeInputError("manifest leaves are not listed by index 0 to n-1")
    return leaves


def settlement_proof(manifest: bytes, node: Address) -> tuple[Leaf, tuple[bytes, ...]]:
    """What `settle(leaf, proof)` needs for `node`, from the manifest of a final round.

    The tree is rebuilt from every leaf of the manifest and must have the root the manifest
    states (a caller settling against the chain also checks that root is `latest()`'s).
    @raises MergeInputError when the manifest is not v2, its table does not have its root, or
        `node` has no leaf in it.
    """
    table = _table(bytes(manifest))
    found = _proof(table, node)
    if found is None:
        wanted = to_checksum_address(node)
        raise MergeInputError(f"{wanted} has no leaf in the manifest of round {table.round}")
    return found


def find_settlement_proof(manifest: bytes, node: Address) -> tuple[Leaf, tuple[bytes, ...]] | None:
    """`settlement_proof`, or None when `node` has no leaf in the manifest (it registered after
    that round started). @raises MergeInputError as `settlement_proof` for a bad manifest."""
    table = _table(bytes(manifest))
    if to_checksum_address(node) not in table.by_node:
        return None
    return _proof(table, node)


@dataclass(frozen=True)
class _Table:
    round: Any
    by_node: Mapping[str, Leaf]
    tree: SettlementTree
    stated_root: str


def _proof(table: _Table, node: Address) -> tuple[Leaf, tuple[bytes, ...]] | None:
    if "0x" + table.tree.root.hex() != table.stated_root:
        raise MergeInputError(
            f"manifest leaves have root 0x{table.tree.root.hex()}, it states {table.stated_root}"
        )
    leaf = table.by_node.get(to_checksum_address(node))
    return None if leaf is None else (leaf, table.tree.proof(leaf.index))


@lru_cache(maxsize=_TABLES_KEPT)
def _table(manifest: bytes) -> _Table:
    """A v2 manifest's table and tree: a pure function of its bytes, memoised because every
    node of a federation settles against the same manifest (one tree per node made settling
    a round cost O(nodes²))."""
    doc = decode_manifest_v2(manifest)
    leaves = manifest_leaves(doc)
    tree = settlement_tree(leaves, int(doc["chain_id"]), str(doc["contract"]))
    by_node = MappingProxyType({leaf.node: leaf for leaf in leaves})
    return _Table(doc["round"], by_node, tree, str(doc["settlement"]["root"]))

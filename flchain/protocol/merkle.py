"""The settlement tree of docs/protocol.md §8: fixed depth, positional, sparse.

Leaf `i` is the hash (`digests.leaf_hash`) of the node registered `i`-th. An empty subtree, of
any height, is the zero word `EMPTY`; a parent is `keccak256(left ‖ right)` by position (never
sorted pairs: a proof is bound to its index), except that two empty children make an empty
parent. A proof is the `TREE_DEPTH` sibling hashes, leaf level first — the contract's
`bytes32[16]` — and every sibling above the populated part of the tree is the zero word, which
costs 4 gas a calldata byte where any other hash costs 16 (§8: ~384 gas a height).

The contract needs nothing of this rule: it hashes `keccak256(node ‖ sibling)` up the path, and a
node on the path of a leaf is never the zero word (it is a keccak output), so its parent is the
keccak of the pair here too. An empty subtree cannot be passed off as a leaf's: that needs a
keccak preimage of zero. Building costs O(n · TREE_DEPTH) hashes for n leaves, whatever their
positions; nothing ever walks the 2¹⁶ positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from flchain.protocol.digests import ZERO32, keccak

__all__ = [
    "EMPTY",
    "TREE_DEPTH",
    "TREE_SIZE",
    "SettlementTree",
    "merkle_root",
    "verify_proof",
]

TREE_DEPTH: Final = 16
TREE_SIZE: Final = 1 << TREE_DEPTH  # leaf positions, hence the most registrations ever

#: The hash of an empty position and of every empty subtree, the empty tree's root included.
EMPTY: Final = ZERO32


def _check_index(index: int) -> None:
    if not 0 <= index < TREE_SIZE:
        raise ValueError(f"leaf index {index} outside [0, {TREE_SIZE})")


class SettlementTree:
    """A sparse positional tree over {index: leaf hash}; every level kept for proofs."""

    def __init__(self, leaves: Mapping[int, bytes]) -> None:
        level: dict[int, bytes] = {}
        for index, leaf in leaves.items():
            _check_index(index)
            if len(leaf) != 32:
                raise ValueError(f"leaf {index} must be 32 bytes, got {len(leaf)}")
            if leaf == EMPTY:
                raise ValueError(f"leaf {index} is the empty word, which no leaf hash is")
            level[index] = bytes(leaf)
        # A level holds only non-empty nodes, so each parent built here has a non-empty child
        # and is a keccak; every position a level lacks is an empty subtree, `EMPTY`.
        self._levels: list[dict[int, bytes]] = [level]
        for _ in range(TREE_DEPTH):
            parents: dict[int, bytes] = {}
            for parent in sorted({i >> 1 for i in level}):
                left = level.get(2 * parent, EMPTY)
                right = level.get(2 * parent + 1, EMPTY)
                parents[parent] = keccak(left + right)
            level = parents
            self._levels.append(level)

    @property
    def root(self) -> bytes:
        return self._levels[TREE_DEPTH].get(0, EMPTY)

    def proof(self, index: int) -> tuple[bytes, ...]:
        """The `TREE_DEPTH` siblings of position `index`, leaf level first (`EMPTY` for an
        empty sibling subtree). Only an occupied position's proof verifies."""
        _check_index(index)
        return tuple(
            self._levels[height].get((index >> height) ^ 1, EMPTY) for height in range(TREE_DEPTH)
        )


def merkle_root(leaves: Mapping[int, bytes]) -> bytes:
    """Root of the tree with `leaves` ({index: leaf hash}) and every other position empty."""
    return SettlementTree(leaves).root


def verify_proof(root: bytes, index: int, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Whether `proof` (leaf level first) places `leaf` at position `index` under `root` —
    exactly the contract's check: bit k of `index` says whether the node at height k is a
    right child, and every step is a keccak (the path of a leaf is never empty)."""
    if not 0 <= index < TREE_SIZE or len(proof) != TREE_DEPTH:
        return False
    node = leaf
    for height, sibling in enumerate(proof):
        is_right = (index >> height) & 1
        node = keccak(sibling + node) if is_right else keccak(node + sibling)
    return node == root

"""The settlement tree of docs/protocol.md §8: fixed depth, positional, sparse.

Leaf `i` is the hash (`digests.leaf_hash`) of the node registered `i`-th; an empty position is
`Z₀ = bytes32(0)`, an empty subtree of height k+1 is `Z_{k+1} = keccak256(Z_k ‖ Z_k)`, and a
parent is `keccak256(left ‖ right)` by position (never sorted pairs: a proof is bound to its
index). A proof is the `TREE_DEPTH` sibling hashes, leaf level first — the contract's
`bytes32[16]`. Building costs O(n · TREE_DEPTH) hashes for n leaves, whatever their positions;
nothing ever walks the 2¹⁶ positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from flchain.protocol.digests import ZERO32, keccak

__all__ = [
    "TREE_DEPTH",
    "TREE_SIZE",
    "ZERO_HASHES",
    "SettlementTree",
    "merkle_root",
    "verify_proof",
]

TREE_DEPTH: Final = 16
TREE_SIZE: Final = 1 << TREE_DEPTH  # leaf positions, hence the most registrations ever


def _zero_hashes() -> tuple[bytes, ...]:
    out = [ZERO32]
    for _ in range(TREE_DEPTH):
        out.append(keccak(out[-1] + out[-1]))
    return tuple(out)


#: `ZERO_HASHES[k]` is the root of an empty subtree of height k; `ZERO_HASHES[TREE_DEPTH]` is
#: the root of the empty tree.
ZERO_HASHES: Final = _zero_hashes()


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
            level[index] = bytes(leaf)
        self._levels: list[dict[int, bytes]] = [level]
        for height in range(TREE_DEPTH):
            zero = ZERO_HASHES[height]
            parents: dict[int, bytes] = {}
            for parent in sorted({i >> 1 for i in level}):
                left = level.get(2 * parent, zero)
                right = level.get(2 * parent + 1, zero)
                parents[parent] = keccak(left + right)
            level = parents
            self._levels.append(level)

    @property
    def root(self) -> bytes:
        return self._levels[TREE_DEPTH].get(0, ZERO_HASHES[TREE_DEPTH])

    def proof(self, index: int) -> tuple[bytes, ...]:
        """The `TREE_DEPTH` siblings of position `index`, leaf level first (any position,
        empty ones included: an empty position's proof verifies `ZERO32`)."""
        _check_index(index)
        return tuple(
            self._levels[height].get((index >> height) ^ 1, ZERO_HASHES[height])
            for height in range(TREE_DEPTH)
        )


def merkle_root(leaves: Mapping[int, bytes]) -> bytes:
    """Root of the tree with `leaves` ({index: leaf hash}) and every other position empty."""
    return SettlementTree(leaves).root


def verify_proof(root: bytes, index: int, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Whether `proof` (leaf level first) places `leaf` at position `index` under `root` —
    exactly the contract's check: bit k of `index` says whether the node at height k is a
    right child."""
    if not 0 <= index < TREE_SIZE or len(proof) != TREE_DEPTH:
        return False
    node = leaf
    for height, sibling in enumerate(proof):
        is_right = (index >> height) & 1
        node = keccak(sibling + node) if is_right else keccak(node + sibling)
    return node == root

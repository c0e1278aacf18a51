"""flchain.protocol.merkle: the §8 settlement tree, against a second implementation and the EVM.

The committed merkle.json is a fresh build; every proof in it verifies in `Probe.sol` (the loop
`settle` runs); roots of random sparse trees equal a recursive reference that descends only into
non-empty subtrees, and every sibling above the populated part of a tree is the zero word.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flchain.protocol import digests as dg
from flchain.protocol.merkle import (
    TREE_DEPTH,
    TREE_SIZE,
    SettlementTree,
    merkle_root,
    verify_proof,
)

VECTORS = Path(__file__).resolve().parent / "vectors"
if str(VECTORS) not in sys.path:
    sys.path.insert(0, str(VECTORS))

import protocol_vectors  # noqa: E402
from evm_probe import probe  # noqa: E402

DOC: dict[str, Any] = json.loads((VECTORS / "merkle.json").read_text())


def b(x: str) -> bytes:
    return bytes.fromhex(x[2:])


def reference_root(leaves: Mapping[int, bytes], height: int = TREE_DEPTH, first: int = 0) -> bytes:
    """Root of the subtree of `height` whose leftmost leaf is `first`, by recursion."""
    if not any(first <= i < first + (1 << height) for i in leaves):
        return dg.ZERO32  # an empty subtree, of any height
    if height == 0:
        return leaves[first]
    half = 1 << (height - 1)
    return dg.keccak(
        reference_root(leaves, height - 1, first) + reference_root(leaves, height - 1, first + half)
    )


def test_committed_vectors_are_a_fresh_build() -> None:
    fresh = protocol_vectors.text(protocol_vectors.build_merkle())
    assert (VECTORS / "merkle.json").read_text() == fresh, "merkle.json is stale: regenerate"


def test_an_empty_subtree_is_the_zero_word() -> None:
    assert int(DOC["depth"]) == TREE_DEPTH == 16
    assert b(DOC["empty"]) == dg.ZERO32
    assert merkle_root({}) == dg.ZERO32
    leaf = dg.keccak(b"leaf")
    # one leaf at 0: all sixteen siblings are empty, and the root is the leaf hashed up with zeros
    node = leaf
    for _ in range(TREE_DEPTH):
        node = dg.keccak(node + dg.ZERO32)
    tree = SettlementTree({0: leaf})
    assert tree.proof(0) == (dg.ZERO32,) * TREE_DEPTH
    assert tree.root == node
    # the old rule's Z_1 = keccak(0 ‖ 0) appears nowhere: two empty children make an empty parent
    assert dg.keccak(dg.ZERO32 * 2) not in tree.proof(0)


def test_siblings_above_the_populated_part_are_zero_words() -> None:
    """What the rule is for: a tree of n contiguous leaves (the registry) sends zero words for
    every height above ⌈log₂ n⌉, 4 gas a byte in calldata instead of 16."""
    for n in (1, 2, 3, 100, 1000):
        leaves = {i: dg.keccak(i.to_bytes(4, "big")) for i in range(n)}
        tree = SettlementTree(leaves)
        populated = max(1, (n - 1).bit_length())
        for index in (0, n // 2, n - 1):
            proof = tree.proof(index)
            assert all(p == dg.ZERO32 for p in proof[populated:]), (n, index)
            nonzero = [h for h, p in enumerate(proof) if p != dg.ZERO32]
            assert all(h < populated for h in nonzero)
            # a sibling is empty exactly when its subtree holds no leaf
            for h, p in enumerate(proof):
                first = ((index >> h) ^ 1) << h
                assert (p == dg.ZERO32) == (first >= n), (n, index, h)


def test_every_committed_proof_verifies_in_the_evm_and_nothing_else_does() -> None:
    verify = probe().functions.verify
    for tree in DOC["trees"]:
        leaves = {int(x["index"]): b(x["leaf"]) for x in tree["leaves"]}
        root = b(tree["root"])
        assert merkle_root(leaves) == reference_root(leaves) == root
        assert [int(p["index"]) for p in tree["proofs"]] == sorted(leaves)
        for p in tree["proofs"]:
            index, leaf, proof = int(p["index"]), b(p["leaf"]), [b(x) for x in p["proof"]]
            assert verify(root, index, leaf, proof).call()
            assert verify_proof(root, index, leaf, proof)
            other = index ^ 1
            assert not verify(root, other, leaf, proof).call()
            assert not verify_proof(root, other, leaf, proof)
            forged = bytes([leaf[0] ^ 1]) + leaf[1:]
            assert not verify(root, index, forged, proof).call()
            assert not verify_proof(root, index, forged, proof)


def test_an_empty_position_proves_nothing() -> None:
    """Under the old rule an empty position's proof proved Z₀; now no proof places the zero word
    anywhere, because the path of a position is hashed with keccak at every height."""
    leaves = {0: dg.keccak(b"a"), 1: dg.keccak(b"b")}
    tree = SettlementTree(leaves)
    for index in (2, 3, 255):
        assert not verify_proof(tree.root, index, dg.ZERO32, tree.proof(index))
        verify = probe().functions.verify
        assert not verify(tree.root, index, dg.ZERO32, list(tree.proof(index))).call()


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.integers(0, TREE_SIZE - 1),
        st.binary(min_size=32, max_size=32).filter(lambda x: x != dg.ZERO32),  # never a leaf hash
        max_size=24,
    )
)
def test_roots_and_proofs_agree_with_a_recursive_reference(leaves: dict[int, bytes]) -> None:
    tree = SettlementTree(leaves)
    assert tree.root == reference_root(leaves)
    for index, leaf in leaves.items():
        proof = tree.proof(index)
        assert len(proof) == TREE_DEPTH
        assert verify_proof(tree.root, index, leaf, proof)
        if index + 1 < TREE_SIZE and index + 1 not in leaves:
            assert not verify_proof(tree.root, index + 1, leaf, proof)


def test_a_proof_is_bound_to_its_position() -> None:
    leaf = dg.keccak(b"leaf")
    for index in (0, 1, 2, 255, TREE_SIZE - 1):
        tree = SettlementTree({index: leaf})
        others = {0, 1, 2, 255, TREE_SIZE - 1} - {index}
        assert all(not verify_proof(tree.root, o, leaf, tree.proof(index)) for o in others)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="index"):
        SettlementTree({TREE_SIZE: dg.ZERO32})
    with pytest.raises(ValueError, match="32 bytes"):
        SettlementTree({0: b"\x00" * 31})
    with pytest.raises(ValueError, match="empty word"):
        SettlementTree({0: dg.ZERO32})
    root = merkle_root({0: dg.keccak(b"x")})
    assert not verify_proof(root, 0, dg.keccak(b"x"), [dg.ZERO32] * (TREE_DEPTH - 1))
    assert not verify_proof(root, -1, dg.keccak(b"x"), [dg.ZERO32] * TREE_DEPTH)

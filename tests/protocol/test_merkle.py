"""flchain.protocol.merkle: the §8 settlement tree, against a second implementation and the EVM.

The committed merkle.json is a fresh build; its zero hashes and every proof verify in
`Probe.sol` (the loop `settle` runs); roots of random sparse trees equal a recursive reference
that descends only into non-empty subtrees.
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
    ZERO_HASHES,
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
        return ZERO_HASHES[height]
    if height == 0:
        return leaves[first]
    half = 1 << (height - 1)
    return dg.keccak(
        reference_root(leaves, height - 1, first) + reference_root(leaves, height - 1, first + half)
    )


def test_committed_vectors_are_a_fresh_build() -> None:
    fresh = protocol_vectors.text(protocol_vectors.build_merkle())
    assert (VECTORS / "merkle.json").read_text() == fresh, "merkle.json is stale: regenerate"


def test_zero_hashes_are_the_contracts() -> None:
    assert int(DOC["depth"]) == TREE_DEPTH == 16
    assert ZERO_HASHES[0] == dg.ZERO32
    assert [b(z) for z in DOC["zeroHashes"]] == list(ZERO_HASHES)
    assert list(probe().functions.zeroHashes().call()) == list(ZERO_HASHES)
    assert merkle_root({}) == ZERO_HASHES[TREE_DEPTH]


def test_every_committed_proof_verifies_in_the_evm_and_nothing_else_does() -> None:
    verify = probe().functions.verify
    for tree in DOC["trees"]:
        leaves = {int(x["index"]): b(x["leaf"]) for x in tree["leaves"]}
        root = b(tree["root"])
        assert merkle_root(leaves) == reference_root(leaves) == root
        for p in tree["proofs"]:
            index, leaf, proof = int(p["index"]), b(p["leaf"]), [b(x) for x in p["proof"]]
            assert verify(root, index, leaf, proof).call()
            assert verify_proof(root, index, leaf, proof)
            if leaf == dg.ZERO32:
                continue  # an empty position (never a leaf hash): two empty siblings look alike
            other = index ^ 1
            assert not verify(root, other, leaf, proof).call()
            assert not verify_proof(root, other, leaf, proof)
            forged = bytes([leaf[0] ^ 1]) + leaf[1:]
            assert not verify(root, index, forged, proof).call()
            assert not verify_proof(root, index, forged, proof)


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
    root = merkle_root({0: dg.keccak(b"x")})
    assert not verify_proof(root, 0, dg.keccak(b"x"), [dg.ZERO32] * (TREE_DEPTH - 1))
    assert not verify_proof(root, -1, dg.keccak(b"x"), [dg.ZERO32] * TREE_DEPTH)

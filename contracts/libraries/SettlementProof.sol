// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title SettlementProof — the fixed-depth positional Merkle proof of docs/protocol.md §8
/// @notice Leaf `i` of a TREE_DEPTH tree; a parent is keccak256(left ‖ right) by position, never
///         a sorted pair, so a proof is bound to its index. The proof is the TREE_DEPTH siblings,
///         leaf level first; bit k of the index says whether the node at height k is a right
///         child. `flchain.protocol.merkle` builds the trees; tests/protocol/vectors/merkle.json
///         pins both sides.
library SettlementProof {
    /// @notice Depth of the settlement tree: 2**16 leaf positions, the most registrations ever.
    uint256 internal constant TREE_DEPTH = 16;

    /// @notice Whether `proof` places `leaf` at position `index` under `root`.
    /// @dev Hashes in the scratch space (0x00–0x3f), so the sixteen steps allocate nothing; the
    ///      proof is a fixed-size calldata array (16 words from `proof`), and `index` is shifted
    ///      right two heights at a time, so that its lowest two bits are the pass's two.
    function verify(bytes32 root, uint256 index, bytes32 leaf, bytes32[TREE_DEPTH] calldata proof)
        internal
        pure
        returns (bool)
    {
        if (index >> TREE_DEPTH != 0) return false;
        bytes32 node = leaf;
        // slither-disable-next-line assembly (sixteen keccaks in scratch space, see @dev)
        assembly ("memory-safe") {
            // two heights a pass: half the loop's jumps and counter updates (TREE_DEPTH is even)
            for { let at := proof } lt(at, add(proof, 0x200)) { at := add(at, 0x40) } {
                // a right child (bit set) goes second: it is written at 0x20, its sibling at 0x00
                let offset := shl(5, and(index, 1))
                mstore(offset, node)
                mstore(xor(offset, 0x20), calldataload(at))
                node := keccak256(0x00, 0x40)
                offset := shl(4, and(index, 2)) // bit 1: 0x20 or 0x00
                mstore(offset, node)
                mstore(xor(offset, 0x20), calldataload(add(at, 0x20)))
                node := keccak256(0x00, 0x40)
                index := shr(2, index)
            }
        }
        return node == root;
    }
}

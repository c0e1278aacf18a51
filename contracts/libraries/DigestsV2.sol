// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../interfaces/IFLChainV2.sol";

/// @title DigestsV2 — every hash protocol v2 defines (docs/protocol.md §4–§8, §12)
/// @notice The Solidity side of `flchain.protocol.digests`: each is keccak256(abi.encode(TAG, …))
///         with a tag of its own, the deployment-bound ones with the chain id and the contract.
///         tests/protocol/vectors/digests.json pins every one; test/v2 checks them against it.
library DigestsV2 {
    bytes32 internal constant COMMIT_TAG = keccak256("flchain.v2.commit");
    bytes32 internal constant RESULT_TAG = keccak256("flchain.v2.result");
    bytes32 internal constant LEAF_TAG = keccak256("flchain.v2.leaf");
    bytes32 internal constant ACC_REVEALED_TAG = keccak256("flchain.v2.acc.revealed");
    bytes32 internal constant ACC_BEACON_TAG = keccak256("flchain.v2.acc.beacon");
    bytes32 internal constant ACC_ATTESTED_TAG = keccak256("flchain.v2.acc.attested");
    bytes32 internal constant ACC_FINALIZED_TAG = keccak256("flchain.v2.acc.finalized");
    bytes32 internal constant ACC_NO_REVEAL_TAG = keccak256("flchain.v2.acc.noreveal");

    /// @notice §4: what a node commits to.
    function commitment(
        address contract_,
        uint256 round,
        address node,
        bytes32 updateDigest,
        bytes32 baseDigest,
        int32 roiBps,
        bytes32 salt
    ) internal view returns (bytes32) {
        return keccak256(
            abi.encode(COMMIT_TAG, block.chainid, contract_, round, node, updateDigest, baseDigest, roiBps, salt)
        );
    }

    /// @notice §7: the hash attestations count; the CIDs enter as their keccak.
    function resultHash(
        address contract_,
        uint256 round,
        bytes32 mergedDigest,
        bytes32 mergedCidHash,
        bytes32 manifestCidHash,
        bytes32 settlementRoot,
        uint128 roundEarned
    ) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                RESULT_TAG,
                block.chainid,
                contract_,
                round,
                mergedDigest,
                mergedCidHash,
                manifestCidHash,
                settlementRoot,
                roundEarned
            )
        );
    }

    /// @notice §8: a settlement leaf, hashed twice so that it is never the hash of a 64-byte pair
    ///         (an inner node).
    function leafHash(
        address contract_,
        address node,
        uint32 index,
        uint128 cumEarned,
        uint32 cumPenalties,
        uint32 mergedRounds,
        uint32 lastPenaltyRound,
        int32 scoreBps
    ) internal view returns (bytes32) {
        bytes32 inner = keccak256(
            abi.encode(
                LEAF_TAG,
                block.chainid,
                contract_,
                node,
                index,
                cumEarned,
                cumPenalties,
                mergedRounds,
                lastPenaltyRound,
                scoreBps
            )
        );
        return keccak256(abi.encodePacked(inner));
    }

    /// @notice `leafHash` of a calldata `Leaf`, hashing its seven ABI words where they lie:
    ///         no field is decoded or re-encoded (about 1 000 gas less in settle). Equal to
    ///         `leafHash` when the words are clean (what every ABI encoder sends); a dirty word
    ///         hashes differently, so its proof fails (test/v2/FLChainV2LibFuzz.t.sol).
    /// @dev Builds the 320-byte preimage above the free memory pointer without moving it (scratch
    ///      use, allowed in memory-safe assembly), and the second hash in the scratch space.
    function leafHashCalldata(address contract_, IFLChainV2.Leaf calldata leaf) internal view returns (bytes32 h) {
        bytes32 tag = LEAF_TAG;
        // slither-disable-next-line assembly (the calldata words hashed in place, see @dev)
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, tag)
            mstore(add(p, 0x20), chainid())
            mstore(add(p, 0x40), contract_)
            calldatacopy(add(p, 0x60), leaf, 0xe0)
            mstore(0x00, keccak256(p, 0x140))
            h := keccak256(0x00, 0x20)
        }
    }

    /// @notice §12: the entry of a `Revealed` event.
    function revealedEntry(
        address node,
        bytes32 updateDigest,
        bytes32 baseDigest,
        int32 roiBps,
        bytes32 salt,
        uint8 outcome,
        uint32 payloadLength
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(ACC_REVEALED_TAG, node, updateDigest, baseDigest, roiBps, salt, outcome, payloadLength)
        );
    }

    /// @notice §12: the entry of a `BeaconPosted` event.
    function beaconEntry(address node, bytes32 signatureHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(ACC_BEACON_TAG, node, signatureHash));
    }

    /// @notice §12: the entry of an `Attested` event.
    function attestedEntry(address node, bytes32 resultHash_, uint256 weight) internal pure returns (bytes32) {
        return keccak256(abi.encode(ACC_ATTESTED_TAG, node, resultHash_, weight));
    }

    /// @notice §12: the entry of a `Finalized` event.
    function finalizedEntry(bytes32 resultHash_, uint256 tally, uint256 totalStake) internal pure returns (bytes32) {
        return keccak256(abi.encode(ACC_FINALIZED_TAG, resultHash_, tally, totalStake));
    }

    /// @notice §12: the entry of a no-reveal `Slashed` event.
    function noRevealEntry(address node, uint256 amount, uint256 bounty, address beneficiary)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(ACC_NO_REVEAL_TAG, node, amount, bounty, beneficiary));
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Probe — docs/protocol.md's digests written as Solidity writes them (test only)
/// @notice tests/protocol/test_digests.py, test_merkle.py and test_beacon.py deploy this on the
///         embedded chain and require every vector of digests.json, merkle.json and the
///         beaconRound cases of beacon.json to come out of the EVM unchanged. chainId and the
///         contract address are arguments here; the real contract uses block.chainid and
///         address(this) in the same positions.
contract Probe {
    uint256 internal constant TREE_DEPTH = 16;

    function tags() external pure returns (bytes32[9] memory t) {
        t[0] = keccak256("flchain.v2.commit");
        t[1] = keccak256("flchain.v2.result");
        t[2] = keccak256("flchain.v2.leaf");
        t[3] = keccak256("flchain.v2.seed");
        t[4] = keccak256("flchain.v2.acc.revealed");
        t[5] = keccak256("flchain.v2.acc.beacon");
        t[6] = keccak256("flchain.v2.acc.attested");
        t[7] = keccak256("flchain.v2.acc.finalized");
        t[8] = keccak256("flchain.v2.acc.noreveal");
    }

    function commitment(
        uint256 chainId,
        address contract_,
        uint256 round,
        address node,
        bytes32 updateDigest,
        bytes32 baseDigest,
        int32 roiBps,
        bytes32 salt
    ) external pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("flchain.v2.commit"), chainId, contract_, round, node, updateDigest, baseDigest, roiBps, salt
            )
        );
    }

    function resultHash(
        uint256 chainId,
        address contract_,
        uint256 round,
        bytes32 mergedDigest,
        bytes calldata mergedCid,
        bytes calldata manifestCid,
        bytes32 settlementRoot,
        uint128 roundEarned
    ) external pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("flchain.v2.result"),
                chainId,
                contract_,
                round,
                mergedDigest,
                keccak256(mergedCid),
                keccak256(manifestCid),
                settlementRoot,
                roundEarned
            )
        );
    }

    function leafHash(
        uint256 chainId,
        address contract_,
        address node,
        uint32 index,
        uint128 cumEarned,
        uint32 cumPenalties,
        uint32 mergedRounds,
        uint32 lastPenaltyRound,
        int32 scoreBps
    ) external pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(
                        keccak256("flchain.v2.leaf"),
                        chainId,
                        contract_,
                        node,
                        index,
                        cumEarned,
                        cumPenalties,
                        mergedRounds,
                        lastPenaltyRound,
                        scoreBps
                    )
                )
            )
        );
    }

    function rawLeafCid(bytes calldata payload) external pure returns (bytes32 digest, bytes memory cid) {
        digest = sha256(payload);
        cid = abi.encodePacked(bytes4(0x01551220), digest);
    }

    function saltsHash(bytes32[] calldata salts) external pure returns (bytes32) {
        return keccak256(abi.encodePacked(salts));
    }

    function seed(uint256 chainId, address contract_, uint256 round, bytes32 salts, bytes32 randomness)
        external
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(keccak256("flchain.v2.seed"), chainId, contract_, round, salts, randomness));
    }

    function tieKey(bytes32 seed_, address node) external pure returns (bytes32) {
        return keccak256(abi.encodePacked(seed_, node));
    }

    function revealedEntry(
        address node,
        bytes32 updateDigest,
        bytes32 baseDigest,
        int32 roiBps,
        bytes32 salt,
        uint8 outcome,
        uint32 payloadLength
    ) external pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("flchain.v2.acc.revealed"), node, updateDigest, baseDigest, roiBps, salt, outcome, payloadLength
            )
        );
    }

    function beaconEntry(address node, bytes calldata signature) external pure returns (bytes32) {
        return keccak256(abi.encode(keccak256("flchain.v2.acc.beacon"), node, keccak256(signature)));
    }

    function attestedEntry(address node, bytes32 resultHash_, uint256 weight) external pure returns (bytes32) {
        return keccak256(abi.encode(keccak256("flchain.v2.acc.attested"), node, resultHash_, weight));
    }

    function finalizedEntry(bytes32 resultHash_, uint256 tally, uint256 totalStake) external pure returns (bytes32) {
        return keccak256(abi.encode(keccak256("flchain.v2.acc.finalized"), resultHash_, tally, totalStake));
    }

    function noRevealEntry(address node, uint256 amount, uint256 bounty, address beneficiary)
        external
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(keccak256("flchain.v2.acc.noreveal"), node, amount, bounty, beneficiary));
    }

    function accumulate(bytes20 acc, bytes32 entry) external pure returns (bytes20) {
        return bytes20(keccak256(abi.encode(acc, entry)));
    }

    /// @dev The settlement-proof check of settle(): bit k of `index` says whether the node at
    ///      height k is a right child.
    function verify(bytes32 root, uint32 index, bytes32 leaf, bytes32[16] calldata proof)
        external
        pure
        returns (bool)
    {
        bytes32 node = leaf;
        for (uint256 k = 0; k < TREE_DEPTH; ++k) {
            node = (index >> k) & 1 == 1
                ? keccak256(abi.encodePacked(proof[k], node))
                : keccak256(abi.encodePacked(node, proof[k]));
        }
        return node == root;
    }

    /// @dev D(r) of §6 in integer arithmetic: the first beacon round produced at or after
    ///      revealEnd(r) + delay.
    function beaconRound(
        uint64 t0,
        uint64 roundLength,
        uint64 commitWindow,
        uint64 revealWindow,
        uint64 beaconGenesis,
        uint64 beaconPeriod,
        uint64 beaconDelay,
        uint256 round
    ) external pure returns (uint64) {
        uint256 at = uint256(t0) + round * roundLength + commitWindow + revealWindow + beaconDelay;
        if (at <= beaconGenesis) return 1;
        return uint64(1 + (at - beaconGenesis + beaconPeriod - 1) / beaconPeriod);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChain} from "../interfaces/IFLChain.sol";

/// @title CidLib — the binary CIDs FLChain accepts, parsed and formatted
/// @notice Exactly the CIDs `ipfs add --cid-version=1 --raw-leaves` produces, in binary form:
///         36 bytes `0x01 codec 0x12 0x20 digest` — CIDv1, codec raw (0x55) or dag-pb (0x70),
///         multihash sha2-256 of length 32. On-chain a CID is stored as (codec, digest) and
///         formatted back on read.
library CidLib {
    /// @notice Multicodec of a raw leaf (single-block file): its digest is the content's sha256.
    uint8 internal constant CODEC_RAW = 0x55;
    /// @notice Multicodec of a dag-pb (UnixFS) root.
    uint8 internal constant CODEC_DAG_PB = 0x70;

    uint8 private constant CID_VERSION = 0x01;
    uint8 private constant MULTIHASH_SHA2_256 = 0x12;
    uint8 private constant DIGEST_LENGTH = 0x20;
    uint256 private constant CID_LENGTH = 4 + 32;

    /// @notice The codec and digest of `cid`, read in place from calldata.
    /// @dev Reverts InvalidCid unless `cid` is one of the accepted CIDs.
    function parse(bytes calldata cid) internal pure returns (uint8 codec, bytes32 digest) {
        if (cid.length != CID_LENGTH) revert IFLChain.InvalidCid();
        codec = codecOf(bytes4(cid[:4]));
        digest = bytes32(cid[4:]);
    }

    /// @notice `parse` for a CID in memory (the constructor's argument).
    function parseMemory(bytes memory cid) internal pure returns (uint8 codec, bytes32 digest) {
        if (cid.length != CID_LENGTH) revert IFLChain.InvalidCid();
        bytes4 prefix;
        assembly ("memory-safe") {
            prefix := and(mload(add(cid, 32)), shl(224, 0xffffffff))
            digest := mload(add(cid, 36))
        }
        codec = codecOf(prefix);
    }

    /// @notice `parse` for the CID of a model with sha256 `digest`: a raw CID's digest is the
    ///         content's sha256, so it must equal `digest` (CidDigestMismatch); a dag-pb root
    ///         cannot be checked on-chain.
    function parseModel(bytes calldata cid, bytes32 digest) internal pure returns (uint8 codec, bytes32 cidDigest) {
        (codec, cidDigest) = parse(cid);
        if (codec == CODEC_RAW && cidDigest != digest) revert IFLChain.CidDigestMismatch();
    }

    /// @notice The codec of a CID whose first four bytes are `prefix`.
    /// @dev Reverts InvalidCid on any other version, codec, hash function or digest length.
    function codecOf(bytes4 prefix) internal pure returns (uint8 codec) {
        codec = uint8(prefix[1]);
        if (
            uint8(prefix[0]) != CID_VERSION || uint8(prefix[2]) != MULTIHASH_SHA2_256
                || uint8(prefix[3]) != DIGEST_LENGTH || (codec != CODEC_RAW && codec != CODEC_DAG_PB)
        ) revert IFLChain.InvalidCid();
    }

    /// @notice The binary CID with `codec` and sha2-256 `digest`.
    function format(uint8 codec, bytes32 digest) internal pure returns (bytes memory) {
        return abi.encodePacked(CID_VERSION, codec, MULTIHASH_SHA2_256, DIGEST_LENGTH, digest);
    }
}

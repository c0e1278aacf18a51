// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../interfaces/IFLChainV2.sol";

/// @title CidLibV2 — the binary CIDs protocol v2 accepts, parsed and formatted
/// @notice `CidLib` with IFLChainV2's errors (v1's `CidLib` is frozen with v1's artifact and
///         reverts with IFLChain's, which would list every CID error twice in v2's ABI). The
///         CIDs are those `ipfs add --cid-version=1 --raw-leaves` produces, in binary: 36 bytes
///         `0x01 codec 0x12 0x20 digest`, codec raw (0x55) or dag-pb (0x70), sha2-256.
library CidLibV2 {
    /// @notice Multicodec of a raw leaf: its digest is the content's sha256.
    uint8 internal constant CODEC_RAW = 0x55;
    /// @notice Multicodec of a dag-pb (UnixFS) root.
    uint8 internal constant CODEC_DAG_PB = 0x70;

    uint256 private constant CID_LENGTH = 36;
    uint8 private constant CID_VERSION = 0x01;
    uint8 private constant MULTIHASH_SHA2_256 = 0x12;
    uint8 private constant DIGEST_LENGTH = 0x20;

    /// @notice The codec and digest of `cid` (in calldata); InvalidCid unless it is accepted.
    function parse(bytes calldata cid) internal pure returns (uint8 codec, bytes32 digest) {
        if (cid.length != CID_LENGTH) revert IFLChainV2.InvalidCid();
        codec = _codec(bytes4(cid[:4]));
        digest = bytes32(cid[4:]);
    }

    /// @notice Revert InvalidCid unless `cid` is accepted.
    function validate(bytes calldata cid) internal pure {
        if (cid.length != CID_LENGTH) revert IFLChainV2.InvalidCid();
        _codec(bytes4(cid[:4]));
    }

    /// @notice `validate`, and for a raw CID also that it names content with sha256 `digest`
    ///         (CidDigestMismatch). A dag-pb root cannot be checked on-chain.
    function validateModel(bytes calldata cid, bytes32 digest) internal pure {
        (uint8 codec, bytes32 cidDigest) = parse(cid);
        if (codec == CODEC_RAW && cidDigest != digest) revert IFLChainV2.CidDigestMismatch();
    }

    /// @notice `parse` for a CID in memory (the constructor's argument).
    function parseMemory(bytes memory cid) internal pure returns (uint8 codec, bytes32 digest) {
        if (cid.length != CID_LENGTH) revert IFLChainV2.InvalidCid();
        bytes4 prefix;
        // slither-disable-next-line assembly (Solidity cannot slice a bytes in memory)
        assembly ("memory-safe") {
            prefix := and(mload(add(cid, 32)), shl(224, 0xffffffff))
            digest := mload(add(cid, 36))
        }
        codec = _codec(prefix);
    }

    /// @notice The binary CID with `codec` and sha2-256 `digest`.
    function format(uint8 codec, bytes32 digest) internal pure returns (bytes memory) {
        return abi.encodePacked(CID_VERSION, codec, MULTIHASH_SHA2_256, DIGEST_LENGTH, digest);
    }

    /// @dev The codec of a valid prefix: version 1, raw or dag-pb, sha2-256, 32 bytes.
    function _codec(bytes4 prefix) private pure returns (uint8 codec) {
        codec = uint8(prefix[1]);
        if (
            uint8(prefix[0]) != CID_VERSION || uint8(prefix[2]) != MULTIHASH_SHA2_256
                || uint8(prefix[3]) != DIGEST_LENGTH || (codec != CODEC_RAW && codec != CODEC_DAG_PB)
        ) revert IFLChainV2.InvalidCid();
    }
}

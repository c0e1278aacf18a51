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

    /// @notice Revert InvalidCid unless `cid` (in calldata) is one of the accepted CIDs.
    function validate(bytes calldata cid) internal pure {
        if (cid.length != CID_LENGTH) revert IFLChain.InvalidCid();
        _validatePrefix(bytes4(cid[:4]));
    }

    /// @notice `validate`, and for a raw CID also that it names content with sha256 `digest`
    ///         (CidDigestMismatch): a raw CID's digest is the content's sha256. A dag-pb root
    ///         cannot be checked on-chain.
    function validateModel(bytes calldata cid, bytes32 digest) internal pure {
        (uint8 codec, bytes32 cidDigest) = parse(cid);
        if (codec == CODEC_RAW && cidDigest != digest) revert IFLChain.CidDigestMismatch();
    }

    /// @notice The codec and digest of `cid`, read in place from calldata; reverts as
    ///         `validate` does.
    function parse(bytes calldata cid) internal pure returns (uint8 codec, bytes32 digest) {
        if (cid.length != CID_LENGTH) revert IFLChain.InvalidCid();
        bytes4 prefix = bytes4(cid[:4]);
        _validatePrefix(prefix);
        codec = uint8(prefix[1]);
        digest = bytes32(cid[4:]);
    }

    /// @notice `parse` for a CID in memory (the constructor's argument).
    function parseMemory(bytes memory cid) internal pure returns (uint8 codec, bytes32 digest) {
        if (cid.length != CID_LENGTH) revert IFLChain.InvalidCid();
        bytes4 prefix;
        // slither-disable-next-line assembly (Solidity cannot slice a bytes in memory)
        assembly ("memory-safe") {
            prefix := and(mload(add(cid, 32)), shl(224, 0xffffffff))
            digest := mload(add(cid, 36))
        }
        _validatePrefix(prefix);
        codec = uint8(prefix[1]);
    }

    /// @notice The binary CID with `codec` and sha2-256 `digest`.
    function format(uint8 codec, bytes32 digest) internal pure returns (bytes memory) {
        return abi.encodePacked(CID_VERSION, codec, MULTIHASH_SHA2_256, DIGEST_LENGTH, digest);
    }

    /// @dev The first four bytes: version 1, codec raw or dag-pb, sha2-256, digest length 32.
    function _validatePrefix(bytes4 prefix) private pure {
        uint8 codec = uint8(prefix[1]);
        if (
            uint8(prefix[0]) != CID_VERSION || uint8(prefix[2]) != MULTIHASH_SHA2_256
                || uint8(prefix[3]) != DIGEST_LENGTH || (codec != CODEC_RAW && codec != CODEC_DAG_PB)
        ) revert IFLChain.InvalidCid();
    }
}

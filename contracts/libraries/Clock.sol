// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice The contract's global word (least significant first): `latestRoundPlusOne` (32 bits:
///         the latest final round + 1, 0 = genesis), `nodeCount` (32), `pauseFrom` and
///         `pauseUntil` (64 each: the pause window, §10) and the latest final model's CID codecs
///         `mergedCodec` and `manifestCodec` (8 each). Commit reads the pause window and the
///         latest final round from it in one load; finalize writes it in one store.
type Clock is uint256;

using ClockLibrary for Clock global;

/// @title ClockLibrary — getters and setters of `Clock`
/// @dev Setters return the new word and refuse (revert without data) a value that does not fit.
library ClockLibrary {
    uint256 private constant NODE_COUNT = 32;
    uint256 private constant PAUSE_FROM = 64;
    uint256 private constant PAUSE_UNTIL = 128;
    uint256 private constant MERGED_CODEC = 192;
    uint256 private constant MANIFEST_CODEC = 200;
    uint256 private constant WORD32 = 0xffffffff;
    uint256 private constant WORD64 = 0xffffffffffffffff;
    uint256 private constant BYTE = 0xff;

    function latestRoundPlusOne(Clock c) internal pure returns (uint32) {
        return uint32(Clock.unwrap(c) & WORD32);
    }

    function nodeCount(Clock c) internal pure returns (uint32) {
        return uint32((Clock.unwrap(c) >> NODE_COUNT) & WORD32);
    }

    function pauseFrom(Clock c) internal pure returns (uint64) {
        return uint64((Clock.unwrap(c) >> PAUSE_FROM) & WORD64);
    }

    function pauseUntil(Clock c) internal pure returns (uint64) {
        return uint64((Clock.unwrap(c) >> PAUSE_UNTIL) & WORD64);
    }

    function mergedCodec(Clock c) internal pure returns (uint8) {
        return uint8((Clock.unwrap(c) >> MERGED_CODEC) & BYTE);
    }

    function manifestCodec(Clock c) internal pure returns (uint8) {
        return uint8((Clock.unwrap(c) >> MANIFEST_CODEC) & BYTE);
    }

    /// @notice Whether a round starting at `start` starts inside the pause window.
    function pauses(Clock c, uint256 start) internal pure returns (bool) {
        return c.pauseFrom() <= start && start < c.pauseUntil();
    }

    function setNodeCount(Clock c, uint256 value) internal pure returns (Clock) {
        return _set(c, NODE_COUNT, WORD32, value);
    }

    function setPause(Clock c, uint256 from, uint256 until) internal pure returns (Clock) {
        return _set(_set(c, PAUSE_FROM, WORD64, from), PAUSE_UNTIL, WORD64, until);
    }

    /// @notice The latest final round and its model's CID codecs.
    function setLatest(Clock c, uint256 roundPlusOne, uint8 merged, uint8 manifest) internal pure returns (Clock) {
        c = _set(c, 0, WORD32, roundPlusOne);
        return _set(_set(c, MERGED_CODEC, BYTE, merged), MANIFEST_CODEC, BYTE, manifest);
    }

    function _set(Clock c, uint256 offset, uint256 mask, uint256 value) private pure returns (Clock) {
        if (value > mask) revert();
        return Clock.wrap((Clock.unwrap(c) & ~(mask << offset)) | (value << offset));
    }
}

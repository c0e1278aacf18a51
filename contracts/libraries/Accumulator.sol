// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice The per-round accumulator of docs/protocol.md §12, one storage word:
///         `bytes20 chain ‖ uint32 reveals ‖ uint32 attestations ‖ uint32 others`, most
///         significant first — so the word an `eth_getProof` returns reads left to right as the
///         spec writes it. It starts at 0; every entry `e` moves the chain to
///         `bytes20(keccak256(abi.encode(chain, e)))` and counts in one of the three counters.
///         `openRound` sets the word's lowest counter's top bit (`OPENED_MARK`, bit 31), which
///         no count reaches and every reader masks: the word is then non-zero before the
///         round's first entry, so that entry rewrites it (2 900 gas) instead of creating it
///         (20 000) — the round's first reveal is held to reveal's target like every other.
type Accumulator is bytes32;

using AccumulatorLibrary for Accumulator global;

/// @title AccumulatorLibrary — the hash chain step and the counters of `Accumulator`
/// @dev A counter that reached 2**32 − 1 would carry into its neighbour; it cannot: reveals and
///      attestations are at most one per frozen-set node (≤ 2**16) and a round's other entries
///      (beacon posts, the finalization, no-reveal slashes) at most two per node plus one.
library AccumulatorLibrary {
    /// @notice The mark `openRound` leaves in the word (bit 31: the top bit of `others`).
    uint256 internal constant OPENED_MARK = 1 << 31;
    uint256 private constant OTHERS_MASK = OPENED_MARK - 1;
    uint256 private constant REVEALS_SHIFT = 64;
    uint256 private constant ATTESTATIONS_SHIFT = 32;
    uint256 private constant COUNTER_MASK = 0xffffffff;
    uint256 private constant CHAIN_SHIFT = 96;

    /// @notice The word after `entry` joins the chain and counts as a reveal.
    function pushReveal(Accumulator acc, bytes32 entry) internal pure returns (Accumulator) {
        return _push(acc, entry, 1 << REVEALS_SHIFT);
    }

    /// @notice The word after `entry` joins the chain and counts as an attestation.
    function pushAttestation(Accumulator acc, bytes32 entry) internal pure returns (Accumulator) {
        return _push(acc, entry, 1 << ATTESTATIONS_SHIFT);
    }

    /// @notice The word after `entry` (a beacon post, the finalization, a no-reveal slash) joins
    ///         the chain and counts as another entry.
    function pushOther(Accumulator acc, bytes32 entry) internal pure returns (Accumulator) {
        return _push(acc, entry, 1);
    }

    /// @notice The hash chain.
    function chain(Accumulator acc) internal pure returns (bytes20) {
        return bytes20(Accumulator.unwrap(acc));
    }

    /// @notice Revealed entries so far.
    function reveals(Accumulator acc) internal pure returns (uint32) {
        return uint32((uint256(Accumulator.unwrap(acc)) >> REVEALS_SHIFT) & COUNTER_MASK);
    }

    /// @notice Attested entries so far.
    function attestations(Accumulator acc) internal pure returns (uint32) {
        return uint32((uint256(Accumulator.unwrap(acc)) >> ATTESTATIONS_SHIFT) & COUNTER_MASK);
    }

    /// @notice Beacon, finalization and no-reveal entries so far.
    function others(Accumulator acc) internal pure returns (uint32) {
        return uint32(uint256(Accumulator.unwrap(acc)) & OTHERS_MASK);
    }

    /// @notice The word with the opened mark set (the chain and the counts unchanged).
    function markOpened(Accumulator acc) internal pure returns (Accumulator) {
        return Accumulator.wrap(Accumulator.unwrap(acc) | bytes32(OPENED_MARK));
    }

    /// @notice One step of the chain alone: `bytes20(keccak256(abi.encode(chain, entry)))`.
    function step(bytes20 chain_, bytes32 entry) internal pure returns (bytes20) {
        return bytes20(keccak256(abi.encode(chain_, entry)));
    }

    function _push(Accumulator acc, bytes32 entry, uint256 count) private pure returns (Accumulator) {
        uint256 word = uint256(Accumulator.unwrap(acc));
        uint256 counters = (word & ((1 << CHAIN_SHIFT) - 1)) + count;
        return Accumulator.wrap(bytes32(step(bytes20(bytes32(word)), entry)) | bytes32(counters));
    }
}

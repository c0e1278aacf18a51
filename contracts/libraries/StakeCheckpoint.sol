// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice A two-value stake checkpoint (docs/protocol.md §3) in one word, least significant
///         first: `fromRound` (32 bits), `value` (112) for rounds ≥ fromRound, `previous` (112)
///         for the rounds before.
/// @dev A change made at time `now` writes rounds ≥ effective(now) = current round + 1, so the
///      round in progress keeps the weight it had: every read on-chain is of the current round
///      or the next, and both are exact. Amounts are uint112 (5·10³³ wei, far above any native
///      supply); a larger one reverts (without data) rather than wraps.
type Checkpoint is uint256;

using StakeCheckpoint for Checkpoint global;

/// @title StakeCheckpoint — the arithmetic of `Checkpoint`, shared by the total and the nodes
/// @notice `flchain.protocol.machine.Checkpoint` is the reference. A node stores the same three
///         numbers in another shape (its value is derived from its bond and status, see
///         `NodeCore`), so `valueOf` and `advance` take the fields one by one.
library StakeCheckpoint {
    uint256 private constant ROUND_MASK = 0xffffffff;
    uint256 private constant AMOUNT_MASK = (1 << 112) - 1;
    uint256 private constant VALUE_SHIFT = 32;
    uint256 private constant PREVIOUS_SHIFT = 144;

    /// @notice The value a checkpoint (from, current, before) gives `round`.
    function valueOf(uint256 from, uint256 current, uint256 before, uint256 round) internal pure returns (uint256) {
        return round >= from ? current : before;
    }

    /// @notice The (fromRound, previous) a write of a new value for rounds ≥ `newFrom` leaves on a
    ///         checkpoint (from, ·, before): the round before `newFrom` keeps what it had
    ///         (`oldValue` is the value before the write). Writing the same `from` again only
    ///         replaces the value.
    function advance(uint256 from, uint256 before, uint256 oldValue, uint256 newFrom)
        internal
        pure
        returns (uint256, uint256)
    {
        if (newFrom == from) return (from, before);
        // at(newFrom − 1), written so that newFrom = 0 cannot underflow
        return (newFrom, newFrom > from ? oldValue : before);
    }

    function fromRound(Checkpoint c) internal pure returns (uint256) {
        return Checkpoint.unwrap(c) & ROUND_MASK;
    }

    function value(Checkpoint c) internal pure returns (uint256) {
        return (Checkpoint.unwrap(c) >> VALUE_SHIFT) & AMOUNT_MASK;
    }

    function previous(Checkpoint c) internal pure returns (uint256) {
        return Checkpoint.unwrap(c) >> PREVIOUS_SHIFT;
    }

    /// @notice `c`'s value for `round`.
    function valueAt(Checkpoint c, uint256 round) internal pure returns (uint256) {
        return valueOf(c.fromRound(), c.value(), c.previous(), round);
    }

    /// @notice `c` with `newValue` for rounds ≥ `newFrom`.
    function write(Checkpoint c, uint256 newFrom, uint256 newValue) internal pure returns (Checkpoint) {
        (uint256 from, uint256 prev) = advance(c.fromRound(), c.previous(), c.value(), newFrom);
        return pack(from, newValue, prev);
    }

    /// @notice The word of (fromRound, value, previous), each checked to fit.
    function pack(uint256 from, uint256 value_, uint256 previous_) internal pure returns (Checkpoint) {
        if (from > ROUND_MASK || value_ > AMOUNT_MASK || previous_ > AMOUNT_MASK) revert();
        return Checkpoint.wrap(from | (value_ << VALUE_SHIFT) | (previous_ << PREVIOUS_SHIFT));
    }

    /// @notice `x` as a uint112, reverting (without data) if it does not fit.
    function toUint112(uint256 x) internal pure returns (uint112) {
        if (x > AMOUNT_MASK) revert();
        return uint112(x);
    }
}

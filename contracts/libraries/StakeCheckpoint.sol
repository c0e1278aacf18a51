// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice A two-value stake checkpoint (docs/protocol.md §3): `value` for rounds ≥ `fromRound`,
///         `previous` for the rounds before. One slot.
/// @dev A change made at time `now` writes rounds ≥ effective(now) = current round + 1, so the
///      round in progress keeps the weight it had: every read on-chain is of the current round
///      or the next, and both are exact. Amounts are uint112 (5·10³³ wei, far above any native
///      supply); a larger sum reverts rather than wraps.
struct Checkpoint {
    uint32 fromRound;
    uint112 value;
    uint112 previous;
}

/// @title StakeCheckpoint — the arithmetic of `Checkpoint`, shared by the total and the nodes
/// @notice `flchain.protocol.machine.Checkpoint` is the reference; the node record stores the
///         same three numbers in another shape (its `value` is derived from its bond), so the
///         pure functions take the fields one by one.
library StakeCheckpoint {
    /// @notice The value the checkpoint gives `round`.
    function valueAt(uint256 fromRound, uint256 value, uint256 previous, uint256 round) internal pure returns (uint256) {
        return round >= fromRound ? value : previous;
    }

    /// @notice The (fromRound, previous) a write of a new value for rounds ≥ `newFrom` leaves:
    ///         the round before `newFrom` keeps what it had (`oldValue` is the value before the
    ///         write). Writing the same `fromRound` again only replaces the value.
    function advance(uint256 fromRound, uint256 previous, uint256 oldValue, uint256 newFrom)
        internal
        pure
        returns (uint256, uint256)
    {
        if (newFrom == fromRound) return (fromRound, previous);
        // at(newFrom − 1), written so that newFrom = 0 cannot underflow
        return (newFrom, newFrom > fromRound ? oldValue : previous);
    }

    /// @notice `c.at(round)`.
    function read(Checkpoint storage c, uint256 round) internal pure returns (uint256) {
        Checkpoint memory m = c;
        return valueAt(m.fromRound, m.value, m.previous, round);
    }

    /// @notice Set the value for rounds ≥ `newFrom` to `newValue`.
    function write(Checkpoint storage c, uint256 newFrom, uint256 newValue) internal {
        Checkpoint memory m = c;
        (uint256 fromRound, uint256 previous) = advance(m.fromRound, m.previous, m.value, newFrom);
        c.fromRound = toUint32(fromRound);
        c.value = toUint112(newValue);
        c.previous = uint112(previous); // an earlier value, stored as a uint112 already
    }

    /// @notice `x` as a uint32, reverting (without data) if it does not fit.
    function toUint32(uint256 x) internal pure returns (uint32) {
        if (x > type(uint32).max) revert();
        return uint32(x);
    }

    /// @notice `x` as a uint112, reverting (without data) if it does not fit.
    function toUint112(uint256 x) internal pure returns (uint112) {
        if (x > type(uint112).max) revert();
        return uint112(x);
    }
}

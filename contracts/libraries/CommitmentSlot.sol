// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChain} from "../interfaces/IFLChain.sol";

/// @notice One storage word per (round, node) that first holds the node's commitment and, once
///         revealed, the reveal's outcome — so a reveal rewrites the slot it read instead of
///         writing a second one.
/// @dev The word is one of three forms, told apart by its magnitude:
///      - 0                         empty: no commitment
///      - REVEALED_TAG | outcome    revealed, in [0x100, 0x1ff]
///      - ≥ 2**RESERVED_BITS        a commitment (a keccak output)
///      `fromCommitment` refuses every value below 2**RESERVED_BITS, so a stored commitment is
///      never mistaken for a revealed marker; a keccak output falls there with probability 2**-247.
type CommitmentSlot is bytes32;

using CommitmentSlotLibrary for CommitmentSlot global;

/// @title CommitmentSlotLibrary — constructors and getters of `CommitmentSlot`
library CommitmentSlotLibrary {
    /// @dev Marker bit of a revealed slot; the low byte holds the outcome.
    uint256 private constant REVEALED_TAG = 0x100;
    /// @dev Values below 2**RESERVED_BITS are empty or revealed markers, never commitments.
    uint256 private constant RESERVED_BITS = 9;
    /// @dev A revealed slot shifted right by this is exactly 1 (REVEALED_TAG >> 8).
    uint256 private constant OUTCOME_BITS = 8;

    /// @notice Whether `value` may be stored as a commitment (it is not a reserved value).
    function isValidCommitment(bytes32 value) internal pure returns (bool) {
        return uint256(value) >> RESERVED_BITS != 0;
    }

    /// @notice The slot holding commitment `value`; the caller has checked `isValidCommitment`.
    function fromCommitment(bytes32 value) internal pure returns (CommitmentSlot) {
        return CommitmentSlot.wrap(value);
    }

    /// @notice The slot of a reveal with outcome `result`.
    function fromOutcome(IFLChain.RevealOutcome result) internal pure returns (CommitmentSlot) {
        return CommitmentSlot.wrap(bytes32(REVEALED_TAG | uint256(result)));
    }

    /// @notice Whether the node has not committed.
    function isEmpty(CommitmentSlot slot) internal pure returns (bool) {
        return CommitmentSlot.unwrap(slot) == bytes32(0);
    }

    /// @notice Whether the node has revealed.
    function isRevealed(CommitmentSlot slot) internal pure returns (bool) {
        return uint256(CommitmentSlot.unwrap(slot)) >> OUTCOME_BITS == REVEALED_TAG >> OUTCOME_BITS;
    }

    /// @notice Whether the node revealed with outcome `result`.
    function hasOutcome(CommitmentSlot slot, IFLChain.RevealOutcome result) internal pure returns (bool) {
        return CommitmentSlot.unwrap(slot) == CommitmentSlot.unwrap(fromOutcome(result));
    }

    /// @notice The stored commitment of an unrevealed slot.
    function commitment(CommitmentSlot slot) internal pure returns (bytes32) {
        return CommitmentSlot.unwrap(slot);
    }

    /// @notice The outcome of a revealed slot.
    function outcome(CommitmentSlot slot) internal pure returns (IFLChain.RevealOutcome) {
        return IFLChain.RevealOutcome(uint8(uint256(CommitmentSlot.unwrap(slot))));
    }
}

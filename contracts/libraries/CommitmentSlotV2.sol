// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../interfaces/IFLChainV2.sol";

/// @notice One storage word per (round, node): empty, then the node's commitment, then either the
///         reveal's outcome or the mark of a no-reveal slash — so reveal and slashNoReveal rewrite
///         the slot commit wrote instead of writing a second one.
/// @dev The word is one of four forms, told apart by its magnitude:
///      - 0                          None: no commitment
///      - REVEALED_TAG | outcome      Revealed, in [0x100, 0x1ff]
///      - SLASHED_MARK                Slashed (0x200)
///      - ≥ MIN_COMMITMENT (2**16)    Committed: the commitment itself
///      A commitment below MIN_COMMITMENT is refused (CommitmentMismatch, docs/protocol.md §4): a
///      keccak output falls there with probability 2**-240, so only a made-up value can.
type CommitmentSlotV2 is bytes32;

using CommitmentSlotV2Library for CommitmentSlotV2 global;

/// @title CommitmentSlotV2Library — constructors and getters of `CommitmentSlotV2`
library CommitmentSlotV2Library {
    /// @notice The smallest value that is stored as a commitment.
    uint256 internal constant MIN_COMMITMENT = 1 << 16;
    uint256 private constant REVEALED_TAG = 0x100;
    uint256 private constant SLASHED_MARK = 0x200;
    uint256 private constant OUTCOME_MASK = 0xff;

    /// @notice Whether `value` may be stored as a commitment.
    function isValidCommitment(bytes32 value) internal pure returns (bool) {
        return uint256(value) >= MIN_COMMITMENT;
    }

    /// @notice The slot holding commitment `value` (the caller checked `isValidCommitment`).
    function fromCommitment(bytes32 value) internal pure returns (CommitmentSlotV2) {
        return CommitmentSlotV2.wrap(value);
    }

    /// @notice The slot of a reveal with outcome `result`.
    function fromOutcome(IFLChainV2.RevealOutcome result) internal pure returns (CommitmentSlotV2) {
        return CommitmentSlotV2.wrap(bytes32(REVEALED_TAG | uint256(result)));
    }

    /// @notice The slot of a commitment slashed for not being revealed.
    function slashedMark() internal pure returns (CommitmentSlotV2) {
        return CommitmentSlotV2.wrap(bytes32(SLASHED_MARK));
    }

    /// @notice The slot's state.
    function state(CommitmentSlotV2 slot) internal pure returns (IFLChainV2.CommitState) {
        uint256 word = uint256(CommitmentSlotV2.unwrap(slot));
        if (word == 0) return IFLChainV2.CommitState.None;
        if (word >= MIN_COMMITMENT) return IFLChainV2.CommitState.Committed;
        if (word == SLASHED_MARK) return IFLChainV2.CommitState.Slashed;
        return IFLChainV2.CommitState.Revealed;
    }

    /// @notice Whether the slot holds an unrevealed, unslashed commitment.
    function isCommitted(CommitmentSlotV2 slot) internal pure returns (bool) {
        return uint256(CommitmentSlotV2.unwrap(slot)) >= MIN_COMMITMENT;
    }

    /// @notice Whether the node has not committed.
    function isEmpty(CommitmentSlotV2 slot) internal pure returns (bool) {
        return CommitmentSlotV2.unwrap(slot) == bytes32(0);
    }

    /// @notice The commitment while Committed, else 0.
    function commitment(CommitmentSlotV2 slot) internal pure returns (bytes32) {
        return slot.isCommitted() ? CommitmentSlotV2.unwrap(slot) : bytes32(0);
    }

    /// @notice The outcome once Revealed, else Accepted (the view's convention).
    function outcome(CommitmentSlotV2 slot) internal pure returns (IFLChainV2.RevealOutcome) {
        if (slot.state() != IFLChainV2.CommitState.Revealed) return IFLChainV2.RevealOutcome.Accepted;
        return IFLChainV2.RevealOutcome(uint8(uint256(CommitmentSlotV2.unwrap(slot)) & OUTCOME_MASK));
    }
}

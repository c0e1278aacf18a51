// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../interfaces/IFLChainV2.sol";

/// @notice What commit, reveal and attest read and write of a node, one storage word (least
///         significant first):
///
///         | bits    | field                 | meaning                                            |
///         | ------- | --------------------- | -------------------------------------------------- |
///         | 0–7     | status                | `IFLChainV2.Status`                                |
///         | 8       | staked                | stake for rounds ≥ stakeFrom is positive            |
///         | 9       | previousStaked        | stake for rounds < stakeFrom is positive            |
///         | 10      | votePending           | the vote of lastAttestedRound is not settled (§11)  |
///         | 16–31   | leafIndex             | the node's settlement-leaf index (registry order)   |
///         | 32–63   | stakeFrom             | the stake checkpoint's fromRound (§3)               |
///         | 64–95   | unrevealed            | commitments neither revealed nor slashed            |
///         | 96–127  | lastParticipatedRound | round + 1 of the latest commit or attest            |
///         | 128–159 | settledRound          | round + 1 of the root last applied                  |
///         | 160–191 | lastAttestedRound     | round + 1 of the latest attestation                 |
///         | 192–223 | lastAcceptedRound     | round + 1 of the latest Accepted reveal             |
///         | 224–255 | acceptedReveals       | Accepted reveals so far                             |
///
/// @dev The stake amounts live in another word; the flags answer "in the frozen set of r?"
///      from this word alone, which is all commit and postBeacon need. settle finds the leaf
///      index here. A pending vote is always
///      the one of lastAttestedRound (attesting settles the one before, whose round is decided
///      by then), so the machine's lastVoteRound is `votePending ? lastAttestedRound : 0`.
type NodeCore is uint256;

using NodeCoreLibrary for NodeCore global;

/// @title NodeCoreLibrary — getters and setters of `NodeCore`
/// @dev Setters return the new word; the contract loads the word once and stores it once.
///      Counters and rounds are uint32: a setter refuses (reverts without data) a value that
///      does not fit rather than corrupting its neighbour.
library NodeCoreLibrary {
    uint256 private constant STATUS = 0;
    uint256 private constant STAKED = 8;
    uint256 private constant PREVIOUS_STAKED = 9;
    uint256 private constant VOTE_PENDING = 10;
    uint256 private constant LEAF_INDEX = 16;
    uint256 private constant WORD16 = 0xffff;
    uint256 private constant STAKE_FROM = 32;
    uint256 private constant UNREVEALED = 64;
    uint256 private constant LAST_PARTICIPATED = 96;
    uint256 private constant SETTLED = 128;
    uint256 private constant LAST_ATTESTED = 160;
    uint256 private constant LAST_ACCEPTED = 192;
    uint256 private constant ACCEPTED_REVEALS = 224;
    uint256 private constant BYTE = 0xff;
    uint256 private constant WORD32 = 0xffffffff;

    function status(NodeCore c) internal pure returns (IFLChainV2.Status) {
        return IFLChainV2.Status(_get(c, STATUS, BYTE));
    }

    function staked(NodeCore c) internal pure returns (bool) {
        return _get(c, STAKED, 1) != 0;
    }

    function previousStaked(NodeCore c) internal pure returns (bool) {
        return _get(c, PREVIOUS_STAKED, 1) != 0;
    }

    function votePending(NodeCore c) internal pure returns (bool) {
        return _get(c, VOTE_PENDING, 1) != 0;
    }

    function leafIndex(NodeCore c) internal pure returns (uint16) {
        return uint16(_get(c, LEAF_INDEX, WORD16));
    }

    function stakeFrom(NodeCore c) internal pure returns (uint32) {
        return uint32(_get(c, STAKE_FROM, WORD32));
    }

    function unrevealed(NodeCore c) internal pure returns (uint32) {
        return uint32(_get(c, UNREVEALED, WORD32));
    }

    function lastParticipatedRound(NodeCore c) internal pure returns (uint32) {
        return uint32(_get(c, LAST_PARTICIPATED, WORD32));
    }

    function settledRound(NodeCore c) internal pure returns (uint32) {
        return uint32(_get(c, SETTLED, WORD32));
    }

    function lastAttestedRound(NodeCore c) internal pure returns (uint32) {
        return uint32(_get(c, LAST_ATTESTED, WORD32));
    }

    function lastAcceptedRound(NodeCore c) internal pure returns (uint32) {
        return uint32(_get(c, LAST_ACCEPTED, WORD32));
    }

    function acceptedReveals(NodeCore c) internal pure returns (uint32) {
        return uint32(_get(c, ACCEPTED_REVEALS, WORD32));
    }

    function setStatus(NodeCore c, IFLChainV2.Status value) internal pure returns (NodeCore) {
        return _set(c, STATUS, BYTE, uint256(value));
    }

    /// @notice The stake checkpoint's shape in this word: fromRound and the two flags.
    function setStake(NodeCore c, uint256 fromRound, bool isStaked, bool wasStaked) internal pure returns (NodeCore) {
        c = _set(c, STAKE_FROM, WORD32, fromRound);
        c = _set(c, STAKED, 1, isStaked ? 1 : 0);
        return _set(c, PREVIOUS_STAKED, 1, wasStaked ? 1 : 0);
    }

    function setVotePending(NodeCore c, bool value) internal pure returns (NodeCore) {
        return _set(c, VOTE_PENDING, 1, value ? 1 : 0);
    }

    function setLeafIndex(NodeCore c, uint256 value) internal pure returns (NodeCore) {
        return _set(c, LEAF_INDEX, WORD16, value);
    }

    function setUnrevealed(NodeCore c, uint256 value) internal pure returns (NodeCore) {
        return _set(c, UNREVEALED, WORD32, value);
    }

    function setLastParticipatedRound(NodeCore c, uint256 value) internal pure returns (NodeCore) {
        return _set(c, LAST_PARTICIPATED, WORD32, value);
    }

    function setSettledRound(NodeCore c, uint256 value) internal pure returns (NodeCore) {
        return _set(c, SETTLED, WORD32, value);
    }

    function setLastAttestedRound(NodeCore c, uint256 value) internal pure returns (NodeCore) {
        return _set(c, LAST_ATTESTED, WORD32, value);
    }

    /// @notice An Accepted reveal in `roundPlusOne − 1`: counted, and the latest one.
    function recordAccepted(NodeCore c, uint256 roundPlusOne) internal pure returns (NodeCore) {
        c = _set(c, ACCEPTED_REVEALS, WORD32, uint256(c.acceptedReveals()) + 1);
        return _set(c, LAST_ACCEPTED, WORD32, roundPlusOne);
    }

    function _get(NodeCore c, uint256 offset, uint256 mask) private pure returns (uint256) {
        return (NodeCore.unwrap(c) >> offset) & mask;
    }

    function _set(NodeCore c, uint256 offset, uint256 mask, uint256 value) private pure returns (NodeCore) {
        if (value > mask) revert();
        return NodeCore.wrap((NodeCore.unwrap(c) & ~(mask << offset)) | (value << offset));
    }
}

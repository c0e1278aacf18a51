// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "./interfaces/IFLChainV2.sol";
import {IFLChainV2Forward} from "./interfaces/IFLChainV2Forward.sol";
import {ForwardLib} from "./libraries/ForwardLib.sol";

/// @title FLChainV2Forward — forward windows posted by anyone, voted on by stake (§15.2)
/// @notice Created by FLChainV2's constructor, which it trusts for `vote`. It stores, per window
///         round, which window hashes were posted, the stake that voted for each and the
///         accepted one. The bytes stay in calldata: readers take them from the transaction.
contract FLChainV2Forward is IFLChainV2Forward {
    /// @notice One round's windows.
    struct Window {
        bytes32 accepted;
        mapping(bytes32 windowHash => bool) posted;
        mapping(bytes32 windowHash => uint256) tallies;
    }

    IFLChainV2 private immutable _ledger;
    uint64 private immutable _t0;
    uint64 private immutable _roundLength;
    uint64 private immutable _commitWindow;
    uint64 private immutable _revealWindow;

    mapping(uint256 round => Window) private _windows;

    /// @param t0 the ledger's T0
    /// @param roundLength L
    /// @param commitWindow C
    /// @param revealWindow R
    constructor(uint64 t0, uint64 roundLength, uint64 commitWindow, uint64 revealWindow) {
        _ledger = IFLChainV2(msg.sender);
        _t0 = t0;
        _roundLength = roundLength;
        _commitWindow = commitWindow;
        _revealWindow = revealWindow;
    }

    /// @inheritdoc IFLChainV2Forward
    function postForward(uint256 round, bytes calldata window) external {
        IFLChainV2.Rules memory rules = _ledger.rulesForRound(round);
        if (rules.forwardBars == 0) revert ForwardScoringOff(round);
        uint256 revealEnd = _t0 + round * _roundLength + _commitWindow + _revealWindow;
        uint256 opensAt = ForwardLib.forwardClose(revealEnd, rules.forwardMarginSeconds, rules.forwardBars);
        if (block.timestamp < opensAt) revert ForwardTooEarly(round, opensAt);
        uint256 closedAt = _t0 + (round + rules.forwardLagRounds) * _roundLength + _commitWindow;
        if (block.timestamp >= closedAt) revert ForwardVoteClosed(round, closedAt);
        if (window.length == 0 || window.length > ForwardLib.MAX_FORWARD_BYTES) {
            revert ForwardTooLarge(window.length, ForwardLib.MAX_FORWARD_BYTES);
        }
        bytes32 windowHash = sha256(window);
        // A repeated post is accepted: readers take the bytes from a direct call's input, so a
        // first post forwarded by another contract must not keep the window unreadable (§15.2).
        // ForwardVoteClosed above bounds how long re-posting can go on.
        _windows[round].posted[windowHash] = true;
        emit ForwardPosted(round, windowHash, msg.sender, window.length);
    }

    /// @inheritdoc IFLChainV2Forward
    function vote(
        address node,
        uint256 round,
        uint256 forwardRound,
        bytes32 windowHash,
        uint256 weight,
        uint256 needed,
        uint256 forwardBars,
        uint256 lagRounds
    ) external {
        if (msg.sender != address(_ledger)) revert NotTheLedger(msg.sender);
        if (forwardRound >= round || forwardBars == 0 || round - forwardRound != lagRounds) {
            revert NotForwardVoteRound(forwardRound, round);
        }
        Window storage w = _windows[forwardRound];
        if (!w.posted[windowHash]) revert ForwardNotPosted(forwardRound, windowHash);

        uint256 tally = w.tallies[windowHash] + weight;
        w.tallies[windowHash] = tally;
        emit ForwardVoted(forwardRound, node, windowHash, weight);
        if (w.accepted == bytes32(0) && tally >= needed) {
            w.accepted = windowHash;
            emit ForwardAccepted(forwardRound, windowHash, tally);
        }
    }

    /// @inheritdoc IFLChainV2Forward
    function ledger() external view returns (address) {
        return address(_ledger);
    }

    /// @inheritdoc IFLChainV2Forward
    function forwardWindowOf(uint256 round) external view returns (bytes32) {
        return _windows[round].accepted;
    }

    /// @inheritdoc IFLChainV2Forward
    function forwardTallyOf(uint256 round, bytes32 windowHash) external view returns (uint256) {
        return _windows[round].tallies[windowHash];
    }

    /// @inheritdoc IFLChainV2Forward
    function isForwardPosted(uint256 round, bytes32 windowHash) external view returns (bool) {
        return _windows[round].posted[windowHash];
    }
}

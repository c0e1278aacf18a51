// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IFLChainV2Forward — forward windows and their votes (docs/protocol.md §15)
/// @notice The contract FLChainV2's constructor creates (`IFLChainV2.forwardBox()`): anyone posts
///         a round's forward window file here; nodes vote for its hash with the commit they send
///         anyway (`IFLChainV2.commitWithForward`, which calls `vote`); a window that reaches the
///         finality share of the vote round's frozen stake is the round's accepted window.
/// @dev Its own contract so that FLChainV2's runtime code stays under EIP-170. The Python
///      mirror is the forward part of flchain/protocol/machine.py.
interface IFLChainV2Forward {
    // ------------------------------------------------------------------ events

    /// @notice A forward window file was posted; its bytes are the transaction's calldata when
    ///         the poster called the box directly. Emitted for every post, a repeated one too.
    /// @param round the window's round
    /// @param windowHash sha256 of the file
    /// @param poster the sender
    /// @param length the file's length
    event ForwardPosted(uint256 indexed round, bytes32 indexed windowHash, address indexed poster, uint256 length);
    /// @notice A node voted for a window with its commit.
    /// @param round the window's round
    /// @param node the voter
    /// @param windowHash the window voted for
    /// @param weight stake(node, commit round)
    event ForwardVoted(uint256 indexed round, address indexed node, bytes32 windowHash, uint256 weight);
    /// @notice A window reached the finality share of its vote round's frozen stake: the merge
    ///         scores round `round`'s updates on it.
    /// @param round the window's round
    /// @param windowHash the accepted window
    /// @param tally its tally when accepted
    event ForwardAccepted(uint256 indexed round, bytes32 indexed windowHash, uint256 tally);

    // ------------------------------------------------------------------ errors

    /// @notice postForward for a round whose rules have forwardBars = 0.
    /// @param round the window's round
    error ForwardScoringOff(uint256 round);
    /// @notice postForward before the round's window has closed (its execution bar included).
    /// @param round the window's round
    /// @param opensAt forwardClose(round), when posts open
    error ForwardTooEarly(uint256 round, uint256 opensAt);
    /// @notice postForward once the votes on the window are closed.
    /// @param round the window's round
    /// @param closedAt commitEnd(round + forwardLagRounds)
    error ForwardVoteClosed(uint256 round, uint256 closedAt);
    /// @notice A window file that is empty or longer than MAX_FORWARD_BYTES.
    /// @param length its length
    /// @param maxLength MAX_FORWARD_BYTES
    error ForwardTooLarge(uint256 length, uint256 maxLength);
    /// @notice commitWithForward in a round that is not the vote round of `forwardRound`
    ///         (forwardRound + forwardLagRounds), or for a round without forward scoring.
    /// @param forwardRound the window's round
    /// @param round the commit's round
    error NotForwardVoteRound(uint256 forwardRound, uint256 round);
    /// @notice A vote for a window nobody posted.
    /// @param forwardRound the window's round
    /// @param windowHash the hash voted for
    error ForwardNotPosted(uint256 forwardRound, bytes32 windowHash);
    /// @notice `vote` from anyone but the FLChainV2 that created this contract.
    /// @param caller the sender
    error NotTheLedger(address caller);

    // ------------------------------------------------------------------ functions

    /// @notice Post round `round`'s forward window file (anyone, any number of times while its
    ///         votes are open: a post forwarded by another contract leaves no readable input,
    ///         so the same bytes may be posted again directly); the bytes stay in calldata,
    ///         the contract keeps that sha256(window) was posted.
    /// @param round the window's round
    /// @param window the canonical benchmark file of the window (§15.2)
    function postForward(uint256 round, bytes calldata window) external;
    /// @notice Tally `node`'s vote (FLChainV2 only, from commitWithForward, after the commit).
    /// @param node the voter
    /// @param round the commit's round
    /// @param forwardRound the window's round
    /// @param windowHash the window voted for
    /// @param weight stake(node, round)
    /// @param needed the finality threshold of round's frozen stake
    /// @param forwardBars forwardBars of forwardRound's rules
    /// @param lagRounds forwardLagRounds of forwardRound's rules
    function vote(
        address node,
        uint256 round,
        uint256 forwardRound,
        bytes32 windowHash,
        uint256 weight,
        uint256 needed,
        uint256 forwardBars,
        uint256 lagRounds
    ) external;
    /// @notice The FLChainV2 this box serves.
    function ledger() external view returns (address);
    /// @notice The accepted window of `round` (0 while none has reached the threshold).
    /// @param round the window's round
    function forwardWindowOf(uint256 round) external view returns (bytes32);
    /// @notice The stake that voted for `windowHash` as round `round`'s window.
    /// @param round the window's round
    /// @param windowHash sha256 of a window file
    function forwardTallyOf(uint256 round, bytes32 windowHash) external view returns (uint256);
    /// @notice Whether `windowHash` was posted as round `round`'s window.
    /// @param round the window's round
    /// @param windowHash sha256 of a window file
    function isForwardPosted(uint256 round, bytes32 windowHash) external view returns (bool);
}

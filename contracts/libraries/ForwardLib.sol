// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../interfaces/IFLChainV2.sol";

/// @title ForwardLib — forward scoring's schedule and rule bounds (docs/protocol.md §15)
/// @notice Mirrors `flchain.protocol.forward` and the forward part of
///         `flchain.protocol.machine.check_rules`.
library ForwardLib {
    /// @notice 15-minute bars aligned to UTC.
    uint256 internal constant BAR_SECONDS = 900;
    /// @notice Highest forwardBars.
    uint16 internal constant FORWARD_BARS_CEILING = 1_000;
    /// @notice Largest window file postForward takes (1 000 scored bars and the warm-up are 54 KB).
    uint256 internal constant MAX_FORWARD_BYTES = 65_536;
    /// @notice Highest forwardMarginSeconds: a week.
    uint32 internal constant FORWARD_MARGIN_CEILING = 7 days;
    /// @notice Highest forwardLagRounds; the floor is 1.
    uint16 internal constant FORWARD_LAG_CEILING = 1_000;
    /// @notice Highest forwardTrailRounds; the floor is 1.
    uint16 internal constant FORWARD_TRAIL_CEILING = 64;
    /// @notice Highest forwardNoiseZPpm: four standard errors.
    uint32 internal constant FORWARD_Z_CEILING = 4_000_000;
    /// @notice Highest forwardNoiseFloorBps.
    uint32 internal constant FORWARD_NOISE_FLOOR_CEILING = 10_000;
    /// @notice Highest normBoundRelPpm: 100 × the base model's norm.
    uint32 internal constant NORM_BOUND_REL_CEILING = 100_000_000;

    /// @notice Revert RuleOutOfBounds(field) on the first forward field outside its bounds.
    /// @param r the version
    /// @param commitWindow C
    /// @param revealWindow R
    /// @param roundLength L
    function check(IFLChainV2.Rules memory r, uint256 commitWindow, uint256 revealWindow, uint256 roundLength)
        internal
        pure
    {
        bytes32 field = firstOutOfBounds(r, commitWindow, revealWindow, roundLength);
        if (field != bytes32(0)) revert IFLChainV2.RuleOutOfBounds(field);
    }

    /// @notice The first forward field of `r` outside its bounds (left-aligned ASCII), or 0.
    ///         With forwardBars > 0 the lag must let every window close before its vote round
    ///         starts: C + R + margin + (bars + 2)·BAR ≤ lag·L.
    function firstOutOfBounds(IFLChainV2.Rules memory r, uint256 commitWindow, uint256 revealWindow, uint256 roundLength)
        internal
        pure
        returns (bytes32)
    {
        if (r.forwardBars > FORWARD_BARS_CEILING) return "forwardBars";
        if (r.forwardMarginSeconds > FORWARD_MARGIN_CEILING) return "forwardMarginSeconds";
        // With forwardBars = 0 a lag and a trail of 0 are fine: an all-zero forward part is valid.
        bool on = r.forwardBars > 0;
        if (r.forwardLagRounds > FORWARD_LAG_CEILING || (on && r.forwardLagRounds < 1)) return "forwardLagRounds";
        if (on) {
            uint256 needed =
                commitWindow + revealWindow + r.forwardMarginSeconds + (uint256(r.forwardBars) + 2) * BAR_SECONDS;
            if (needed > uint256(r.forwardLagRounds) * roundLength) return "forwardLagRounds";
        }
        if (r.forwardTrailRounds > FORWARD_TRAIL_CEILING || (on && r.forwardTrailRounds < 1)) {
            return "forwardTrailRounds";
        }
        if (r.forwardNoiseZPpm > FORWARD_Z_CEILING) return "forwardNoiseZPpm";
        if (r.forwardNoiseFloorBps > FORWARD_NOISE_FLOOR_CEILING) return "forwardNoiseFloorBps";
        if (r.normBoundRelPpm > NORM_BOUND_REL_CEILING) return "normBoundRelPpm";
        return bytes32(0);
    }

    /// @notice When round r's window has closed: ⌈(revealEnd + margin) / BAR⌉·BAR + (bars + 1)·BAR.
    function forwardClose(uint256 revealEnd, uint256 marginSeconds, uint256 bars) internal pure returns (uint256) {
        // slither-disable-next-line divide-before-multiply (the ceiling onto the 15-minute grid is the point)
        uint256 start = (revealEnd + marginSeconds + BAR_SECONDS - 1) / BAR_SECONDS * BAR_SECONDS;
        return start + (bars + 1) * BAR_SECONDS;
    }
}

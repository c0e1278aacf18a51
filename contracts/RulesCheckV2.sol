// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "./interfaces/IFLChainV2.sol";
import {ForwardLib} from "./libraries/ForwardLib.sol";
import {RulesV2Lib} from "./libraries/RulesV2Lib.sol";

/// @title RulesCheckV2 — the bounds of a rules version, as a contract FLChainV2 creates
/// @notice FLChainV2's constructor creates one and `scheduleRules` asks it which field of a
///         new version is out of bounds (docs/protocol.md §2.2, §15.1). The checks run on the
///         governor's cold path only; keeping them out of FLChainV2's runtime code keeps that
///         under EIP-170's 24 576 bytes. Stateless and pure: the same answer for every caller.
contract RulesCheckV2 {
    /// @notice The first field of `rules` outside its bounds (left-aligned ASCII), or 0:
    ///         RulesV2Lib's fields in declaration order, then ForwardLib's.
    /// @param rules the version
    /// @param minNoticeRounds the deployment's floor of noticeRounds
    /// @param minBond the deployment's smallest active stake
    /// @param commitWindow C
    /// @param revealWindow R
    /// @param roundLength L
    function firstOutOfBounds(
        IFLChainV2.Rules calldata rules,
        uint256 minNoticeRounds,
        uint256 minBond,
        uint256 commitWindow,
        uint256 revealWindow,
        uint256 roundLength
    ) external pure returns (bytes32 field) {
        IFLChainV2.Rules memory r = rules;
        field = RulesV2Lib.firstOutOfBounds(r, minNoticeRounds, minBond);
        if (field == bytes32(0)) field = ForwardLib.firstOutOfBounds(r, commitWindow, revealWindow, roundLength);
    }
}

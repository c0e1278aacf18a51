// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../interfaces/IFLChainV2.sol";

/// @notice The first storage word of an `IFLChainV2.Rules` version, as Solidity packs it
///         (least significant first): effectiveRound, roiMinBps, roiMaxBps,
///         eligibilityMinScoreBps (32 bits each), probationRounds, penaltyCooldownRounds,
///         maxParticipants, noticeRounds (16 bits each), finalityPpm, maxPayloadBytes (32 bits
///         each). These are the fields reveal, finalize and scheduling read, so the contract
///         keeps a copy of this word for the newest version and the one before it, and a rule
///         lookup for the round in progress is one storage read.
/// @dev test/v2 checks every getter against the struct's own fields for random versions.
type RulesGate is uint256;

using RulesGateLibrary for RulesGate global;

/// @title RulesGateLibrary — `RulesGate` read from a version and decoded
library RulesGateLibrary {
    uint256 private constant WORD32 = 0xffffffff;
    uint256 private constant WORD16 = 0xffff;

    /// @notice The gate word of version `rules`.
    function read(IFLChainV2.Rules storage rules) internal view returns (RulesGate gate) {
        // slither-disable-next-line assembly (the struct's first slot as one word)
        assembly ("memory-safe") {
            gate := sload(rules.slot)
        }
    }

    function effectiveRound(RulesGate g) internal pure returns (uint32) {
        return uint32(RulesGate.unwrap(g) & WORD32);
    }

    function roiMinBps(RulesGate g) internal pure returns (int32) {
        return int32(uint32((RulesGate.unwrap(g) >> 32) & WORD32));
    }

    function roiMaxBps(RulesGate g) internal pure returns (int32) {
        return int32(uint32((RulesGate.unwrap(g) >> 64) & WORD32));
    }

    function eligibilityMinScoreBps(RulesGate g) internal pure returns (int32) {
        return int32(uint32((RulesGate.unwrap(g) >> 96) & WORD32));
    }

    function probationRounds(RulesGate g) internal pure returns (uint16) {
        return uint16((RulesGate.unwrap(g) >> 128) & WORD16);
    }

    function penaltyCooldownRounds(RulesGate g) internal pure returns (uint16) {
        return uint16((RulesGate.unwrap(g) >> 144) & WORD16);
    }

    function noticeRounds(RulesGate g) internal pure returns (uint16) {
        return uint16((RulesGate.unwrap(g) >> 176) & WORD16);
    }

    function finalityPpm(RulesGate g) internal pure returns (uint32) {
        return uint32((RulesGate.unwrap(g) >> 192) & WORD32);
    }

    function maxPayloadBytes(RulesGate g) internal pure returns (uint32) {
        return uint32(RulesGate.unwrap(g) >> 224);
    }
}

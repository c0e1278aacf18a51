// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../../contracts/interfaces/IFLChainV2.sol";
import {vm} from "../../utils/Vm.sol";

/// @notice A node's update for a round, with everything commit and reveal need.
struct Update {
    uint256 round;
    bytes payload;
    bytes32 baseDigest;
    int32 roiBps;
    bytes32 salt;
}

/// @notice Deployment, schedule, update, settlement-tree and result helpers shared by the v2
///         unit, fuzz, invariant and gas tests. The schedule is the machine tests'
///         (tests/protocol/machine_world.py).
/// @dev The contract under test is deployed from the committed artifact's bytecode
///      (flchain/contracts/FLChainV2.json: what flchain deploys, not forge's own build) and is
///      reached only through IFLChainV2. Recompile the artifact after a contract change.
abstract contract V2Test {
    string internal constant ARTIFACT = "flchain/contracts/FLChainV2.json";
    uint64 internal constant T0 = 100_000;
    uint64 internal constant ROUND = 1_000;
    uint64 internal constant COMMIT = 400;
    uint64 internal constant REVEAL = 300;
    uint64 internal constant BEACON = 100;
    uint64 internal constant EXIT_DELAY = 2 * ROUND;
    uint256 internal constant MIN_BOND = 1 ether;
    uint256 internal constant TREE_DEPTH = 16;
    bytes internal constant GENESIS = "genesis model";
    // 48 bytes: the contract stores and returns the key, the merge verifies against it
    bytes internal constant BEACON_KEY =
        hex"a0b862a7527fee3a731bcb59280ab6abd62d5c0b6ea03dc4ddf6612fdfc9d01f01c31542541771903475eb1ec6615f8d";

    bytes private _creationCode;

    // ------------------------------------------------------------ deployment

    function defaultDeployment() internal pure returns (IFLChainV2.Deployment memory d) {
        d.t0 = T0;
        d.roundLength = ROUND;
        d.commitWindow = COMMIT;
        d.revealWindow = REVEAL;
        d.beaconWindow = BEACON;
        d.exitDelay = EXIT_DELAY;
        d.minNoticeRounds = 1;
        d.minBond = MIN_BOND;
        d.genesisDigest = sha256(GENESIS);
        d.genesisCid = rawCid(GENESIS);
        d.beaconGenesis = T0 - 100;
        d.beaconPeriod = 3;
        d.beaconDelay = 10;
        d.beaconPublicKey = BEACON_KEY;
    }

    /// @notice The machine's defaults (flchain.protocol.machine.RulesV2()).
    function defaultRules() internal pure returns (IFLChainV2.Rules memory r) {
        r.roiMinBps = -5_000;
        r.roiMaxBps = 20_000;
        r.eligibilityMinScoreBps = -10_000;
        r.probationRounds = 3;
        r.penaltyCooldownRounds = 3;
        r.maxParticipants = 64;
        r.noticeRounds = 2;
        r.finalityPpm = 666_666;
        r.maxPayloadBytes = 16_384;
        r.similarityThresholdPpm = 950_000;
        r.clusterCapPpm = 1_000_000;
        r.trimPpm = 100_000;
        r.roiToleranceBps = 1;
        r.normBoundMicro = 100_000_000;
        r.feePpm = 1_000;
        r.bountyPpm = 100_000;
        r.noRevealSlashWei = 0.05 ether;
        r.penaltySlashWei = 0.1 ether;
        r.wrongVoteSlashWei = 0.02 ether;
    }

    function creationCode() internal returns (bytes memory) {
        if (_creationCode.length == 0) _creationCode = vm.parseJsonBytes(vm.readFile(ARTIFACT), ".bytecode");
        return _creationCode;
    }

    function deployV2(IFLChainV2.Deployment memory d, IFLChainV2.Rules memory r) internal returns (IFLChainV2) {
        return IFLChainV2(this.create(abi.encodePacked(creationCode(), abi.encode(d, r))));
    }

    function deployDefault() internal returns (IFLChainV2) {
        return deployV2(defaultDeployment(), defaultRules());
    }

    /// @notice CREATE `initCode`, bubbling a constructor's revert (an external call, so that
    ///         `vm.expectRevert` sees the deployment as the next call).
    function create(bytes calldata initCode) external returns (address deployed) {
        bytes memory code = initCode;
        assembly ("memory-safe") {
            deployed := create(0, add(code, 0x20), mload(code))
            if iszero(deployed) {
                returndatacopy(0, 0, returndatasize())
                revert(0, returndatasize())
            }
        }
    }

    // ------------------------------------------------------------ schedule

    /// @notice The start of `phase` of `round` plus `offset` seconds (default schedule).
    function timeOf(uint256 round, IFLChainV2.Phase phase, uint256 offset) internal pure returns (uint256) {
        uint256 start = T0 + round * ROUND;
        if (phase == IFLChainV2.Phase.Reveal) start += COMMIT;
        else if (phase == IFLChainV2.Phase.Beacon) start += COMMIT + REVEAL;
        else if (phase == IFLChainV2.Phase.Attest) start += COMMIT + REVEAL + BEACON;
        return start + offset;
    }

    function goTo(uint256 round, IFLChainV2.Phase phase) internal {
        vm.warp(timeOf(round, phase, 1));
    }

    // ------------------------------------------------------------ CIDs, updates, commitments

    function rawCid(bytes memory content) internal pure returns (bytes memory) {
        return abi.encodePacked(bytes4(0x01551220), sha256(content));
    }

    function dagPbCid(bytes32 digest) internal pure returns (bytes memory) {
        return abi.encodePacked(bytes4(0x01701220), digest);
    }

    /// @notice An honest update of `node` for `round` on `base`, `size` bytes of payload.
    function makeUpdate(address node, uint256 round, bytes32 base, uint256 size) internal pure returns (Update memory u) {
        u.round = round;
        bytes memory payload = new bytes(size + 32); // room for the last whole word
        bytes32 seed = keccak256(abi.encode("payload", node, round));
        for (uint256 i = 0; i < size; i += 32) {
            seed = keccak256(abi.encode(seed));
            assembly ("memory-safe") {
                mstore(add(add(payload, 0x20), i), seed)
            }
        }
        assembly ("memory-safe") {
            mstore(payload, size) // the tail beyond `size` is scratch
        }
        u.payload = payload;
        u.baseDigest = base;
        u.roiBps = 100;
        u.salt = keccak256(abi.encode("salt", node, round));
    }

    function commitmentFor(IFLChainV2 chain, address node, Update memory u) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("flchain.v2.commit"),
                block.chainid,
                address(chain),
                u.round,
                node,
                sha256(u.payload),
                u.baseDigest,
                u.roiBps,
                u.salt
            )
        );
    }

    function register(IFLChainV2 chain, address node, uint256 bond) internal {
        vm.deal(node, node.balance + bond);
        vm.prank(node);
        chain.register{value: bond}();
    }

    function commit(IFLChainV2 chain, address node, Update memory u) internal {
        bytes32 c = commitmentFor(chain, node, u);
        vm.prank(node);
        chain.commit(uint48(u.round), c);
    }

    function reveal(IFLChainV2 chain, address node, Update memory u) internal returns (IFLChainV2.RevealOutcome) {
        vm.prank(node);
        return chain.reveal(u.round, u.payload, u.baseDigest, u.roiBps, u.salt);
    }

    // ------------------------------------------------------------ settlement trees and results

    function leafHash(IFLChainV2 chain, IFLChainV2.Leaf memory l) internal view returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(
                        keccak256("flchain.v2.leaf"),
                        block.chainid,
                        address(chain),
                        l.node,
                        l.index,
                        l.cumEarned,
                        l.cumPenalties,
                        l.mergedRounds,
                        l.lastPenaltyRound,
                        l.scoreBps
                    )
                )
            )
        );
    }

    /// @notice Every level of the tree whose positions 0..n−1 hold `leaves` (the rest empty):
    ///         levels[h][i] is the node at height h, position i. An empty subtree is the zero
    ///         word at every height (two empty children make an empty parent), as in
    ///         flchain.protocol.merkle.
    function treeLevels(bytes32[] memory leaves) internal pure returns (bytes32[][] memory levels) {
        levels = new bytes32[][](TREE_DEPTH + 1);
        levels[0] = leaves;
        bytes32 zero = bytes32(0);
        for (uint256 h = 0; h < TREE_DEPTH; ++h) {
            bytes32[] memory below = levels[h];
            uint256 n = (below.length + 1) / 2;
            if (n == 0) n = 1;
            bytes32[] memory level = new bytes32[](n);
            for (uint256 i = 0; i < n; ++i) {
                bytes32 left = 2 * i < below.length ? below[2 * i] : zero;
                bytes32 right = 2 * i + 1 < below.length ? below[2 * i + 1] : zero;
                level[i] = left == zero && right == zero ? zero : keccak256(abi.encodePacked(left, right));
            }
            levels[h + 1] = level;
        }
    }

    function rootOf(bytes32[][] memory levels) internal pure returns (bytes32) {
        return levels[TREE_DEPTH][0];
    }

    function proofOf(bytes32[][] memory levels, uint256 index) internal pure returns (bytes32[16] memory proof) {
        bytes32 zero = bytes32(0);
        for (uint256 h = 0; h < TREE_DEPTH; ++h) {
            uint256 sibling = (index >> h) ^ 1;
            proof[h] = sibling < levels[h].length ? levels[h][sibling] : zero;
        }
    }

    /// @notice A result with a raw merged CID over `label` and a dag-pb manifest CID.
    function makeResult(bytes memory label, bytes32 root, uint128 roundEarned)
        internal
        pure
        returns (IFLChainV2.Result memory r)
    {
        r.mergedDigest = sha256(abi.encodePacked("merged ", label));
        r.mergedCid = abi.encodePacked(bytes4(0x01551220), r.mergedDigest);
        r.manifestCid = dagPbCid(sha256(abi.encodePacked("manifest ", label)));
        r.settlementRoot = root;
        r.roundEarned = roundEarned;
    }

    function resultHash(IFLChainV2 chain, uint256 round, IFLChainV2.Result memory r) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("flchain.v2.result"),
                block.chainid,
                address(chain),
                round,
                r.mergedDigest,
                keccak256(r.mergedCid),
                keccak256(r.manifestCid),
                r.settlementRoot,
                r.roundEarned
            )
        );
    }

    // ------------------------------------------------------------ fuzz helpers

    /// @notice `x` mapped into [lo, hi] (forge-std's `bound`, which is not available here).
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }

    function boundInt(int256 x, int256 lo, int256 hi) internal pure returns (int256) {
        uint256 span = uint256(hi - lo) + 1;
        return lo + int256(uint256(x) % span);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChain} from "../../contracts/interfaces/IFLChain.sol";
import {vm} from "./Vm.sol";

/// @notice A revealed update's fields, as a node keeps them between commit and reveal.
struct Update {
    bytes32 updateDigest;
    bytes cid;
    bytes32 baseDigest;
    int32 roiBps;
    bytes32 salt;
}

/// @notice A merge result as attested.
struct Result {
    bytes32 mergedDigest;
    bytes mergedCid;
    bytes manifestCid;
    address[] penalised;
}

/// @notice Deployment, schedule and commitment helpers shared by the unit, fuzz and invariant
///         tests. The schedule is the Python ledger tests' (tests/ledger/conftest.py).
/// @dev The contract under test is deployed from the committed artifact's bytecode (what
///      flchain deploys), not from forge's own build of contracts/, and is reached only through
///      IFLChain.
abstract contract FLChainTest {
    string internal constant ARTIFACT = "flchain/contracts/FLChain.json";
    uint64 internal constant T0 = 10_000;
    uint64 internal constant ROUND = 1_000;
    uint64 internal constant COMMIT = 400;
    uint64 internal constant REVEAL = 300;
    uint64 internal constant EXIT_DELAY = 50;
    uint256 internal constant MIN_BOND = 1 ether;
    bytes internal constant GENESIS = "genesis model bytes";

    /// @notice Rules with the Python defaults (flchain.protocol.Rules()).
    function defaultRules() internal pure returns (IFLChain.Rules memory r) {
        r.roiMinBps = -5_000;
        r.roiMaxBps = 20_000;
        r.eligibilityMinScoreBps = -10_000;
        r.probationRounds = 3;
        r.quorum = 1;
        r.maxParticipants = 64;
        r.similarityThresholdPpm = 950_000;
        r.clusterCapPpm = 1_000_000;
        r.trimPpm = 100_000;
        r.roiToleranceBps = 1;
        r.normBoundMicro = 100_000_000;
        r.feePpm = 1_000;
    }

    bytes private _creationCode;

    /// @notice The committed artifact's creation bytecode (read once per test contract).
    function creationCode() internal returns (bytes memory) {
        if (_creationCode.length == 0) _creationCode = vm.parseJsonBytes(vm.readFile(ARTIFACT), ".bytecode");
        return _creationCode;
    }

    /// @notice A deployment with the standard schedule and bond and `rules`.
    function deploy(IFLChain.Rules memory rules) internal returns (IFLChain) {
        return deployWith(T0, ROUND, COMMIT, REVEAL, MIN_BOND, sha256(GENESIS), rawCid(GENESIS), rules);
    }

    function deployWith(
        uint64 t0,
        uint64 roundLength,
        uint64 commitWindow,
        uint64 revealWindow,
        uint256 minBond,
        bytes32 genesisDigest,
        bytes memory genesisCid,
        IFLChain.Rules memory rules
    ) internal returns (IFLChain) {
        bytes memory args =
            abi.encode(t0, roundLength, commitWindow, revealWindow, minBond, EXIT_DELAY, genesisDigest, genesisCid, rules);
        return IFLChain(this.create(abi.encodePacked(creationCode(), args)));
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

    /// @notice The CID `ipfs add --cid-version=1 --raw-leaves` gives a single-block `content`.
    function rawCid(bytes memory content) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x01), uint8(0x55), uint8(0x12), uint8(0x20), sha256(content));
    }

    /// @notice A dag-pb root CID over `digest` (its content cannot be checked on-chain).
    function dagPbCid(bytes32 digest) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x01), uint8(0x70), uint8(0x12), uint8(0x20), digest);
    }

    /// @notice Start of `phase` of `round` plus `offset` seconds.
    function timeOf(uint256 round, IFLChain.Phase phase, uint256 offset) internal pure returns (uint256) {
        uint256 start = T0 + round * ROUND;
        if (phase == IFLChain.Phase.Reveal) start += COMMIT;
        else if (phase == IFLChain.Phase.Closed) start += COMMIT + REVEAL;
        return start + offset;
    }

    function goTo(uint256 round, IFLChain.Phase phase) internal {
        vm.warp(timeOf(round, phase, 1));
    }

    /// @notice An accepted-by-default update whose content is `seed`.
    function makeUpdate(bytes memory seed, int32 roiBps) internal pure returns (Update memory u) {
        u.updateDigest = sha256(seed);
        u.cid = rawCid(seed);
        u.baseDigest = sha256(GENESIS);
        u.roiBps = roiBps;
        u.salt = keccak256(abi.encode("salt", seed));
    }

    /// @notice The commitment `node` posts for `u` in `round` on `chain` (IFLChain.commit).
    function commitmentFor(IFLChain chain, uint256 round, address node, Update memory u)
        internal
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                block.chainid, address(chain), round, node, u.updateDigest, keccak256(u.cid), u.baseDigest, u.roiBps, u.salt
            )
        );
    }

    function register(IFLChain chain, address node) internal {
        vm.deal(node, MIN_BOND);
        vm.prank(node);
        chain.register{value: MIN_BOND}();
    }

    function commit(IFLChain chain, uint256 round, address node, Update memory u) internal {
        vm.prank(node);
        chain.commit(round, commitmentFor(chain, round, node, u));
    }

    function reveal(IFLChain chain, uint256 round, address node, Update memory u) internal {
        vm.prank(node);
        chain.reveal(round, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt);
    }

    /// @notice A result whose merged model is `content` (raw CID) with a raw manifest CID.
    function makeResult(bytes memory content, address[] memory penalised) internal pure returns (Result memory r) {
        r.mergedDigest = sha256(content);
        r.mergedCid = rawCid(content);
        r.manifestCid = rawCid(abi.encodePacked("manifest of ", content));
        r.penalised = penalised;
    }

    function attest(IFLChain chain, uint256 round, address node, Result memory r) internal returns (bytes32) {
        vm.prank(node);
        return chain.attest(round, r.mergedDigest, r.mergedCid, r.manifestCid, r.penalised);
    }

    /// @notice `round` is final with result `r` and `votes` attestations of it.
    function assertFinal(IFLChain chain, uint256 round, Result memory r, uint256 votes) internal view {
        (bool isFinal, bytes32 digest, bytes memory mergedCid, bytes memory manifestCid,, uint16 count) =
            chain.finalized(round);
        vm.assertTrue(isFinal, "final");
        vm.assertEq(digest, r.mergedDigest, "merged digest");
        vm.assertEq(mergedCid, r.mergedCid, "merged cid");
        vm.assertEq(manifestCid, r.manifestCid, "manifest cid");
        vm.assertEq(uint256(count), votes, "votes");
    }

    function outcomeOf(IFLChain chain, uint256 round, address node) internal view returns (IFLChain.RevealOutcome) {
        (, bool revealed, IFLChain.RevealOutcome outcome) = chain.commitmentOf(round, node);
        vm.assertTrue(revealed, "not revealed");
        return outcome;
    }

    /// @notice `x` mapped into [lo, hi] (forge-std's `bound`, which is not available here).
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }

    function boundInt(int256 x, int256 lo, int256 hi) internal pure returns (int256) {
        uint256 span = uint256(hi - lo) + 1;
        return lo + int256(uint256(x) % span); // two's complement reinterpretation; any x is fine
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChain} from "../contracts/interfaces/IFLChain.sol";
import {FLChainTest, Result, Update} from "./utils/FLChainTest.sol";
import {Vm, console, vm} from "./utils/Vm.sol";

/// @notice Drives one FLChain deployment with the calls a federation makes — register, exit,
///         withdraw, commit, reveal, attest, schedule rules, time passing — for a few fixed
///         nodes, and records what the invariants compare against (ghost state). It is the
///         governor. Arguments come from the fuzzer's seeds, steered so that most calls are
///         valid: a commit, reveal or attestation first moves time forward to a window where
///         it can succeed (time never goes back), exits are rare, and attestations choose
///         among few results so that they collide and rounds finalize.
contract Handler is FLChainTest {
    IFLChain public chain;
    uint256 public constant NODES = 5;
    address[NODES] public nodes;

    bytes32 private constant ROUND_FINALIZED = keccak256("RoundFinalized(uint256,bytes32,uint256)");

    // ghost state
    mapping(uint256 round => mapping(address node => Update)) private _preimages;
    mapping(uint256 round => uint256) public finalizedEvents;
    mapping(uint256 round => bytes32) public finalSeen; // keccak of finalized(round) when first final
    uint256 public highestAttestedRound;
    uint256[] public attestedRounds;
    bytes32[] public attestedResults;
    mapping(uint256 round => bytes32) public rulesSnapshot; // keccak of rulesForRound once open
    uint256 public openedRounds; // rounds 0 .. openedRounds-1 have a snapshot
    mapping(address node => IFLChain.Status) public lastStatus;
    bool public statusRegressed;
    mapping(bytes32 action => uint256) public succeeded; // calls the contract accepted

    /// @dev Not the constructor: the deployment goes through `this.create`, which needs code.
    function init() external {
        require(address(chain) == address(0), "once");
        IFLChain.Rules memory rules = defaultRules();
        rules.quorum = 2;
        rules.probationRounds = 2;
        chain = deploy(rules);
        for (uint256 i = 0; i < NODES; ++i) {
            nodes[i] = address(uint160(0x1000 + i)); // ascending: penalised lists are sorted
        }
        vm.warp(T0); // round 0 opens: the runs spend their calls on rounds, not on waiting
    }

    modifier recorded() {
        _;
        _snapshotOpenRounds();
        _checkStatuses();
    }

    // ------------------------------------------------------------ actions

    function register(uint256 nodeSeed, uint256 bondSeed) external recorded {
        address node = nodes[nodeSeed % NODES];
        uint256 bond = MIN_BOND + bondSeed % 3 ether;
        vm.deal(node, bond);
        vm.prank(node);
        try chain.register{value: bond}() {
            succeeded["register"] += 1;
        } catch {}
    }

    function requestExit(uint256 nodeSeed) external recorded {
        if (nodeSeed % 8 != 0) return; // rare: a node that left never comes back
        vm.prank(nodes[(nodeSeed >> 8) % NODES]);
        try chain.requestExit() {
            succeeded["requestExit"] += 1;
        } catch {}
    }

    function withdraw(uint256 nodeSeed) external recorded {
        vm.prank(nodes[nodeSeed % NODES]);
        try chain.withdraw() {
            succeeded["withdraw"] += 1;
        } catch {}
    }

    function pass(uint256 secondsSeed) external recorded {
        // mostly within a window, sometimes past a whole round
        uint256 step = secondsSeed % 8 == 0 ? bound(secondsSeed, ROUND, 3 * ROUND) : bound(secondsSeed, 1, COMMIT);
        vm.warp(block.timestamp + step);
    }

    function commit(uint256 nodeSeed, int256 roiSeed) external recorded {
        (uint256 round, IFLChain.Phase phase) = chain.currentPhase();
        // in a reveal window, mostly leave the time to the reveals
        if (phase == IFLChain.Phase.Reveal && nodeSeed % 4 != 0) return;
        if (phase != IFLChain.Phase.Commit) {
            round += 1;
            vm.warp(timeOf(round, IFLChain.Phase.Commit, (nodeSeed >> 8) % COMMIT));
        }
        address node = _pick(nodeSeed, round, false);
        Update memory u = makeUpdate(abi.encode(round, node, roiSeed), int32(boundInt(roiSeed, -6_000, 21_000)));
        _preimages[round][node] = u;
        vm.prank(node);
        try chain.commit(round, commitmentFor(chain, round, node, u)) {
            succeeded["commit"] += 1;
        } catch {}
    }

    function reveal(uint256 nodeSeed) external recorded {
        (uint256 round, IFLChain.Phase phase) = chain.currentPhase();
        if (phase == IFLChain.Phase.Commit) vm.warp(timeOf(round, IFLChain.Phase.Reveal, (nodeSeed >> 8) % REVEAL));
        address node = _pick(nodeSeed, round, true);
        Update memory u = _preimages[round][node];
        vm.prank(node);
        try chain.reveal(round, u.updateDigest, u.cid, u.baseDigest, u.roiBps, u.salt) {
            succeeded["reveal"] += 1;
        } catch {}
    }

    /// @dev Few distinct results (two models, with or without penalising every accepted
    ///      revealer), so that attestations collide and rounds finalize.
    function attest(uint256 nodeSeed, uint256 resultSeed, uint256 roundSeed) external recorded {
        (uint256 current, IFLChain.Phase phase) = chain.currentPhase();
        if (phase != IFLChain.Phase.Closed && current == 0) {
            vm.warp(timeOf(0, IFLChain.Phase.Closed, 0));
            phase = IFLChain.Phase.Closed;
        }
        // the latest closed round, or one of the two before it
        uint256 latestClosed = phase == IFLChain.Phase.Closed ? current : current - 1;
        uint256 back = roundSeed % 4 == 0 ? 1 + (roundSeed >> 8) % 2 : 0;
        uint256 round = latestClosed >= back ? latestClosed - back : latestClosed;
        address node = nodes[nodeSeed % NODES];
        // mostly model A; sometimes B; sometimes A penalising every accepted revealer
        uint256 kind = resultSeed % 6;
        Result memory r = makeResult(kind == 4 ? bytes("model B") : bytes("model A"), new address[](0));
        if (kind == 5) r.penalised = _acceptedRevealers(round);

        vm.recordLogs();
        vm.prank(node);
        try chain.attest(round, r.mergedDigest, r.mergedCid, r.manifestCid, r.penalised) returns (bytes32 h) {
            succeeded["attest"] += 1;
            attestedRounds.push(round);
            attestedResults.push(h);
            if (round + 1 > highestAttestedRound) highestAttestedRound = round + 1;
        } catch {}
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] == ROUND_FINALIZED) {
                finalizedEvents[uint256(logs[i].topics[1])] += 1;
                succeeded["finalize"] += 1;
            }
        }
        bytes32 fin = _finalHash(round);
        if (fin != bytes32(0) && finalSeen[round] == bytes32(0)) finalSeen[round] = fin;
    }

    /// @dev Mostly a valid change for a coming round; sometimes one for the open round, which
    ///      must be refused.
    function scheduleRules(uint256 seed) external recorded {
        (uint256 current,) = chain.currentPhase();
        IFLChain.Rules memory r = defaultRules();
        r.effectiveRound = uint32(current + (seed % 4)); // + 0: the open round (after T0)
        r.quorum = uint16(1 + (seed >> 8) % 3);
        r.roiMinBps = -int32(int256((seed >> 16) % 5_000));
        r.roiMaxBps = int32(int256((seed >> 32) % 20_000));
        r.probationRounds = uint16((seed >> 48) % 3);
        try chain.scheduleRules(r) {
            succeeded["scheduleRules"] += 1;
        } catch {}
    }

    // ------------------------------------------------------------ ghost bookkeeping

    /// @dev From the seed's node on, the first that can commit in `round` (`toReveal` false:
    ///      active, not committed) or reveal (`toReveal`: committed, not revealed); the seed's
    ///      node if none can, so that refusals are exercised too.
    function _pick(uint256 nodeSeed, uint256 round, bool toReveal) private view returns (address) {
        for (uint256 k = 0; k < NODES; ++k) {
            address node = nodes[(nodeSeed % NODES + k) % NODES];
            (bytes32 commitment, bool revealed,) = chain.commitmentOf(round, node);
            if (toReveal && commitment != bytes32(0)) return node;
            (IFLChain.NodeRecord memory rec,) = chain.nodeRecord(node);
            if (!toReveal && !revealed && commitment == bytes32(0) && rec.status == IFLChain.Status.Active) {
                return node;
            }
        }
        return nodes[nodeSeed % NODES];
    }

    function _acceptedRevealers(uint256 round) private view returns (address[] memory list) {
        list = new address[](NODES);
        uint256 n;
        for (uint256 i = 0; i < NODES; ++i) {
            (, bool revealed, IFLChain.RevealOutcome outcome) = chain.commitmentOf(round, nodes[i]);
            if (revealed && outcome == IFLChain.RevealOutcome.Accepted) list[n++] = nodes[i];
        }
        assembly ("memory-safe") {
            mstore(list, n)
        }
    }

    function _finalHash(uint256 round) internal view returns (bytes32) {
        (bool isFinal, bytes32 digest, bytes memory mergedCid, bytes memory manifestCid, uint64 finalizedAt,) =
            chain.finalized(round);
        return isFinal ? keccak256(abi.encode(digest, mergedCid, manifestCid, finalizedAt)) : bytes32(0);
    }

    /// @dev Every round that has opened gets its rules recorded the first time a call ends
    ///      while it is open or later. (Before T0 no round is open and rules may be replaced.)
    function _snapshotOpenRounds() private {
        if (block.timestamp < T0) return;
        (uint256 current,) = chain.currentPhase();
        for (uint256 round = openedRounds; round <= current; ++round) {
            rulesSnapshot[round] = keccak256(abi.encode(chain.rulesForRound(round)));
        }
        if (current + 1 > openedRounds) openedRounds = current + 1;
    }

    function _checkStatuses() private {
        for (uint256 i = 0; i < NODES; ++i) {
            (IFLChain.NodeRecord memory rec,) = chain.nodeRecord(nodes[i]);
            if (rec.status < lastStatus[nodes[i]]) statusRegressed = true;
            lastStatus[nodes[i]] = rec.status;
        }
    }

    // ------------------------------------------------------------ views for the invariants

    function finalHash(uint256 round) external view returns (bytes32) {
        return _finalHash(round);
    }

    function attestations() external view returns (uint256) {
        return attestedRounds.length;
    }
}

/// @notice Invariants of protocol v1 under any sequence of the handler's calls.
contract FLChainInvariantTest {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    Handler internal handler;
    IFLChain internal chain;

    function setUp() public {
        handler = new Handler();
        handler.init();
        chain = handler.chain();
    }

    /// @dev Read by forge: fuzz only the handler, and only its actions.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](8);
        selectors[0] = Handler.register.selector;
        selectors[1] = Handler.requestExit.selector;
        selectors[2] = Handler.withdraw.selector;
        selectors[3] = Handler.pass.selector;
        selectors[4] = Handler.commit.selector;
        selectors[5] = Handler.reveal.selector;
        selectors[6] = Handler.attest.selector;
        selectors[7] = Handler.scheduleRules.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    /// @notice The contract holds exactly the bonds of the nodes that have not withdrawn.
    function invariant_balanceIsTheBondsOfNodesNotWithdrawn() public view {
        uint256 sum;
        for (uint256 i = 0; i < handler.NODES(); ++i) {
            (IFLChain.NodeRecord memory rec, uint256 bond) = chain.nodeRecord(handler.nodes(i));
            if (rec.status == IFLChain.Status.Withdrawn) vm.assertEq(bond, 0, "withdrawn node keeps a bond");
            else sum += bond;
        }
        vm.assertEq(address(chain).balance, sum, "balance != bonds");
    }

    /// @notice A round is finalized at most once, and its final result never changes.
    function invariant_atMostOneFinalResultPerRound() public view {
        for (uint256 round = 0; round < handler.highestAttestedRound(); ++round) {
            vm.assertLe(handler.finalizedEvents(round), 1, "finalized twice");
            bytes32 seen = handler.finalSeen(round);
            vm.assertEq(handler.finalHash(round), seen, "final result changed");
            vm.assertEq(handler.finalizedEvents(round), seen == bytes32(0) ? 0 : 1, "event without final");
        }
    }

    /// @notice The rules of a round never change once it is open.
    function invariant_rulesOfAnOpenRoundNeverChange() public view {
        for (uint256 round = 0; round < handler.openedRounds(); ++round) {
            vm.assertEq(keccak256(abi.encode(chain.rulesForRound(round))), handler.rulesSnapshot(round), "rules changed");
        }
    }

    /// @notice None → Active → Exiting → Withdrawn, never back.
    function invariant_statusOnlyMovesForward() public view {
        vm.assertFalse(handler.statusRegressed(), "a status moved back");
    }

    /// @notice No result ever has more votes than there are registered nodes.
    function invariant_votesNeverExceedRegisteredNodes() public view {
        uint256 registered = chain.nodeCount();
        for (uint256 i = 0; i < handler.attestations(); ++i) {
            uint256 round = handler.attestedRounds(i);
            vm.assertLe(chain.votesFor(round, handler.attestedResults(i)), registered, "votes > nodes");
            (,,,,, uint16 votes) = chain.finalized(round);
            vm.assertLe(votes, registered, "final votes > nodes");
        }
    }

    /// @notice Not an invariant: after each run, logs (forge test -vv) how many calls of each
    ///         kind the contract accepted, to show the runs reach the states that matter.
    function afterInvariant() public view {
        bytes32[8] memory actions =
            [bytes32("register"), "commit", "reveal", "attest", "finalize", "requestExit", "withdraw", "scheduleRules"];
        for (uint256 i = 0; i < actions.length; ++i) {
            console.log(string(abi.encodePacked(actions[i])), handler.succeeded(actions[i]));
        }
    }
}

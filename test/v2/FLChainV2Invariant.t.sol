// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../contracts/interfaces/IFLChainV2.sol";
import {Vm, console, vm} from "../utils/Vm.sol";
import {Update} from "./utils/V2Test.sol";
import {V2World} from "./utils/V2World.sol";

/// @notice Drives one FLChainV2 deployment with what a federation and its adversaries do —
///         registrations, bonds, commits, reveals (some stale or with an abnormal ROI), beacon
///         posts, attestations (some for a rogue result), finalizations, settlements by the node
///         or a third party, no-reveal slashes, exits, withdrawals, rule changes and
///         cancellations, pauses, time warps — and checks after every call, from the state
///         before it and the events it emitted, what the invariants need (ghost flags). It is
///         the governor. Time only moves forward; a call first warps to the next window it can
///         succeed in, so that most calls are accepted.
contract V2Handler is V2World {
    uint256 public constant NODES = 6;
    address[NODES] public nodes;

    bytes32 private constant REGISTERED = keccak256("Registered(address,uint32,uint256,uint256)");
    bytes32 private constant BOND_ADDED = keccak256("BondAdded(address,uint256,uint256,uint256)");
    bytes32 private constant WITHDRAWN = keccak256("Withdrawn(address,uint256)");
    bytes32 private constant SLASHED = keccak256("Slashed(address,uint256,uint8,uint256,uint256,address)");
    bytes32 private constant FINALIZED = keccak256("Finalized(uint256,bytes32,uint256,uint256)");

    /// @notice What the checks need of a node from before the call.
    struct Pre {
        IFLChainV2.NodeView view_;
        uint256 latestPlusOne;
    }

    // ghost state
    mapping(uint256 round => mapping(address node => Update)) private _preimages;
    mapping(uint256 round => mapping(address node => bool)) public committed;
    mapping(uint256 round => mapping(address node => bool)) public revealed;
    mapping(uint256 round => bool) private _cached;
    mapping(uint256 round => IFLChainV2.Result) private _honest;
    mapping(uint256 round => IFLChainV2.Leaf[]) private _honestLeaves;
    mapping(uint256 round => uint256) public finalizedCount;
    mapping(uint256 round => mapping(address node => uint256)) private _stakeSeen; // stake + 1
    mapping(uint256 round => uint256) private _totalSeen; // total + 1
    mapping(uint256 round => bytes32) private _rulesSeen;
    mapping(bytes32 fault => uint256) public slashedTimes;
    mapping(bytes32 action => uint256) public succeeded;
    uint256 public earnedFinal; // Σ roundEarned of final rounds
    uint256 public reservedFinal; // Σ reserved of final rounds
    uint256 public highestRound;

    // the invariants' verdicts: a flag is set the first time its property fails
    bool public finalAfterDeadline;
    bool public finalTwice;
    bool public finalWithoutEvent;
    bool public weightChanged;
    bool public faultSlashedTwice;
    bool public slashWithoutPrecondition;
    bool public bondMovedOtherwise;
    bool public earlyWithdrawal;
    bool public rulesChangedInsideNotice;
    bool public collectMispaid;

    uint256 private _step; // calls so far
    mapping(address node => IFLChainV2.Leaf) private _leafUsed; // by the node's last settle call
    mapping(address node => uint256) private _settleStep; // the step of that call
    mapping(address node => Pre) private _beforeWithdraw;
    uint256 private _unfinalized; // the last round playRound attested and did not finalize

    /// @dev Not the constructor: the deployment goes through `this.create`, which needs code.
    function init() external {
        require(address(chain) == address(0), "once");
        IFLChainV2.Rules memory r = worldRules();
        r.probationRounds = 100; // penalised nodes stay eligible after their cooldown
        r.penaltyCooldownRounds = 1;
        setUpWorld(r);
        for (uint256 i = 0; i < NODES; ++i) {
            nodes[i] = i == 0 ? ALICE : i == 1 ? BOB : i == 2 ? CAROL : address(uint160(0xD00 + i));
        }
        vm.warp(T0);
        _observe();
    }

    // ------------------------------------------------------------ the frame of every action

    modifier step() {
        Pre[NODES] memory pre;
        for (uint256 i = 0; i < NODES; ++i) {
            pre[i] = Pre(chain.nodeView(nodes[i]), chain.latest().roundPlusOne);
        }
        _step += 1;
        vm.recordLogs();
        _;
        _checkLogs(pre, vm.getRecordedLogs());
        _observe();
    }

    function _node(uint256 seed) internal view returns (address) {
        return nodes[seed % NODES];
    }

    function _indexOf(address node) internal view returns (uint256) {
        for (uint256 i = 0; i < NODES; ++i) {
            if (nodes[i] == node) return i;
        }
        return NODES;
    }

    function _current() internal view returns (uint256 round, IFLChainV2.Phase phase) {
        return chain.phaseAt(block.timestamp);
    }

    /// @dev Warp forward into `phase` of the round in progress if it is still ahead; if it has
    ///      passed, a third of the time into the next round's, else not at all (`ok` false), so
    ///      that calls out of a round's order do not race through rounds.
    function _toPhase(IFLChainV2.Phase phase, uint256 seed) internal returns (uint256 round, bool ok) {
        return _toPhase(phase, seed, seed % 3 == 0);
    }

    function _toPhase(IFLChainV2.Phase phase, uint256 seed, bool nextRound) internal returns (uint256 round, bool ok) {
        IFLChainV2.Phase now_;
        (round, now_) = _current();
        if (now_ == phase) return (round, true);
        uint256 when = timeOf(round, phase, seed % 50);
        if (when <= block.timestamp) {
            if (!nextRound) return (round, false);
            round += 1;
            when = timeOf(round, phase, seed % 50);
        }
        vm.warp(when);
        return (round, true);
    }

    /// @dev The nodes a call acts for: each with probability ¾.
    function _chosen(uint256 mask, uint256 i) internal pure returns (bool) {
        return ((mask | (mask >> NODES)) >> i) & 1 == 1;
    }

    // ------------------------------------------------------------ actions

    function register(uint256 nodeSeed, uint256 bondSeed) external step {
        address node = _node(nodeSeed);
        uint256 bond = MIN_BOND + bondSeed % 2 ether;
        vm.deal(node, node.balance + bond);
        vm.prank(node);
        try chain.register{value: bond}() {
            members.push(node);
            succeeded["register"] += 1;
        } catch {}
    }

    function addBond(uint256 nodeSeed, uint256 amount) external step {
        address node = _node(nodeSeed);
        amount = 1 + amount % 1 ether;
        vm.deal(node, node.balance + amount);
        vm.prank(node);
        try chain.addBond{value: amount}() {
            succeeded["addBond"] += 1;
        } catch {}
    }

    function requestExit(uint256 nodeSeed) external step {
        if (nodeSeed % 6 != 0) return; // rare: a node that left never comes back
        address node = _node(nodeSeed >> 8);
        vm.prank(node);
        try chain.requestExit() {
            succeeded["requestExit"] += 1;
        } catch {}
        // leaving at once: refused until the exit delay has passed
        _beforeWithdraw[node] = Pre(chain.nodeView(node), chain.latest().roundPlusOne);
        vm.prank(node);
        try chain.withdraw() {
            succeeded["withdraw"] += 1;
        } catch {}
    }

    /// @dev As a leaving node does: settle, answer its withheld reveals, then withdraw.
    function withdraw(uint256 nodeSeed) external step {
        address node = _node(nodeSeed);
        _settleIfDue(node, node);
        if (nodeSeed % 4 != 0) _slashWithheld(node, node);
        // the conditions are checked against the state right before the call
        _beforeWithdraw[node] = Pre(chain.nodeView(node), chain.latest().roundPlusOne);
        vm.prank(node);
        try chain.withdraw() {
            succeeded["withdraw"] += 1;
        } catch {}
    }

    function fundPool(uint256 amount) external step {
        amount = amount % 3 ether;
        vm.deal(FUNDER, FUNDER.balance + amount);
        vm.prank(FUNDER);
        try chain.fundPool{value: amount}() {} catch {}
    }

    /// @notice A whole round in order: commits, reveals (some withheld), a beacon post,
    ///         attestations (some rogue) and, three times in four, a finalization.
    function playRound(uint256 mask, uint256 variant) external step {
        (uint256 round,) = _toPhase(IFLChainV2.Phase.Commit, variant, true);
        _commitAll(round, mask | (mask >> 12), variant);
        (round,) = _toPhase(IFLChainV2.Phase.Reveal, variant, false);
        _slashEarly(round);
        // half the rounds, one node withholds its reveal
        uint256 withheld = (variant >> 40) % NODES;
        _revealAll(round, (variant >> 48) % 2 == 0 ? ~((1 << withheld) | (1 << (withheld + NODES))) : type(uint256).max);
        (round,) = _toPhase(IFLChainV2.Phase.Beacon, variant, false);
        vm.prank(nodes[variant % NODES]);
        try chain.postBeacon(round, new bytes(96)) {
            succeeded["postBeacon"] += 1;
        } catch {}
        (round,) = _toPhase(IFLChainV2.Phase.Attest, variant, false);
        _attestAll(round, ~(mask >> 36), variant | (variant >> 3));
        if (variant % 4 == 0) {
            _unfinalized = round; // attested, maybe enough, never finalized in time
            return;
        }
        vm.prank(OUTSIDER);
        try chain.finalize(round, _honestResult(round)) {
            _adopt(round);
            succeeded["finalize"] += 1;
        } catch {}
    }

    function commit(uint256 mask, uint256 variant) external step {
        (uint256 round, bool ok) = _toPhase(IFLChainV2.Phase.Commit, variant);
        if (ok) _commitAll(round, mask, variant);
    }

    function _commitAll(uint256 round, uint256 mask, uint256 variant) internal {
        try chain.openRound(round) {
            succeeded["openRound"] += 1;
        } catch {}
        for (uint256 i = 0; i < NODES; ++i) {
            if (_chosen(mask, i)) _commit(nodes[i], round, variant >> (8 * i));
        }
    }

    function _commit(address node, uint256 round, uint256 variant) internal {
        _settleIfDue(node, node);
        bytes32 base = variant % 13 == 0 ? keccak256("stale") : chain.latest().mergedDigest;
        Update memory u = makeUpdate(node, round, base, 64);
        if (variant % 11 == 0) u.roiBps = 30_000; // abnormal
        bytes32 c = commitmentFor(chain, node, u);
        vm.prank(node);
        try chain.commit(uint48(round), c) {
            _preimages[round][node] = u;
            committed[round][node] = true;
            succeeded["commit"] += 1;
        } catch {}
    }

    function reveal(uint256 mask, uint256 seed) external step {
        (uint256 round, bool ok) = _toPhase(IFLChainV2.Phase.Reveal, seed);
        if (!ok) return;
        _slashEarly(round);
        _revealAll(round, mask);
    }

    function _revealAll(uint256 round, uint256 mask) internal {
        for (uint256 i = 0; i < NODES; ++i) {
            address node = nodes[i];
            if (!_chosen(mask, i) || !committed[round][node] || revealed[round][node]) continue;
            Update memory u = _preimages[round][node];
            vm.prank(node);
            try chain.reveal(round, u.payload, u.baseDigest, u.roiBps, u.salt) {
                revealed[round][node] = true;
                succeeded["reveal"] += 1;
            } catch {}
        }
    }

    function postBeacon(uint256 nodeSeed, uint256 seed) external step {
        (uint256 round, bool ok) = _toPhase(IFLChainV2.Phase.Beacon, seed);
        if (!ok) return;
        vm.prank(_node(nodeSeed));
        try chain.postBeacon(round, new bytes(96)) {
            succeeded["postBeacon"] += 1;
        } catch {}
    }

    function attest(uint256 mask, uint256 variant) external step {
        (uint256 round, bool ok) = _toPhase(IFLChainV2.Phase.Attest, variant);
        if (ok) _attestAll(round, mask, variant);
    }

    /// @dev Each chosen node attests the honest result, or (one time in five) the rogue one.
    function _attestAll(uint256 round, uint256 mask, uint256 variant) internal {
        IFLChainV2.Result memory honest = _honestResult(round);
        IFLChainV2.Result memory rogue = _rogue(round);
        for (uint256 i = 0; i < NODES; ++i) {
            if (!_chosen(mask, i)) continue;
            address node = nodes[i];
            _settleIfDue(node, node);
            vm.prank(node);
            try chain.attest(round, (variant >> (8 * i)) % 5 == 0 ? rogue : honest) {
                succeeded["attest"] += 1;
            } catch {}
        }
    }

    /// @dev Within the round in progress (or, a quarter of the time, a round that a
    ///      `playRound` left unfinalized, maybe with enough votes: once past its deadline, the
    ///      contract must refuse).
    function finalize(uint256 variant) external step {
        (uint256 round, IFLChainV2.Phase phase) = _current();
        if (variant % 4 == 0) {
            round = _unfinalized;
        } else if (phase != IFLChainV2.Phase.Attest) {
            vm.warp(timeOf(round, IFLChainV2.Phase.Attest, variant % 200));
        }
        IFLChainV2.Result memory r = variant % 3 == 0 ? _rogue(round) : _honestResult(round);
        vm.prank(OUTSIDER);
        try chain.finalize(round, r) {
            // the rogue result carries the honest table: settlement goes on either way
            _adopt(round);
            succeeded["finalize"] += 1;
        } catch {}
    }

    function settle(uint256 mask, uint256 senderSeed) external step {
        for (uint256 i = 0; i < NODES; ++i) {
            if (_chosen(mask, i)) _settleIfDue(nodes[i], (senderSeed >> i) % 2 == 0 ? nodes[i] : OUTSIDER);
        }
    }

    /// @dev Chosen nodes collect; what each is paid must be min(cumEarned − claimed, claimable).
    function collect(uint256 mask) external step {
        for (uint256 i = 0; i < NODES; ++i) {
            if (!_chosen(mask, i)) continue;
            address node = nodes[i];
            IFLChainV2.NodeView memory v = chain.nodeView(node);
            uint256 due = v.cumEarned - v.claimed;
            uint256 claimable = chain.accounts().claimable;
            uint256 expected = due < claimable ? due : claimable;
            uint256 before = node.balance;
            vm.prank(node);
            try chain.collect() {
                succeeded["collect"] += 1;
                if (node.balance - before != expected) collectMispaid = true;
            } catch {
                if (expected != 0) collectMispaid = true;
            }
        }
    }

    /// @dev Half the time a withheld reveal of the last rounds (found through the ghost
    ///      state), else any (round, node): mostly refused.
    function slashNoReveal(uint256 roundSeed, uint256 nodeSeed) external step {
        (uint256 current,) = _current();
        address sender = nodeSeed % 3 == 0 ? _node(nodeSeed) : OUTSIDER;
        if (roundSeed % 2 == 0) {
            _slashWithheld(_node(nodeSeed >> 8), sender);
            return;
        }
        vm.prank(sender);
        try chain.slashNoReveal(roundSeed % (current + 1), _node(nodeSeed >> 8)) {
            succeeded["slashNoReveal"] += 1;
        } catch {}
    }

    /// @dev A hunter tries to slash every commitment of `round` whose reveal window is still
    ///      open (each refused).
    function _slashEarly(uint256 round) internal {
        for (uint256 i = 0; i < NODES; ++i) {
            address node = nodes[i];
            if (!committed[round][node] || revealed[round][node]) continue;
            vm.prank(OUTSIDER);
            try chain.slashNoReveal(round, node) {
                succeeded["slashNoReveal"] += 1;
            } catch {}
        }
    }

    function _slashWithheld(address node, address sender) internal {
        (uint256 current,) = _current();
        for (uint256 r = current > 5 ? current - 5 : 0; r <= current; ++r) {
            if (!committed[r][node] || revealed[r][node]) continue;
            vm.prank(sender);
            try chain.slashNoReveal(r, node) {
                succeeded["slashNoReveal"] += 1;
            } catch {}
        }
    }

    function scheduleRules(uint256 ahead, uint256 notice, uint256 slash) external step {
        (uint256 current,) = _current();
        IFLChainV2.Rules memory r = worldRules();
        r.probationRounds = 100;
        r.penaltyCooldownRounds = 1;
        r.noticeRounds = uint16(1 + notice % 3);
        // from too early (refused) to a few rounds past the earliest
        uint256 earliest = current + 1 + chain.rulesForRound(current).noticeRounds;
        r.effectiveRound = uint32(earliest + ahead % 4 - (ahead % 5 == 0 ? 1 : 0));
        r.noRevealSlashWei = uint128(slash % 0.9 ether);
        r.emissionWei = uint128(slash % 2 ether);
        try chain.scheduleRules(r) {
            succeeded["scheduleRules"] += 1;
        } catch {}
    }

    function cancelRules(uint256 seed) external step {
        if (seed % 3 != 0) return;
        try chain.cancelRules() {
            succeeded["cancelRules"] += 1;
        } catch {}
    }

    function pause(uint256 duration) external step {
        if (duration % 8 != 0) return; // rare
        try chain.pause(uint64(1 + (duration >> 8) % 3_000)) {
            succeeded["pause"] += 1;
        } catch {}
    }

    function unpause() external step {
        try chain.unpause() {
            succeeded["unpause"] += 1;
        } catch {}
    }

    function warp(uint256 seconds_) external step {
        vm.warp(block.timestamp + seconds_ % ROUND);
    }

    // ------------------------------------------------------------ results and settlement

    function _honestResult(uint256 round) internal returns (IFLChainV2.Result memory) {
        if (!_cached[round]) {
            _cached[round] = true;
            // one member is penalised each round, whether or not its reveal was accepted:
            // the contract must slash only those with an accepted reveal
            address[] memory penalised = members.length == 0 ? none() : one(members[round % members.length]);
            (IFLChainV2.Leaf[] memory leaves, uint128 earned) = tableFor(round, penalised);
            for (uint256 i = 0; i < leaves.length; ++i) {
                _honestLeaves[round].push(leaves[i]);
            }
            _honest[round] = resultFor(round, leaves, earned);
        }
        return _honest[round];
    }

    function _rogue(uint256 round) internal returns (IFLChainV2.Result memory r) {
        r = _honestResult(round);
        r.mergedDigest = keccak256(abi.encode("rogue", round));
        r.mergedCid = dagPbCid(r.mergedDigest);
    }

    function _adopt(uint256 round) internal {
        IFLChainV2.Leaf[] storage leaves = _honestLeaves[round];
        delete table;
        bytes32[] memory hashes = new bytes32[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) {
            table.push(leaves[i]);
            hashes[i] = leafHash(chain, leaves[i]);
        }
        levels = treeLevels(hashes);
    }

    function _settleIfDue(address node, address sender) internal {
        IFLChainV2.NodeView memory v = chain.nodeView(node);
        uint256 latest = chain.latest().roundPlusOne;
        if (latest == 0 || v.settledRound >= latest || v.status == IFLChainV2.Status.None) return;
        if (v.index >= table.length) return;
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(node);
        _leafUsed[node] = l;
        _settleStep[node] = _step;
        vm.prank(sender);
        try chain.settle(l, proof) {
            succeeded["settle"] += 1;
        } catch {}
    }

    // ------------------------------------------------------------ the checks after each call

    function _checkLogs(Pre[NODES] memory pre, Vm.Log[] memory logs) internal {
        int256[NODES] memory delta; // bond changes the events account for
        for (uint256 k = 0; k < logs.length; ++k) {
            Vm.Log memory log = logs[k];
            if (log.emitter != address(chain)) continue;
            bytes32 topic = log.topics[0];
            if (topic == FINALIZED) {
                uint256 round = uint256(log.topics[1]);
                finalizedCount[round] += 1;
                if (finalizedCount[round] > 1) finalTwice = true;
                if (block.timestamp >= T0 + (round + 1) * ROUND) finalAfterDeadline = true;
                IFLChainV2.Result memory r = _honest[round];
                earnedFinal += r.roundEarned;
                reservedFinal += chain.roundView(round).reserved;
                continue;
            }
            if (topic != REGISTERED && topic != BOND_ADDED && topic != WITHDRAWN && topic != SLASHED) continue;
            address node = address(uint160(uint256(log.topics[1])));
            uint256 i = _indexOf(node);
            if (i == NODES) {
                bondMovedOtherwise = true;
                continue;
            }
            if (topic == REGISTERED) {
                (, uint256 bond,) = abi.decode(log.data, (uint32, uint256, uint256));
                delta[i] += int256(bond);
            } else if (topic == BOND_ADDED) {
                (uint256 amount,,) = abi.decode(log.data, (uint256, uint256, uint256));
                delta[i] += int256(amount);
            } else if (topic == WITHDRAWN) {
                uint256 amount = abi.decode(log.data, (uint256));
                delta[i] -= int256(amount);
                Pre memory before = _beforeWithdraw[node];
                if (!_mayWithdraw(before) && !earlyWithdrawal) {
                    earlyWithdrawal = true;
                    IFLChainV2.NodeView memory v = before.view_;
                    console.log("early withdrawal: node index", i);
                    console.log("  status", uint256(v.status));
                    console.log("  now", block.timestamp);
                    console.log("  withdrawableAt", v.withdrawableAt);
                    console.log("  unrevealed", v.unrevealed);
                    console.log("  lastParticipatedRound", v.lastParticipatedRound);
                    console.log("  settledRound", v.settledRound);
                    console.log("  latestPlusOne", before.latestPlusOne);
                }
            } else {
                (IFLChainV2.Fault fault, uint256 amount,,) =
                    abi.decode(log.data, (IFLChainV2.Fault, uint256, uint256, address));
                delta[i] -= int256(amount);
                _checkSlash(node, uint256(log.topics[2]), fault, pre[i]);
            }
        }
        for (uint256 i = 0; i < NODES; ++i) {
            int256 expected = int256(pre[i].view_.bond) + delta[i];
            if (int256(chain.nodeView(nodes[i]).bond) != expected) bondMovedOtherwise = true;
        }
    }

    /// @dev The slash's precondition from the state before the call, and its fault's key seen once.
    function _checkSlash(address node, uint256 round, IFLChainV2.Fault fault, Pre memory pre) internal {
        bytes32 key;
        bool holds;
        if (fault == IFLChainV2.Fault.NoReveal) {
            key = keccak256(abi.encode(node, round, fault));
            holds = committed[round][node] && !revealed[round][node]
                && block.timestamp >= timeOf(round, IFLChainV2.Phase.Beacon, 0);
        } else if (fault == IFLChainV2.Fault.Penalty) {
            // each accepted reveal is penalised at most once
            key = keccak256(abi.encode(node, pre.view_.lastAcceptedRound, fault));
            uint32 accepted = pre.view_.lastAcceptedRound;
            // the event names the root's round: the latest final one, before and after settle
            holds = _settleStep[node] == _step && _leafUsed[node].cumPenalties > pre.view_.cumPenalties
                && round + 1 == pre.latestPlusOne && pre.view_.settledRound < accepted && accepted <= pre.latestPlusOne;
        } else {
            key = keccak256(abi.encode(node, round, fault));
            bytes32 finalResult = chain.roundView(round).finalResult;
            holds = pre.view_.lastVoteRound == round + 1 && finalResult != bytes32(0)
                && finalResult != pre.view_.lastVoteHash;
        }
        if (!holds && !slashWithoutPrecondition) {
            slashWithoutPrecondition = true;
            console.log("slash without precondition: fault", uint256(fault));
            console.log("  node index", _indexOf(node));
            console.log("  round", round);
            console.log("  lastVoteRound", pre.view_.lastVoteRound);
            console.log("  lastAcceptedRound", pre.view_.lastAcceptedRound);
            console.log("  settledRound", pre.view_.settledRound);
            console.log("  latestPlusOne", pre.latestPlusOne);
        }
        slashedTimes[key] += 1;
        if (slashedTimes[key] > 1) faultSlashedTwice = true;
    }

    /// @dev §11's withdrawal conditions from the state before the call.
    function _mayWithdraw(Pre memory pre) internal view returns (bool) {
        IFLChainV2.NodeView memory v = pre.view_;
        if (v.status != IFLChainV2.Status.Exiting || block.timestamp < v.withdrawableAt || v.unrevealed != 0) {
            return false;
        }
        uint256 last = v.lastParticipatedRound;
        (uint256 current,) = _current();
        if (last != 0 && chain.roundView(last - 1).finalResult == 0 && block.timestamp < T0 + last * ROUND) {
            return false; // undecided
        }
        bool lags = last != 0 && last - 1 < current && v.settledRound < last && last <= pre.latestPlusOne;
        return !lags;
    }

    /// @dev After every call: the round in progress's weights (first seen = frozen), final
    ///      results only through a Finalized event, and the rules inside the notice horizon.
    function _observe() internal {
        if (block.timestamp < T0) return;
        (uint256 c,) = _current();
        if (c > highestRound) highestRound = c;
        for (uint256 i = 0; i < NODES; ++i) {
            uint256 stake = chain.stakeOf(nodes[i], c) + 1;
            uint256 seen = _stakeSeen[c][nodes[i]];
            if (seen == 0) _stakeSeen[c][nodes[i]] = stake;
            else if (seen != stake) weightChanged = true;
        }
        uint256 total = chain.roundView(c).totalStake + 1;
        if (_totalSeen[c] == 0) _totalSeen[c] = total;
        else if (_totalSeen[c] != total) weightChanged = true;
        for (uint256 r = 0; r <= c; ++r) {
            if (chain.roundView(r).finalResult != bytes32(0) && finalizedCount[r] == 0) finalWithoutEvent = true;
        }
        // the horizon of docs/protocol.md §10 (as the machine's invariant computes it)
        uint256 horizon = c + 1 + chain.rulesForRound(c).noticeRounds;
        uint256 versions = chain.rulesVersionCount();
        for (uint256 v = 0; v < versions; ++v) {
            IFLChainV2.Rules memory rv = chain.rulesVersion(v);
            if (rv.effectiveRound > c) {
                uint256 h = uint256(rv.effectiveRound) + 1 + rv.noticeRounds;
                if (h < horizon) horizon = h;
            }
        }
        for (uint256 r = c; r < horizon; ++r) {
            bytes32 rules = keccak256(abi.encode(chain.rulesForRound(r)));
            if (_rulesSeen[r] == bytes32(0)) _rulesSeen[r] = rules;
            else if (_rulesSeen[r] != rules) rulesChangedInsideNotice = true;
        }
    }

    // ------------------------------------------------------------ views for the invariants

    function deployed() external view returns (IFLChainV2) {
        return chain;
    }

    function totalClaimed() external view returns (uint256 sum) {
        for (uint256 i = 0; i < NODES; ++i) {
            sum += chain.nodeView(nodes[i]).claimed;
        }
    }
}

/// @notice The eight invariants of issue 12 under any sequence of the handler's calls.
contract FLChainV2InvariantTest {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    V2Handler internal handler;
    IFLChainV2 internal chain;

    function setUp() public {
        handler = new V2Handler();
        handler.init();
        chain = handler.deployed();
    }

    /// @dev Read by forge: fuzz only the handler, and only its actions.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory s = new bytes4[](22);
        s[17] = V2Handler.playRound.selector;
        s[18] = V2Handler.playRound.selector;
        s[19] = V2Handler.playRound.selector;
        s[20] = V2Handler.playRound.selector;
        s[0] = V2Handler.register.selector;
        s[1] = V2Handler.addBond.selector;
        s[2] = V2Handler.requestExit.selector;
        s[3] = V2Handler.withdraw.selector;
        s[4] = V2Handler.fundPool.selector;
        s[5] = V2Handler.commit.selector;
        s[6] = V2Handler.reveal.selector;
        s[7] = V2Handler.postBeacon.selector;
        s[8] = V2Handler.attest.selector;
        s[9] = V2Handler.finalize.selector;
        s[10] = V2Handler.settle.selector;
        s[11] = V2Handler.slashNoReveal.selector;
        s[12] = V2Handler.scheduleRules.selector;
        s[13] = V2Handler.cancelRules.selector;
        s[14] = V2Handler.pause.selector;
        s[15] = V2Handler.unpause.selector;
        s[16] = V2Handler.warp.selector;
        s[21] = V2Handler.collect.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), s);
    }

    /// @notice The balance backs every account: bonds, pool, the reservation and what final
    ///         rounds made claimable.
    function invariant_balance_backs_the_accounts() public view {
        IFLChainV2.Accounts memory a = chain.accounts();
        vm.assertGe(address(chain).balance, a.bonds + a.pool + a.reserved + a.claimable, "balance < accounts");
    }

    /// @notice At most one final result per round, none after its deadline, none without its event.
    function invariant_one_final_result_per_round_before_its_deadline() public view {
        vm.assertFalse(handler.finalTwice(), "a round finalized twice");
        vm.assertFalse(handler.finalAfterDeadline(), "a round finalized at or after S(r + 1)");
        vm.assertFalse(handler.finalWithoutEvent(), "a final result without Finalized");
    }

    /// @notice stake(node, r) and the total of r never change while r is in progress.
    function invariant_weights_are_constant_within_a_round() public view {
        vm.assertFalse(handler.weightChanged(), "a weight changed inside its round");
    }

    /// @notice Σ claimed ≤ Σ roundEarned of final rounds ≤ Σ reserved of final rounds, and what
    ///         is not claimed yet is claimable.
    function invariant_claims_stay_within_what_was_reserved() public view {
        uint256 claimed = handler.totalClaimed();
        vm.assertLe(claimed, handler.earnedFinal(), "claimed > earned");
        vm.assertLe(handler.earnedFinal(), handler.reservedFinal(), "earned > reserved");
        vm.assertEq(handler.earnedFinal() - claimed, chain.accounts().claimable, "claimable");
    }

    /// @notice collect pays min(cumEarned − claimed, claimable) to the caller, and refuses only
    ///         when that is 0.
    function invariant_collect_pays_what_is_due_within_the_budget() public view {
        vm.assertFalse(handler.collectMispaid(), "collect paid other than what was due");
    }

    /// @notice No fault (a no-reveal slot, an accepted reveal's penalty, a vote) slashed twice.
    function invariant_no_fault_slashed_twice() public view {
        vm.assertFalse(handler.faultSlashedTwice(), "a fault slashed twice");
    }

    /// @notice A bond falls only through a slash whose precondition held (or a withdrawal).
    function invariant_bonds_fall_only_through_checked_slashes() public view {
        vm.assertFalse(handler.slashWithoutPrecondition(), "a slash without its precondition");
        vm.assertFalse(handler.bondMovedOtherwise(), "a bond moved without Slashed or Withdrawn");
    }

    /// @notice No withdrawal before the exit delay, settlement and every commitment answered.
    function invariant_no_early_withdrawal() public view {
        vm.assertFalse(handler.earlyWithdrawal(), "a withdrawal before its conditions held");
    }

    /// @notice The rules of a round never change once it is inside the notice horizon.
    function invariant_rules_never_change_inside_their_notice() public view {
        vm.assertFalse(handler.rulesChangedInsideNotice(), "rules changed inside their notice");
    }

    /// @notice Not an invariant: after each run, logs (forge test -vv) how many calls of each
    ///         kind the contract accepted, to show the runs reach the states that matter.
    function afterInvariant() public view {
        bytes32[15] memory actions = [
            bytes32("register"),
            "addBond",
            "openRound",
            "commit",
            "reveal",
            "postBeacon",
            "attest",
            "finalize",
            "settle",
            "collect",
            "slashNoReveal",
            "requestExit",
            "withdraw",
            "scheduleRules",
            "cancelRules"
        ];
        for (uint256 i = 0; i < actions.length; ++i) {
            console.log(string(abi.encodePacked(actions[i])), handler.succeeded(actions[i]));
        }
        console.log("rounds", handler.highestRound());
    }
}

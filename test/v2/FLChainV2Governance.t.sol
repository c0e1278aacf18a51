// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../contracts/interfaces/IFLChainV2.sol";
import {vm} from "../utils/Vm.sol";
import {V2World} from "./utils/V2World.sol";

/// @notice Deployment and governance: the constructor's checks and its events, rules scheduled
///         with notice (whose minimum is an immutable), a change of the notice waiting out the
///         current one, cancellation, bounds and the per-node, per-round slash cap, the two-step
///         governor, and a pause that only stops rounds starting inside it and expires on its own.
///         The test contract deploys, so it is the governor.
contract FLChainV2GovernanceTest is V2World {
    address internal constant HEIR = address(0x4E1);

    function setUp() public {
        setUpWorld(worldRules());
    }

    // ------------------------------------------------------------ deployment

    function test_genesis_events() public {
        IFLChainV2.Deployment memory d = defaultDeployment();
        IFLChainV2.Rules memory r = worldRules();
        vm.expectEmit(true, true, true, true);
        emit IFLChainV2.GovernanceTransferred(address(0), address(this));
        vm.expectEmit(true, true, true, true);
        emit IFLChainV2.Genesis(d);
        vm.expectEmit(true, true, true, true);
        emit IFLChainV2.RulesScheduled(0, 0, r);
        IFLChainV2 c = deployV2(d, r);
        vm.assertEq(keccak256(abi.encode(c.deployment())), keccak256(abi.encode(d)), "deployment() repeats it");
        vm.assertEq(keccak256(abi.encode(c.rulesVersion(0))), keccak256(abi.encode(r)), "version 0");
        vm.assertEq(c.protocolVersion(), 2, "protocolVersion");
        vm.assertEq(c.governor(), address(this), "the deployer governs");
        IFLChainV2.Latest memory l = c.latest();
        vm.assertEq(l.roundPlusOne, 0, "genesis");
        vm.assertEq(l.mergedDigest, sha256(GENESIS), "genesis digest");
        vm.assertEq(l.mergedCid, rawCid(GENESIS), "genesis CID");
    }

    function _refusedDeployment(IFLChainV2.Deployment memory d, IFLChainV2.Rules memory r, bytes memory err) internal {
        vm.expectRevert(err);
        this.create(abi.encodePacked(creationCode(), abi.encode(d, r)));
    }

    function _invalid(IFLChainV2.Deployment memory d, bytes32 field) internal {
        _refusedDeployment(d, worldRules(), abi.encodeWithSelector(IFLChainV2.InvalidDeployment.selector, field));
    }

    function test_deployment_refusals() public {
        IFLChainV2.Deployment memory d = defaultDeployment();
        d.commitWindow = 0;
        _invalid(d, "commitWindow");
        d = defaultDeployment();
        d.revealWindow = 0;
        _invalid(d, "revealWindow");
        d = defaultDeployment();
        d.beaconWindow = 0;
        _invalid(d, "beaconWindow");
        d = defaultDeployment();
        d.roundLength = COMMIT + REVEAL + BEACON; // no attest window
        _invalid(d, "roundLength");
        d = defaultDeployment();
        d.roundLength = 7 days + 1;
        d.exitDelay = 2 * d.roundLength;
        _invalid(d, "roundLength");
        d = defaultDeployment();
        d.exitDelay = 2 * ROUND - 1;
        _invalid(d, "exitDelay");
        d = defaultDeployment();
        d.minNoticeRounds = 0;
        _invalid(d, "minNoticeRounds");
        d.minNoticeRounds = 1_001;
        _invalid(d, "minNoticeRounds");
        d = defaultDeployment();
        d.minBond = 0;
        _invalid(d, "minBond");
        d = defaultDeployment();
        d.genesisDigest = bytes32(0);
        _invalid(d, "genesisDigest");
        d = defaultDeployment();
        d.beaconPeriod = 0;
        _invalid(d, "beaconPeriod");
        d = defaultDeployment();
        d.beaconDelay = 98; // 98 + 3 > beaconWindow
        _invalid(d, "beaconWindow");
        d = defaultDeployment();
        d.beaconGenesis = T0 + COMMIT + REVEAL + 11;
        _invalid(d, "beaconGenesis");
        d = defaultDeployment();
        d.beaconPublicKey = new bytes(47);
        _invalid(d, "beaconPublicKey");
        d = defaultDeployment();
        d.sourceRound = 5; // a migration source needs a chain and a contract
        _invalid(d, "source");
        d.sourceChainId = 1;
        _invalid(d, "source");
        d.sourceContract = address(0x1);
        deployV2(d, worldRules()); // a whole source is fine

        d = defaultDeployment();
        d.genesisCid = hex"01551220";
        _refusedDeployment(d, worldRules(), abi.encodeWithSelector(IFLChainV2.InvalidCid.selector));
        d.genesisCid = rawCid("another model");
        _refusedDeployment(d, worldRules(), abi.encodeWithSelector(IFLChainV2.CidDigestMismatch.selector));
        d.genesisCid = dagPbCid(keccak256("a dag-pb root names no digest the contract can check"));
        deployV2(d, worldRules());

        d = defaultDeployment();
        IFLChainV2.Rules memory r = worldRules();
        r.effectiveRound = 1;
        _refusedDeployment(d, r, abi.encodeWithSelector(IFLChainV2.RulesOutOfOrder.selector, 1, 0));
        r = worldRules();
        r.finalityPpm = 500_000;
        _refusedDeployment(d, r, abi.encodeWithSelector(IFLChainV2.RuleOutOfBounds.selector, bytes32("finalityPpm")));
    }

    // ------------------------------------------------------------ scheduleRules

    function _version(uint32 effectiveRound) internal pure returns (IFLChainV2.Rules memory r) {
        r = worldRules();
        r.effectiveRound = effectiveRound;
        r.maxParticipants = 32;
    }

    function test_only_the_governor_governs() public {
        bytes memory err = abi.encodeWithSelector(IFLChainV2.NotGovernor.selector, OUTSIDER);
        refuse(OUTSIDER, abi.encodeCall(IFLChainV2.scheduleRules, (_version(5))), err);
        refuse(OUTSIDER, abi.encodeCall(IFLChainV2.cancelRules, ()), err);
        refuse(OUTSIDER, abi.encodeCall(IFLChainV2.transferGovernance, (OUTSIDER)), err);
        refuse(OUTSIDER, abi.encodeCall(IFLChainV2.pause, (1 days)), err);
        refuse(OUTSIDER, abi.encodeCall(IFLChainV2.unpause, ()), err);
    }

    function test_scheduleRules_obeys_the_notice() public {
        goTo(2, IFLChainV2.Phase.Attest); // effective(now) = 3, notice 1: earliest 4
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.scheduleRules, (_version(3))),
            abi.encodeWithSelector(IFLChainV2.NoticeTooShort.selector, 3, 4)
        );
        IFLChainV2.Rules memory v = _version(4);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.RulesScheduled(4, 1, v);
        chain.scheduleRules(v);
        vm.assertEq(chain.rulesVersionCount(), 2, "two versions");
        vm.assertEq(chain.rulesForRound(3).maxParticipants, 64, "round 3 keeps its rules");
        vm.assertEq(chain.rulesForRound(4).maxParticipants, 32, "round 4 has the new ones");
        vm.assertEq(chain.rulesForRound(400).maxParticipants, 32, "and every later round");
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.scheduleRules, (_version(4))),
            abi.encodeWithSelector(IFLChainV2.RulesOutOfOrder.selector, 4, 4)
        );
        chain.scheduleRules(_version(9));
        vm.assertEq(chain.rulesForRound(8).effectiveRound, 4, "a binary search below the newest");
        vm.assertEq(chain.rulesForRound(9).effectiveRound, 9, "the newest");
    }

    function test_rules_bounds_and_the_slash_cap() public {
        goTo(0, IFLChainV2.Phase.Commit);
        IFLChainV2.Rules memory r = _version(5);
        r.finalityPpm = 900_001;
        _outOfBounds(r, "finalityPpm");
        r = _version(5);
        r.maxPayloadBytes = 16_385;
        _outOfBounds(r, "maxPayloadBytes");
        r = _version(5);
        r.bountyPpm = 500_001;
        _outOfBounds(r, "bountyPpm");
        // per node and round: max(noReveal, penalty) + wrongVote ≤ minBond
        r = _version(5);
        r.noRevealSlashWei = uint128(MIN_BOND) - r.wrongVoteSlashWei + 1;
        _outOfBounds(r, "noRevealSlashWei");
        r = _version(5);
        r.penaltySlashWei = uint128(MIN_BOND) - r.wrongVoteSlashWei + 1;
        _outOfBounds(r, "penaltySlashWei");
        r = _version(5);
        r.noRevealSlashWei = uint128(MIN_BOND) - r.wrongVoteSlashWei;
        r.penaltySlashWei = uint128(MIN_BOND) - r.wrongVoteSlashWei;
        chain.scheduleRules(r); // the cap itself is allowed
    }

    function _outOfBounds(IFLChainV2.Rules memory r, bytes32 field) internal {
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.scheduleRules, (r)),
            abi.encodeWithSelector(IFLChainV2.RuleOutOfBounds.selector, field)
        );
    }

    function test_the_minimum_notice_is_an_immutable() public {
        IFLChainV2.Deployment memory d = defaultDeployment();
        d.minNoticeRounds = 3;
        IFLChainV2.Rules memory r = worldRules();
        r.noticeRounds = 2;
        _refusedDeployment(d, r, abi.encodeWithSelector(IFLChainV2.RuleOutOfBounds.selector, bytes32("noticeRounds")));
        r.noticeRounds = 3;
        chain = deployV2(d, r);
        goTo(0, IFLChainV2.Phase.Commit); // earliest: 1 + 3
        IFLChainV2.Rules memory shorter = r;
        shorter.effectiveRound = 10;
        shorter.noticeRounds = 2;
        _outOfBounds(shorter, "noticeRounds");
        shorter.noticeRounds = 3;
        chain.scheduleRules(shorter);
        vm.assertEq(chain.deployment().minNoticeRounds, 3, "no function changes it");
    }

    function test_a_notice_change_waits_out_the_current_notice() public {
        IFLChainV2.Rules memory r = worldRules();
        r.noticeRounds = 5;
        chain = deployV2(defaultDeployment(), r);
        goTo(0, IFLChainV2.Phase.Commit); // effective(now) 1, notice 5: earliest 6
        IFLChainV2.Rules memory quick = r;
        quick.noticeRounds = 1;
        quick.effectiveRound = 5;
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.scheduleRules, (quick)),
            abi.encodeWithSelector(IFLChainV2.NoticeTooShort.selector, 5, 6)
        );
        quick.effectiveRound = 6;
        chain.scheduleRules(quick);
        // while round 0's notice (5) is in force, a later change still needs 5 rounds
        IFLChainV2.Rules memory next = _version(0);
        next.effectiveRound = 7;
        next.noticeRounds = 1;
        goTo(1, IFLChainV2.Phase.Commit); // earliest 2 + 5
        chain.scheduleRules(next);
        goTo(5, IFLChainV2.Phase.Commit); // earliest 6 + 5 = 11: version 2 (round 7) is locked
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.cancelRules, ()),
            abi.encodeWithSelector(IFLChainV2.NoticeTooShort.selector, 7, 11)
        );
        goTo(6, IFLChainV2.Phase.Commit); // round 6 runs with notice 1: earliest 7 + 1
        next.effectiveRound = 8;
        chain.scheduleRules(next);
        vm.assertEq(chain.rulesForRound(8).effectiveRound, 8, "the shorter notice applies once in force");
    }

    // ------------------------------------------------------------ cancelRules

    function test_cancelRules_outside_the_notice_only() public {
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.cancelRules, ()),
            abi.encodeWithSelector(IFLChainV2.NothingToCancel.selector)
        );
        goTo(2, IFLChainV2.Phase.Commit);
        chain.scheduleRules(_version(4));
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.RulesCancelled(1);
        chain.cancelRules();
        vm.assertEq(chain.rulesVersionCount(), 1, "gone");
        vm.assertEq(chain.rulesForRound(4).maxParticipants, 64, "round 4 keeps version 0");
        chain.scheduleRules(_version(4));
        goTo(3, IFLChainV2.Phase.Commit); // earliest 5: round 4's rules are locked
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.cancelRules, ()),
            abi.encodeWithSelector(IFLChainV2.NoticeTooShort.selector, 4, 5)
        );
        goTo(4, IFLChainV2.Phase.Commit);
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.cancelRules, ()),
            abi.encodeWithSelector(IFLChainV2.RulesInEffect.selector, 1)
        );
        vm.assertEq(chain.rulesForRound(4).maxParticipants, 32, "in force");
    }

    // ------------------------------------------------------------ the governor

    function test_governance_moves_in_two_steps() public {
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.transferGovernance, (address(0))),
            abi.encodeWithSelector(IFLChainV2.ZeroAddress.selector)
        );
        refuse(
            HEIR,
            abi.encodeCall(IFLChainV2.acceptGovernance, ()),
            abi.encodeWithSelector(IFLChainV2.NotPendingGovernor.selector, HEIR)
        );
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.GovernanceTransferStarted(address(this), OUTSIDER);
        chain.transferGovernance(OUTSIDER);
        chain.transferGovernance(HEIR); // replaces the pending one
        vm.assertEq(chain.pendingGovernor(), HEIR, "pending");
        vm.assertEq(chain.governor(), address(this), "nothing moved yet");
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.acceptGovernance, ()),
            abi.encodeWithSelector(IFLChainV2.NotPendingGovernor.selector, OUTSIDER)
        );
        refuse(
            HEIR,
            abi.encodeCall(IFLChainV2.pause, (1 days)),
            abi.encodeWithSelector(IFLChainV2.NotGovernor.selector, HEIR)
        );
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.GovernanceTransferred(address(this), HEIR);
        vm.prank(HEIR);
        chain.acceptGovernance();
        vm.assertEq(chain.governor(), HEIR, "the heir governs");
        vm.assertEq(chain.pendingGovernor(), address(0), "no one pending");
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.pause, (1 days)),
            abi.encodeWithSelector(IFLChainV2.NotGovernor.selector, address(this))
        );
        refuse(
            HEIR,
            abi.encodeCall(IFLChainV2.acceptGovernance, ()),
            abi.encodeWithSelector(IFLChainV2.NotPendingGovernor.selector, HEIR)
        );
        vm.prank(HEIR);
        chain.pause(1 days);
    }

    // ------------------------------------------------------------ pause

    function test_pause_refusals() public {
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.pause, (0)),
            abi.encodeWithSelector(IFLChainV2.PauseNotAllowed.selector, 0)
        );
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.pause, (7 days + 1)),
            abi.encodeWithSelector(IFLChainV2.PauseNotAllowed.selector, 0)
        );
        refuse(
            address(this), abi.encodeCall(IFLChainV2.unpause, ()), abi.encodeWithSelector(IFLChainV2.NotPaused.selector)
        );
        goTo(0, IFLChainV2.Phase.Commit);
        uint64 from = uint64(block.timestamp);
        chain.pause(1 days);
        uint64 earliest = from + 1 days + 7 days;
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.pause, (1 days)),
            abi.encodeWithSelector(IFLChainV2.PauseNotAllowed.selector, earliest)
        );
        vm.warp(earliest - 1);
        refuse(
            address(this), abi.encodeCall(IFLChainV2.unpause, ()), abi.encodeWithSelector(IFLChainV2.NotPaused.selector)
        );
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.pause, (1 days)),
            abi.encodeWithSelector(IFLChainV2.PauseNotAllowed.selector, earliest)
        );
        vm.warp(earliest);
        chain.pause(7 days);
    }

    function test_a_pause_stops_only_rounds_that_start_inside_it_and_expires() public {
        goTo(0, IFLChainV2.Phase.Commit);
        chain.openRound(0);
        uint64 from = uint64(block.timestamp);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Paused(from, from + 1_500);
        chain.pause(1_500); // round 1 starts inside, round 2 after
        (uint64 f, uint64 u) = chain.pauseWindow();
        vm.assertEq(f, from, "from");
        vm.assertEq(u, from + 1_500, "until");
        // round 0 started before the pause: it runs to its end, every step of it
        vm.prank(ALICE);
        chain.requestExit();
        honestRound(0, none());
        goTo(1, IFLChainV2.Phase.Commit);
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.openRound, (1)),
            abi.encodeWithSelector(IFLChainV2.RoundPaused.selector, 1)
        );
        bytes32 c = commitmentFor(chain, BOB, updateOf(BOB, 1));
        settle(BOB, BOB);
        refuse(
            BOB, abi.encodeCall(IFLChainV2.commit, (1, c)), abi.encodeWithSelector(IFLChainV2.RoundPaused.selector, 1)
        );
        // settlements, exits, slashes, withdrawals go on
        settle(CAROL, OUTSIDER);
        vm.prank(CAROL);
        chain.requestExit();
        vm.warp(T0 + 2 * ROUND + 1);
        settle(ALICE, ALICE);
        vm.prank(ALICE);
        chain.withdraw();
        // round 2 starts after the pause ended: no unpause needed
        chain.openRound(2);
        settleLagging();
        commit(chain, BOB, updateOf(BOB, 2));
        vm.assertFalse(chain.roundView(1).opened, "round 1 was skipped");
    }

    function test_unpause_ends_the_pause_but_a_round_started_inside_stays_paused() public {
        goTo(0, IFLChainV2.Phase.Attest);
        chain.pause(3 days);
        goTo(1, IFLChainV2.Phase.Reveal);
        vm.expectEmit(true, true, true, true, address(chain));
        emit IFLChainV2.Unpaused();
        chain.unpause();
        (, uint64 until) = chain.pauseWindow();
        vm.assertEq(until, block.timestamp, "until = now");
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.openRound, (1)),
            abi.encodeWithSelector(IFLChainV2.RoundPaused.selector, 1)
        );
        goTo(2, IFLChainV2.Phase.Commit);
        chain.openRound(2);
        commit(chain, BOB, updateOf(BOB, 2));
        // the cooldown runs from the early end
        refuse(
            address(this),
            abi.encodeCall(IFLChainV2.pause, (1 days)),
            abi.encodeWithSelector(IFLChainV2.PauseNotAllowed.selector, uint64(until + 7 days))
        );
    }
}

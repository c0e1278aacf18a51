// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IFLChainV2} from "../../contracts/interfaces/IFLChainV2.sol";
import {vm} from "../utils/Vm.sol";
import {Update} from "./utils/V2Test.sol";
import {V2World} from "./utils/V2World.sol";

/// @notice Fuzz tests of the entry points' bounds on the deployed artifact: each call is
///         accepted exactly inside its bound (bond, windows at any timestamp, commitment values,
///         payload length, finality share, rule fields, notice, pause duration, exit delay) and
///         refused outside it with the named error, balances unchanged.
contract FLChainV2FuzzTest is V2World {
    uint256 private constant PPM = 1_000_000;

    function setUp() public {
        setUpWorld(worldRules());
    }

    /// @dev The schedule's arithmetic, independently of the contract's.
    function _inPhase(uint256 ts, uint256 round, uint256 lo, uint256 hi) internal pure returns (bool) {
        if (ts < T0) return false;
        uint256 offset = (ts - T0) % ROUND;
        return (ts - T0) / ROUND == round && lo <= offset && offset < hi;
    }

    function _outcome(bool ok, bytes memory err) internal pure returns (bytes memory) {
        return ok ? bytes("") : err;
    }

    /// @dev `sender` calls with `data`: accepted iff `ok`; else refused with exactly `err`,
    ///      balances unchanged.
    function _expect(bool ok, address sender, uint256 value, bytes memory data, bytes memory err) internal {
        if (!ok) {
            refuse(sender, value, data, err);
            return;
        }
        vm.deal(sender, sender.balance + value);
        vm.prank(sender);
        (bool success, bytes memory out) = address(chain).call{value: value}(data);
        if (!success) {
            assembly ("memory-safe") {
                revert(add(out, 32), mload(out))
            }
        }
    }

    function testFuzz_phaseAt_matches_the_schedule(uint256 ts) public view {
        ts = bound(ts, 0, T0 + 1_000 * ROUND);
        (uint256 r, IFLChainV2.Phase p) = chain.phaseAt(ts);
        if (ts < T0) {
            vm.assertEq(r, 0, "round 0 before T0");
            vm.assertEq(uint256(p), uint256(IFLChainV2.Phase.NotStarted), "NotStarted");
            return;
        }
        vm.assertEq(r, (ts - T0) / ROUND, "round");
        uint256 offset = (ts - T0) % ROUND;
        IFLChainV2.Phase expected = offset < COMMIT
            ? IFLChainV2.Phase.Commit
            : offset < COMMIT + REVEAL
                ? IFLChainV2.Phase.Reveal
                : offset < COMMIT + REVEAL + BEACON ? IFLChainV2.Phase.Beacon : IFLChainV2.Phase.Attest;
        vm.assertEq(uint256(p), uint256(expected), "phase");
    }

    function testFuzz_register_needs_minBond(uint256 bond) public {
        bond = bound(bond, 0, 100 ether);
        _expect(
            bond >= MIN_BOND,
            OUTSIDER,
            bond,
            abi.encodeCall(IFLChainV2.register, ()),
            abi.encodeWithSelector(IFLChainV2.BondTooSmall.selector, bond, MIN_BOND)
        );
        if (bond >= MIN_BOND) vm.assertEq(chain.accounts().bonds, 3 * MIN_BOND + bond, "bonded");
    }

    function testFuzz_commit_only_in_its_window(uint256 ts, uint256 round) public {
        ts = bound(ts, T0 - 500, T0 + 3 * ROUND);
        round = bound(round, 0, 3);
        vm.warp(ts);
        bytes32 c = commitmentFor(chain, ALICE, makeUpdate(ALICE, round, sha256(GENESIS), 32));
        _expect(
            _inPhase(ts, round, 0, COMMIT),
            ALICE,
            0,
            abi.encodeCall(IFLChainV2.commit, (uint48(round), c)),
            abi.encodeWithSelector(IFLChainV2.NotInCommitWindow.selector, round)
        );
    }

    function testFuzz_a_commitment_below_two_to_the_sixteen_is_refused(bytes32 c) public {
        if (uint256(c) % 2 == 0) c = bytes32(uint256(c) >> 232); // half the runs near the bound
        goTo(0, IFLChainV2.Phase.Commit);
        _expect(
            uint256(c) >= 1 << 16,
            ALICE,
            0,
            abi.encodeCall(IFLChainV2.commit, (0, c)),
            abi.encodeWithSelector(IFLChainV2.CommitmentMismatch.selector, 0, ALICE)
        );
    }

    function testFuzz_reveal_payload_bound(uint256 maxLength, uint256 length) public {
        IFLChainV2.Rules memory r = worldRules();
        r.maxPayloadBytes = uint32(bound(maxLength, 1, 16_384));
        delete members;
        setUpWorld(r);
        length = bound(length, 0, uint256(r.maxPayloadBytes) + 64);
        goTo(0, IFLChainV2.Phase.Commit);
        Update memory u = makeUpdate(ALICE, 0, sha256(GENESIS), length);
        commit(chain, ALICE, u);
        goTo(0, IFLChainV2.Phase.Reveal);
        _expect(
            length <= r.maxPayloadBytes,
            ALICE,
            0,
            abi.encodeCall(IFLChainV2.reveal, (0, u.payload, u.baseDigest, u.roiBps, u.salt)),
            abi.encodeWithSelector(IFLChainV2.PayloadTooLarge.selector, length, r.maxPayloadBytes)
        );
    }

    function testFuzz_reveal_beacon_attest_finalize_only_in_their_windows(uint256 ts) public {
        goTo(0, IFLChainV2.Phase.Commit);
        chain.openRound(0);
        Update memory u = updateOf(ALICE, 0);
        commit(chain, ALICE, u);
        IFLChainV2.Result memory r = makeResult("fuzz", bytes32(0), 0);
        ts = bound(ts, T0 + COMMIT - 50, T0 + ROUND + 50);
        vm.warp(ts);
        uint256 beaconStart = COMMIT + REVEAL;
        uint256 attestStart = beaconStart + BEACON;
        _expect(
            _inPhase(ts, 0, COMMIT, beaconStart),
            ALICE,
            0,
            abi.encodeCall(IFLChainV2.reveal, (0, u.payload, u.baseDigest, u.roiBps, u.salt)),
            abi.encodeWithSelector(IFLChainV2.NotInRevealWindow.selector, 0)
        );
        _expect(
            _inPhase(ts, 0, beaconStart, attestStart),
            BOB,
            0,
            abi.encodeCall(IFLChainV2.postBeacon, (0, new bytes(96))),
            abi.encodeWithSelector(IFLChainV2.NotInBeaconWindow.selector, 0)
        );
        bool attestable = _inPhase(ts, 0, attestStart, ROUND);
        bytes memory notAttest = abi.encodeWithSelector(IFLChainV2.NotInAttestWindow.selector, 0);
        _expect(attestable, BOB, 0, abi.encodeCall(IFLChainV2.attest, (0, r)), notAttest);
        _expect(attestable, CAROL, 0, abi.encodeCall(IFLChainV2.attest, (0, r)), notAttest);
        _expect(attestable, OUTSIDER, 0, abi.encodeCall(IFLChainV2.finalize, (0, r)), notAttest);
    }

    function testFuzz_finality_needs_its_share_of_the_frozen_stake(
        uint256 finalityPpm,
        uint64[3] memory bonds,
        uint8 voters
    ) public {
        IFLChainV2.Rules memory rules = worldRules();
        rules.finalityPpm = uint32(bound(finalityPpm, 500_001, 900_000));
        chain = deployV2(defaultDeployment(), rules);
        address[3] memory nodes = [ALICE, BOB, CAROL];
        uint256 total = 0;
        for (uint256 i = 0; i < 3; ++i) {
            uint256 bond = bound(bonds[i], MIN_BOND, 50 ether);
            register(chain, nodes[i], bond);
            total += bond;
        }
        goTo(0, IFLChainV2.Phase.Attest);
        IFLChainV2.Result memory r = makeResult("fuzz", bytes32(0), 0);
        uint256 tally = 0;
        for (uint256 i = 0; i < 3; ++i) {
            if ((voters >> i) & 1 == 0) continue;
            vm.prank(nodes[i]);
            chain.attest(0, r);
            tally += chain.stakeOf(nodes[i], 0);
        }
        uint256 needed = (uint256(rules.finalityPpm) * total + PPM - 1) / PPM;
        _expect(
            tally >= needed,
            OUTSIDER,
            0,
            abi.encodeCall(IFLChainV2.finalize, (0, r)),
            abi.encodeWithSelector(IFLChainV2.BelowFinality.selector, tally, needed)
        );
        // two results cannot both be final: the share is above one half
        vm.assertTrue(2 * needed > total, "more than half");
    }

    function testFuzz_scheduleRules_bounds(uint32 finalityPpm, uint32 maxPayloadBytes, uint32 bountyPpm) public {
        IFLChainV2.Rules memory r = worldRules();
        r.effectiveRound = 5;
        r.finalityPpm = uint32(bound(finalityPpm, 400_000, 1_000_000));
        r.maxPayloadBytes = uint32(bound(maxPayloadBytes, 0, 20_000));
        r.bountyPpm = uint32(bound(bountyPpm, 0, 600_000));
        bytes32 field = 0;
        if (r.finalityPpm <= 500_000 || r.finalityPpm > 900_000) field = "finalityPpm";
        else if (r.maxPayloadBytes == 0 || r.maxPayloadBytes > 16_384) field = "maxPayloadBytes";
        else if (r.bountyPpm > 500_000) field = "bountyPpm";
        _expect(
            field == 0,
            address(this),
            0,
            abi.encodeCall(IFLChainV2.scheduleRules, (r)),
            abi.encodeWithSelector(IFLChainV2.RuleOutOfBounds.selector, field)
        );
    }

    function testFuzz_scheduleRules_notice(uint256 ts, uint256 effectiveRound) public {
        ts = bound(ts, T0 - 10, T0 + 20 * ROUND);
        vm.warp(ts);
        IFLChainV2.Rules memory r = worldRules();
        r.effectiveRound = uint32(bound(effectiveRound, 0, 30));
        uint256 effectiveNow = ts < T0 ? 0 : (ts - T0) / ROUND + 1;
        uint256 earliest = effectiveNow + 1; // worldRules: noticeRounds 1
        bool ok = r.effectiveRound >= earliest && r.effectiveRound > 0;
        bytes memory err = r.effectiveRound < earliest
            ? abi.encodeWithSelector(IFLChainV2.NoticeTooShort.selector, r.effectiveRound, earliest)
            : abi.encodeWithSelector(IFLChainV2.RulesOutOfOrder.selector, r.effectiveRound, 0);
        _expect(ok, address(this), 0, abi.encodeCall(IFLChainV2.scheduleRules, (r)), err);
        if (ok && r.effectiveRound > 0) {
            vm.assertEq(chain.rulesForRound(r.effectiveRound - 1).effectiveRound, 0, "earlier rounds keep version 0");
        }
    }

    function testFuzz_pause_duration(uint64 duration) public {
        duration = uint64(bound(duration, 0, 8 days));
        _expect(
            duration > 0 && duration <= 7 days,
            address(this),
            0,
            abi.encodeCall(IFLChainV2.pause, (duration)),
            abi.encodeWithSelector(IFLChainV2.PauseNotAllowed.selector, 0)
        );
    }

    function testFuzz_openRound_reserves_the_emission_or_the_pool(uint128 emission, uint96 pool) public {
        IFLChainV2.Rules memory r = worldRules();
        r.emissionWei = emission;
        chain = deployV2(defaultDeployment(), r);
        vm.deal(FUNDER, pool);
        vm.prank(FUNDER);
        chain.fundPool{value: pool}();
        goTo(0, IFLChainV2.Phase.Commit);
        chain.openRound(0);
        uint256 expected = emission < pool ? emission : pool;
        vm.assertEq(chain.accounts().reserved, expected, "min(emission, pool)");
        vm.assertEq(chain.accounts().pool, pool - expected, "the rest stays");
    }

    function testFuzz_withdraw_only_after_the_exit_delay(uint256 wait, uint256 exitAt) public {
        exitAt = bound(exitAt, T0 - 10, T0 + 10 * ROUND);
        wait = bound(wait, 0, 2 * EXIT_DELAY);
        vm.warp(exitAt);
        vm.prank(ALICE);
        chain.requestExit();
        vm.warp(exitAt + wait);
        _expect(
            wait >= EXIT_DELAY,
            ALICE,
            0,
            abi.encodeCall(IFLChainV2.withdraw, ()),
            abi.encodeWithSelector(IFLChainV2.WithdrawalTooEarly.selector, uint64(exitAt + EXIT_DELAY))
        );
    }

    function testFuzz_settle_refuses_a_tampered_leaf(uint8 field, uint128 delta) public {
        honestRound(0, none());
        (IFLChainV2.Leaf memory l, bytes32[16] memory proof) = leafOf(BOB);
        delta = uint128(bound(delta, 1, type(uint32).max));
        uint256 f = field % 6;
        // XOR with a nonzero delta: the field always changes and never overflows (an addition
        // overflowed a uint32 field at delta near 2**32, which the fuzzer found)
        if (f == 0) l.cumEarned ^= delta;
        else if (f == 1) l.cumPenalties ^= uint32(delta);
        else if (f == 2) l.mergedRounds ^= uint32(delta);
        else if (f == 3) l.lastPenaltyRound ^= uint32(delta);
        else if (f == 4) l.scoreBps ^= int32(uint32(delta));
        else l.index = uint32(delta % 3 == 1 ? 0 : 2); // another member's position
        refuse(
            OUTSIDER,
            abi.encodeCall(IFLChainV2.settle, (l, proof)),
            abi.encodeWithSelector(IFLChainV2.InvalidProof.selector)
        );
    }
}

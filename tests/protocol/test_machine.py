"""The reference machine, entry point by entry point: effects, events, and every refusal in the
order docs/protocol.md fixes (a refused call leaves the state unchanged: `World.call` checks it
on every call of every test)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from flchain.protocol import digests as dg
from flchain.protocol import machine as m

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine_world import (
    BEACON,
    CHAIN_ID,
    CONTRACT,
    ETH,
    GENESIS,
    T0,
    B,
    C,
    L,
    R,
    deployment,
    make_world,
    wallet,
)

P = m.Phase
OTHER = wallet("someone else")


def b32(name: str) -> bytes:
    return name.encode().ljust(32, b"\x00")


# ---------------------------------------------------------------- construction


def test_genesis_emits_governor_deployment_and_first_rules() -> None:
    w = make_world(0)
    names = [e.name for _, e in w.events]
    assert names == ["GovernanceTransferred", "Genesis", "RulesScheduled"]
    assert w.events[1][1]["deployment"] == w.state.deployment
    assert m.get_governor(w.state) == w.gov
    assert m.get_latest(w.state) == m.Latest(
        0, dg.sha256(GENESIS), dg.raw_leaf_cid(dg.sha256(GENESIS)), b"", dg.ZERO32
    )
    assert m.get_protocol_version(w.state) == 2
    assert m.get_accounts(w.state) == m.Accounts(0, 0, 0, 0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"commit_window": 0}, "commitWindow"),
        ({"reveal_window": 0}, "revealWindow"),
        ({"beacon_window": 0}, "beaconWindow"),
        ({"round_length": C + R + B}, "roundLength"),
        ({"round_length": m.PAUSE_COOLDOWN + 1, "exit_delay": 4 * m.PAUSE_COOLDOWN}, "roundLength"),
        ({"exit_delay": 2 * L - 1}, "exitDelay"),
        ({"min_notice_rounds": 0}, "minNoticeRounds"),
        ({"min_notice_rounds": 1_001}, "minNoticeRounds"),
        ({"min_bond": 0}, "minBond"),
        ({"genesis_digest": dg.ZERO32, "genesis_cid": dg.raw_leaf_cid(dg.ZERO32)}, "genesisDigest"),
        ({"beacon_period": 0}, "beaconPeriod"),
        ({"beacon_delay": B}, "beaconWindow"),
        ({"beacon_genesis": T0 + C + R + 10 + 1}, "beaconGenesis"),
        ({"beacon_public_key": BEACON.public_key[:47]}, "beaconPublicKey"),
        ({"source_chain_id": 1}, "source"),
    ],
)
def test_invalid_deployments_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(m.ProtocolError) as err:
        m.initialize_state(deployment(**changes), m.RulesV2(), m.Tx(OTHER, 0), CHAIN_ID, CONTRACT)
    assert (err.value.name, err.value.arguments) == ("InvalidDeployment", (b32(field),))


def test_genesis_cid_must_be_a_cid_carrying_the_digest() -> None:
    digest = dg.sha256(GENESIS)
    for cid, name in (
        (dg.raw_leaf_cid(digest)[:35], "InvalidCid"),
        (bytes([0x01, 0x71, 0x12, 0x20]) + digest, "InvalidCid"),
        (dg.raw_leaf_cid(dg.sha256(b"other")), "CidDigestMismatch"),
    ):
        with pytest.raises(m.ProtocolError) as err:
            m.initialize_state(
                deployment(genesis_cid=cid), m.RulesV2(), m.Tx(OTHER, 0), CHAIN_ID, CONTRACT
            )
        assert err.value.name == name
    dag_pb = bytes([0x01, 0x70, 0x12, 0x20]) + dg.sha256(b"a root block")
    m.initialize_state(
        deployment(genesis_cid=dag_pb), m.RulesV2(), m.Tx(OTHER, 0), CHAIN_ID, CONTRACT
    )


def test_first_rules_are_round_zero_and_in_bounds() -> None:
    with pytest.raises(m.ProtocolError) as err:
        m.initialize_state(
            deployment(), m.RulesV2(effective_round=1), m.Tx(OTHER, 0), CHAIN_ID, CONTRACT
        )
    assert (err.value.name, err.value.arguments) == ("RulesOutOfOrder", (1, 0))
    with pytest.raises(m.ProtocolError) as err:
        m.initialize_state(
            deployment(), m.RulesV2(finality_ppm=500_000), m.Tx(OTHER, 0), CHAIN_ID, CONTRACT
        )
    assert err.value.arguments == (b32("finalityPpm"),)


# every bound of §2.2: (field, the last accepted value, the first refused one)
BOUNDS: list[tuple[str, int, int]] = [
    ("roi_min_bps", -10_000, -10_001),
    ("roi_max_bps", 1_000_000, 1_000_001),
    ("eligibility_min_score_bps", 1_000_000, 1_000_001),
    ("eligibility_min_score_bps", -1_000_000, -1_000_001),
    ("probation_rounds", 1_000, 1_001),
    ("penalty_cooldown_rounds", 1_000, 1_001),
    ("max_participants", 1, 0),
    ("notice_rounds", 1_000, 1_001),
    ("notice_rounds", 1, 0),
    ("finality_ppm", 500_001, 500_000),
    ("finality_ppm", 900_000, 900_001),
    ("max_payload_bytes", 1, 0),
    ("max_payload_bytes", 16_384, 16_385),
    ("similarity_threshold_ppm", 1_000_000, 1_000_001),
    ("cluster_cap_ppm", 1, 0),
    ("cluster_cap_ppm", 1_000_000, 1_000_001),
    ("similarity_metric", 1, 2),
    ("aggregation", 3, 4),
    ("trim_ppm", 499_999, 500_000),
    ("roi_tolerance_bps", 10_000, 10_001),
    ("fee_ppm", 999_999, 1_000_000),
    ("bounty_ppm", 500_000, 500_001),
]
NAMES = {py: abi for py, abi, _ in m.RULES_ABI}


@pytest.mark.parametrize(("field", "ok", "bad"), BOUNDS)
def test_every_rule_bound_is_checked(field: str, ok: int, bad: int) -> None:
    w = make_world(0)
    extra = {"roi_max_bps": 1_000_000} if field == "roi_min_bps" else {}
    if field == "roi_max_bps":
        extra = {"roi_min_bps": 0}
    good = m.RulesV2(effective_round=5, **{field: ok, **extra})
    w.call(m.process_schedule_rules, w.gov, good)
    assert m.get_rules_version(w.state, 1) == good
    err = w.refuse(
        "RuleOutOfBounds",
        m.process_schedule_rules,
        w.gov,
        m.RulesV2(effective_round=6, **{field: bad, **extra}),
    )
    assert err.arguments == (b32(NAMES[field]),)


def test_roi_band_must_be_ordered_and_slashes_fit_the_bond() -> None:
    w = make_world(0)
    err = w.refuse(
        "RuleOutOfBounds",
        m.process_schedule_rules,
        w.gov,
        m.RulesV2(effective_round=5, roi_min_bps=6, roi_max_bps=5),
    )
    assert err.arguments == (b32("roiMinBps"),)
    for field, other in (
        ("no_reveal_slash_wei", "noRevealSlashWei"),
        ("penalty_slash_wei", "penaltySlashWei"),
    ):
        fits = m.RulesV2(effective_round=5, **{field: ETH - m.RulesV2().wrong_vote_slash_wei})
        m.check_rules(fits, w.state.deployment)
        over = m.RulesV2(effective_round=5, **{field: fits.__dict__[field] + 1})
        err = w.refuse("RuleOutOfBounds", m.process_schedule_rules, w.gov, over)
        assert err.arguments == (b32(other),)


def test_values_the_abi_cannot_encode_are_not_protocol_errors() -> None:
    with pytest.raises(ValueError, match="uint16"):
        m.RulesV2(probation_rounds=2**16)
    with pytest.raises(ValueError, match="int32"):
        m.RulesV2(roi_min_bps=-(2**31) - 1)
    with pytest.raises(ValueError, match="32 bytes"):
        m.RulesV2(benchmark_id=b"\x00" * 31)
    rules = m.RulesV2(benchmark_id=b"\x01" * 32, emission_wei=7)
    assert m.RulesV2.from_abi(rules.to_abi()) == rules


# ---------------------------------------------------------------- identity and stake (§3)


def test_stake_counts_from_the_next_round_and_never_changes_inside_one() -> None:
    w = make_world(0)
    early = w.register("early")  # before T0: in round 0
    assert w.events_named("Registered")[-1].as_dict() == {
        "node": early,
        "index": 0,
        "bond": ETH,
        "fromRound": 0,
    }
    w.goto(0, P.COMMIT, 10)
    late = w.register("late", 3 * ETH)
    assert w.events_named("Registered")[-1]["fromRound"] == 1
    assert (m.get_stake_of(w.state, late, 0), m.get_stake_of(w.state, late, 1)) == (0, 3 * ETH)
    assert m.get_round_view(w.state, 0).total_stake == ETH
    assert m.get_round_view(w.state, 1).total_stake == 4 * ETH
    w.call(m.process_add_bond, early, value=2 * ETH)
    assert w.events_named("BondAdded")[-1].as_dict() == {
        "node": early,
        "amount": 2 * ETH,
        "bond": 3 * ETH,
        "fromRound": 1,
    }
    assert m.get_stake_of(w.state, early, 0) == ETH  # round 0's weight is frozen
    view = m.get_node_view(w.state, early, w.now)
    assert (view.bond, view.stake_this_round, view.stake_next_round) == (3 * ETH, ETH, 3 * ETH)
    w.goto(1, P.COMMIT)
    assert m.get_stake_of(w.state, early, 1) == 3 * ETH
    assert m.get_round_view(w.state, 1).total_stake == 6 * ETH


def test_register_refusals_in_order() -> None:
    w = make_world(1)
    node = w.nodes[0]
    w.refuse("AlreadyRegistered", m.process_register, node, value=ETH)
    err = w.refuse("BondTooSmall", m.process_register, OTHER, value=ETH - 1)
    assert err.arguments == (ETH - 1, ETH)
    w.goto(0, P.COMMIT)
    w.call(m.process_request_exit, node)
    w.now += 2 * L
    w.call(m.process_withdraw, node)
    w.refuse("WalletRetired", m.process_register, node, value=ETH)
    w.refuse("NotActive", m.process_add_bond, node, value=ETH)


def test_the_registry_holds_two_to_the_tree_depth_nodes() -> None:
    w = make_world(0)
    state = w.state
    for i in range(m.MAX_NODES):
        m.process_register(state, m.Tx("0x" + (i + 1).to_bytes(20, "big").hex(), w.now, ETH))
    assert m.get_node_count(state) == 2**16
    assert (
        m.get_node_at(state, 2**16 - 1) == m.Tx("0x" + (2**16).to_bytes(20, "big").hex(), 0).sender
    )
    w.refuse("RegistryFull", m.process_register, OTHER, value=ETH)


def test_exit_takes_effect_next_round_and_bounds_the_withdrawal() -> None:
    w = make_world(2)
    node = w.nodes[0]
    w.goto(0, P.COMMIT, 7)
    (ev,) = w.call(m.process_request_exit, node)
    assert ev.as_dict() == {"node": node, "fromRound": 1, "withdrawableAt": w.now + 2 * L}
    assert m.get_stake_of(w.state, node, 0) == ETH  # it finishes round 0
    assert m.get_stake_of(w.state, node, 1) == 0
    w.refuse("NotActive", m.process_request_exit, node)
    w.refuse("NotActive", m.process_add_bond, node, value=1)
    w.refuse("NotExiting", m.process_withdraw, w.nodes[1])


def test_non_payable_functions_refuse_ether() -> None:
    w = make_world(1)
    w.refuse(m.NOT_PAYABLE, m.process_request_exit, w.nodes[0], value=1)
    w.refuse(m.NOT_PAYABLE, m.process_pause, w.gov, 100, value=1)


# ---------------------------------------------------------------- budget and accounts


def test_open_round_reserves_min_of_emission_and_pool_and_releases_a_skipped_round() -> None:
    w = make_world(2, rules=m.RulesV2(emission_wei=3 * ETH), pool=5 * ETH)
    w.refuse("NotOpenable", m.process_open_round, OTHER, 0)  # before T0
    w.goto(0, P.COMMIT)
    w.refuse("NotOpenable", m.process_open_round, OTHER, 1)
    (ev,) = w.call(m.process_open_round, OTHER, 0)
    assert ev.as_dict() == {"round": 0, "reserved": 3 * ETH, "totalStake": 2 * ETH}
    assert m.get_accounts(w.state) == m.Accounts(2 * ETH, 2 * ETH, 3 * ETH, 0)
    w.refuse("RoundAlreadyOpen", m.process_open_round, OTHER, 0)
    w.goto(0, P.BEACON)
    w.refuse("NotOpenable", m.process_open_round, OTHER, 0)  # after revealEnd
    w.goto(1, P.REVEAL, 5)  # round 0 skipped; 1 still openable in its reveal window
    (ev,) = w.call(m.process_open_round, OTHER, 1)
    assert ev["reserved"] == 3 * ETH  # 2 left + 3 released - 3
    assert m.get_accounts(w.state) == m.Accounts(2 * ETH, 2 * ETH, 3 * ETH, 0)
    assert m.get_round_view(w.state, 0).reserved == 3 * ETH  # the record of what round 0 had
    w.goto(2, P.COMMIT)
    w.call(m.process_open_round, OTHER, 2)
    w.goto(3, P.COMMIT)
    (ev,) = w.call(m.process_open_round, OTHER, 3)
    assert ev["reserved"] == 3 * ETH and m.get_accounts(w.state).pool == 2 * ETH
    w.call(m.process_fund_pool, OTHER, value=ETH)
    assert w.events_named("PoolFunded")[-1].as_dict() == {"from": OTHER, "amount": ETH}
    assert w.state.balance == m.get_accounts(w.state).total == 8 * ETH


def test_finalize_returns_dust_and_moves_the_round_earned_to_claimable() -> None:
    w = make_world(3, rules=m.RulesV2(emission_wei=10 * ETH + 2), pool=20 * ETH)
    w.run_round(0)
    # 10 ETH + 2 over three accepted updates: 3 wei of dust... the world pays floor shares
    share = (10 * ETH + 2) // 3
    assert m.get_accounts(w.state) == m.Accounts(
        3 * ETH, 10 * ETH - 2 + (10 * ETH + 2 - 3 * share), 0, 3 * share
    )
    assert w.state.balance == m.get_accounts(w.state).total


# ---------------------------------------------------------------- commit and reveal (§4, §5)


def test_commit_refusals_in_order() -> None:
    w = make_world(2)
    a, b = w.nodes
    u = w.update(a, 0)
    w.refuse("NotInCommitWindow", m.process_commit, a, 0, u.commitment())  # before T0
    w.goto(0, P.COMMIT)
    w.refuse("NotInCommitWindow", m.process_commit, a, 1, u.commitment())
    late = w.register("late")
    w.refuse("NotInFrozenSet", m.process_commit, late, 0, u.commitment())
    w.refuse("CommitmentMismatch", m.process_commit, a, 0, dg.ZERO32)
    (ev,) = w.commit(u)
    assert ev.as_dict() == {"round": 0, "node": a, "commitment": u.commitment()}
    w.refuse("AlreadyCommitted", m.process_commit, a, 0, u.commitment())
    assert m.get_commitment_of(w.state, 0, a) == (
        u.commitment(),
        m.CommitState.COMMITTED,
        m.RevealOutcome.ACCEPTED,
    )
    assert m.get_node_view(w.state, a, w.now).unrevealed == 1
    w.goto(0, P.REVEAL)
    w.refuse("NotInCommitWindow", m.process_commit, b, 0, w.update(b, 0).commitment())


def test_reveal_refusals_in_order() -> None:
    w = make_world(2, rules=m.RulesV2(max_payload_bytes=100))
    a, b = w.nodes
    w.goto(0, P.COMMIT)
    u = w.update(a, 0, payload=b"x" * 100)
    big = w.update(b, 0, payload=b"y" * 101)
    w.commit(u)
    w.commit(big)
    w.refuse("NotInRevealWindow", m.process_reveal, a, 0, u.payload, u.base, u.roi_bps, u.salt)
    w.goto(0, P.REVEAL)
    w.refuse("NoCommitment", m.process_reveal, OTHER, 0, u.payload, u.base, u.roi_bps, u.salt)
    err = w.refuse(
        "PayloadTooLarge", m.process_reveal, b, 0, big.payload, big.base, big.roi_bps, big.salt
    )
    assert err.arguments == (101, 100)
    for wrong in (
        (b"z" + u.payload[1:], u.base, u.roi_bps, u.salt),
        (u.payload, dg.ZERO32, u.roi_bps, u.salt),
        (u.payload, u.base, u.roi_bps + 1, u.salt),
        (u.payload, u.base, u.roi_bps, dg.ZERO32),
    ):
        w.refuse("CommitmentMismatch", m.process_reveal, a, 0, *wrong)
    w.refuse("CommitmentMismatch", m.process_reveal, b, 0, u.payload, u.base, u.roi_bps, u.salt)
    assert w.reveal(u) == m.RevealOutcome.ACCEPTED
    w.refuse("AlreadyRevealed", m.process_reveal, a, 0, u.payload, u.base, u.roi_bps, u.salt)
    w.goto(0, P.BEACON)
    w.refuse(
        "NotInRevealWindow", m.process_reveal, b, 0, big.payload, big.base, big.roi_bps, big.salt
    )


def test_reveal_outcomes_first_rule_that_applies() -> None:
    w = make_world(5, rules=m.RulesV2(roi_min_bps=-100, roi_max_bps=100))
    stale, abnormal, fine, copier, both = w.nodes
    w.goto(0, P.COMMIT)
    updates = {
        stale: w.update(stale, 0, base=dg.sha256(b"not the base")),
        abnormal: w.update(abnormal, 0, roi_bps=101),
        fine: w.update(fine, 0, roi_bps=100),
        copier: w.update(copier, 0, payload=w.update(fine, 0, roi_bps=100).payload),
        both: w.update(both, 0, roi_bps=-101, base=dg.sha256(b"x")),
    }
    for u in updates.values():
        w.commit(u)
    w.goto(0, P.REVEAL)
    outcomes = {n: w.reveal(u) for n, u in updates.items()}
    assert outcomes == {
        stale: m.RevealOutcome.REJECTED_STALE_BASE,
        abnormal: m.RevealOutcome.REJECTED_ABNORMAL_ROI,
        fine: m.RevealOutcome.ACCEPTED,
        copier: m.RevealOutcome.ACCEPTED,  # a copy: the merge penalises it, not the chain
        both: m.RevealOutcome.REJECTED_STALE_BASE,
    }
    (rev,) = [e for e in w.events_named("Revealed") if e["node"] == fine]
    u = updates[fine]
    assert rev.as_dict() == {
        "round": 0,
        "node": fine,
        "updateDigest": dg.sha256(u.payload),
        "baseDigest": u.base,
        "roiBps": 100,
        "salt": u.salt,
        "outcome": m.RevealOutcome.ACCEPTED,
        "payloadLength": len(u.payload),
    }
    view = m.get_node_view(w.state, fine, w.now)
    assert (view.accepted_reveals, view.last_accepted_round, view.unrevealed) == (1, 1, 0)
    assert m.get_node_view(w.state, abnormal, w.now).accepted_reveals == 0
    assert m.get_node_view(w.state, copier, w.now).accepted_reveals == 1
    assert m.get_commitment_of(w.state, 0, stale) == (
        dg.ZERO32,
        m.CommitState.REVEALED,
        m.RevealOutcome.REJECTED_STALE_BASE,
    )


def test_eligibility_gate_from_the_settled_record() -> None:
    rules = m.RulesV2(probation_rounds=2, penalty_cooldown_rounds=2, eligibility_min_score_bps=50)
    w = make_world(2, rules=rules)
    a, b = w.nodes
    _table, _ = w.run_round(0, penalised=[b])
    w.run_round(1)  # b, penalised in round 0 (lastPenaltyRound 1), is ineligible in 1 and 2
    assert w.accepted(1) == [a]
    assert not m.get_is_eligible(w.state, b, 2) and m.get_is_eligible(w.state, b, 3)
    # a has merged twice with score 0 < 50: past probation it is ineligible
    w.run_round(2)
    assert m.get_node_view(w.state, a, w.now).merged_rounds == 2
    assert not m.get_is_eligible(w.state, a, 3)
    assert not m.get_is_eligible(w.state, OTHER, 3)


def test_payload_is_the_update_and_its_cid_is_raw() -> None:
    w = make_world(1)
    w.goto(0, P.COMMIT)
    u = w.update(w.nodes[0], 0, payload=b"hello world\n")
    w.commit(u)
    w.goto(0, P.REVEAL)
    w.reveal(u)
    (rev,) = w.events_named("Revealed")
    assert (
        dg.raw_leaf_cid(rev["updateDigest"]).hex() == "01551220" + dg.sha256(b"hello world\n").hex()
    )


# ---------------------------------------------------------------- beacon (§6)


def test_beacon_window_frozen_set_once_and_length() -> None:
    w = make_world(2)
    a, b = w.nodes
    sig = BEACON.sign(m.get_beacon_round(w.state, 0))
    w.goto(0, P.REVEAL)
    w.refuse("NotInBeaconWindow", m.process_post_beacon, a, 0, sig)
    w.goto(0, P.BEACON)
    late = w.register("late")
    w.refuse("NotInFrozenSet", m.process_post_beacon, late, 0, sig)
    err = w.refuse("InvalidBeaconSignature", m.process_post_beacon, a, 0, sig[:95])
    assert err.arguments == (95,)
    (ev,) = w.call(m.process_post_beacon, a, 0, sig)
    assert ev.as_dict() == {
        "round": 0,
        "beaconRound": m.get_beacon_round(w.state, 0),
        "node": a,
        "signature": sig,
    }
    w.refuse("BeaconAlreadyPosted", m.process_post_beacon, a, 0, sig)
    assert m.get_has_posted_beacon(w.state, 0, a) and not m.get_has_posted_beacon(w.state, 0, b)
    w.call(m.process_post_beacon, b, 0, b"\x00" * 96)  # not verified on-chain: the merge does
    assert m.get_round_view(w.state, 0).others == 2
    w.goto(0, P.ATTEST)
    w.refuse("NotInBeaconWindow", m.process_post_beacon, b, 0, sig)


def test_beacon_round_is_after_reveal_end_plus_delay() -> None:
    w = make_world(0)
    d = w.state.deployment
    for r in range(3):
        n = m.get_beacon_round(w.state, r)
        produced = d.beacon_genesis + (n - 1) * d.beacon_period
        assert d.reveal_end(r) + d.beacon_delay <= produced < d.attest_open(r)


# ---------------------------------------------------------------- attest and finalize (§7)


def test_attest_refusals_in_order_and_the_tally() -> None:
    w = make_world(3, bond=2 * ETH)
    a, b, _c = w.nodes
    result = w.result_of(0, w.table_for(0))
    w.goto(0, P.BEACON)
    w.refuse("NotInAttestWindow", m.process_attest, a, 0, result)
    w.goto(0, P.ATTEST)
    late = w.register("late")
    w.refuse("NotInFrozenSet", m.process_attest, late, 0, result)
    bad_cid = m.Result(
        result.merged_digest, result.merged_cid[:35], result.manifest_cid, result.settlement_root, 0
    )
    w.refuse("InvalidCid", m.process_attest, a, 0, bad_cid)
    mismatch = m.Result(
        dg.sha256(b"x"), result.merged_cid, result.manifest_cid, result.settlement_root, 0
    )
    w.refuse("CidDigestMismatch", m.process_attest, a, 0, mismatch)
    bad_manifest = m.Result(
        result.merged_digest, result.merged_cid, b"\x01\x55", result.settlement_root, 0
    )
    w.refuse("InvalidCid", m.process_attest, a, 0, bad_manifest)
    (ev,) = w.call(m.process_attest, a, 0, result)
    h = result.hash(CHAIN_ID, CONTRACT, 0)
    assert ev["resultHash"] == h and ev["weight"] == 2 * ETH
    w.refuse("AlreadyAttested", m.process_attest, a, 0, result)
    assert m.get_tally_of(w.state, 0, h) == 2 * ETH
    view = m.get_node_view(w.state, a, w.now)
    assert (view.last_attested_round, view.last_vote_round, view.last_vote_hash) == (1, 1, h)
    w.goto_deadline(0)
    w.refuse("NotInAttestWindow", m.process_attest, b, 0, result)


def test_finality_needs_q_of_the_frozen_stake_exactly() -> None:
    # stakes 3, 3, 3, 1 (q = 2/3 of 10 → 6.666.. → 7 needed)
    w = make_world(0)
    nodes = [w.register(f"n{i}", bond) for i, bond in enumerate((3 * ETH, 3 * ETH, 3 * ETH, ETH))]
    w.goto(0, P.ATTEST)
    result = w.result_of(0, w.table_for(0))
    total = 10 * ETH
    needed = -(-m.DEFAULT_FINALITY_PPM * total // m.PPM)
    assert m.finality_needed(total, m.DEFAULT_FINALITY_PPM) == needed
    err = w.refuse("BelowFinality", m.process_finalize, OTHER, 0, result)
    assert err.arguments == (0, needed)
    w.call(m.process_attest, nodes[0], 0, result)
    w.call(m.process_attest, nodes[3], 0, result)
    w.refuse("BelowFinality", m.process_finalize, OTHER, 0, result)  # 4 of 10
    w.call(m.process_attest, nodes[1], 0, result)  # 7 of 10 ≥ 6.67
    (ev,) = w.call(m.process_finalize, OTHER, 0, result)
    h = result.hash(CHAIN_ID, CONTRACT, 0)
    assert ev.as_dict() == {"round": 0, "resultHash": h, "tally": 7 * ETH, "totalStake": total}
    assert m.get_round_view(w.state, 0).final_result == h
    w.refuse("AlreadyFinal", m.process_finalize, OTHER, 0, result)
    latest = m.get_latest(w.state)
    assert latest.round_plus_one == 1 and latest.settlement_root == result.settlement_root
    # a vote after finality still counts in the tally, and it is the final result
    w.call(m.process_attest, nodes[2], 0, result)
    assert m.get_tally_of(w.state, 0, h) == 10 * ETH


def test_finality_with_no_stake_is_impossible() -> None:
    assert m.finality_needed(0, m.DEFAULT_FINALITY_PPM) == 1
    w = make_world(0)
    w.goto(0, P.ATTEST)
    err = w.refuse("BelowFinality", m.process_finalize, OTHER, 0, w.result_of(0, {}))
    assert err.arguments == (0, 1)


def test_over_budget_results_cannot_be_final() -> None:
    w = make_world(3, rules=m.RulesV2(emission_wei=ETH), pool=ETH // 2)
    w.goto(0, P.COMMIT)
    w.call(m.process_open_round, OTHER, 0)
    w.goto(0, P.ATTEST)
    greedy = w.table_for(0, earned={n: ETH // 6 + 1 for n in w.nodes})
    result = w.result_of(0, greedy)
    assert result.round_earned == 3 * (ETH // 6 + 1) > ETH // 2
    for n in w.nodes:
        w.call(m.process_attest, n, 0, result)
    err = w.refuse("OverBudget", m.process_finalize, OTHER, 0, result)
    assert err.arguments == (3 * (ETH // 6 + 1), ETH // 2)


# ---------------------------------------------------------------- settlement (§8)


def test_settle_credits_the_leaf_node_and_collect_pays_only_the_sender_its_own() -> None:
    w = make_world(2, rules=m.RulesV2(emission_wei=2 * ETH), pool=10 * ETH)
    a, _b = w.nodes
    w.run_round(0)
    leaf, proof = w.proof(a)
    transfers = len(w.state.transfers)
    events = w.call(m.process_settle, OTHER, leaf, proof)
    assert [e.name for e in events] == ["Settled"]
    assert events[0].as_dict() == {
        "node": a,
        "round": 0,
        "cumEarned": ETH,
        "cumPenalties": 0,
        "slashed": 0,
    }
    assert len(w.state.transfers) == transfers  # settle pays no reward
    view = m.get_node_view(w.state, a, w.now)
    assert (view.settled_round, view.claimed, view.cum_earned) == (1, 0, ETH)
    w.refuse("AlreadySettled", m.process_settle, a, leaf, proof)
    w.refuse("NothingOwed", m.process_collect, OTHER)  # a third party collects nothing of a's
    assert m.get_collectable(w.state, a) == ETH
    (ev,) = w.call(m.process_collect, a)
    assert ev.as_dict() == {"node": a, "amount": ETH}
    assert w.state.transfers[-1] == m.Transfer(a, ETH, "collect")
    assert m.get_node_view(w.state, a, w.now).claimed == ETH
    w.refuse("NothingOwed", m.process_collect, a)


def test_settle_refusals() -> None:
    w = make_world(2, rules=m.RulesV2(emission_wei=2 * ETH), pool=10 * ETH)
    a, b = w.nodes
    w.refuse("AlreadySettled", m.process_settle, a, m.Leaf(a, 0), [dg.ZERO32] * 16)  # nothing final
    w.run_round(0)
    leaf, proof = w.proof(a)
    leaf_b, proof_b = w.proof(b)
    w.refuse("InvalidProof", m.process_settle, a, m.Leaf(a, 1), proof_b)  # b's position
    w.refuse("InvalidProof", m.process_settle, a, m.Leaf(a, 0, cum_earned=1), proof)  # forged
    w.refuse("InvalidProof", m.process_settle, a, leaf, proof_b)
    w.refuse("InvalidProof", m.process_settle, a, leaf, proof[:15])
    w.refuse("InvalidProof", m.process_settle, a, m.Leaf(a, 7), proof)
    w.refuse("AlreadySettled", m.process_settle, OTHER, m.Leaf(OTHER, 0), proof)  # not a node
    w.call(m.process_settle, a, leaf, proof)
    w.call(m.process_settle, b, leaf_b, proof_b)
    assert m.get_node_view(w.state, a, w.now).cum_earned == ETH
    # a final result whose leaf takes back what a settled leaf said
    w.goto(1, P.ATTEST)
    regressed = w.table_for(1)
    regressed[a] = m.Leaf(a, 0, cum_earned=ETH - 1)
    result = w.result_of(1, regressed, "regressed", round_earned=0)
    for n in (a, b):
        w.call(m.process_attest, n, 1, result)
    w.finalize(1, regressed, result)
    leaf, proof = w.proof(a)
    err = w.refuse("LeafRegressed", m.process_settle, a, leaf, proof)
    assert err.arguments == (a,)


def test_settlement_uses_only_the_latest_root() -> None:
    w = make_world(3, rules=m.RulesV2(emission_wei=2 * ETH), pool=10 * ETH)
    a, b, c = w.nodes
    w.run_round(0, committers=[a])
    old_leaf, old_proof = w.proof(a)
    w.run_round(1, committers=[b], voters=[b, c])  # a takes no part in round 1: it does not lag
    w.refuse("InvalidProof", m.process_settle, a, old_leaf, old_proof)
    (ev,) = w.settle(a)
    assert ev["cumEarned"] == 2 * ETH and ev["round"] == 1  # cumulative: round 0's 2 ETH, once
    (paid,) = w.call(m.process_collect, a)
    assert paid["amount"] == 2 * ETH


def test_claims_are_capped_by_what_final_rounds_made_claimable() -> None:
    w = make_world(2, rules=m.RulesV2(emission_wei=ETH), pool=10 * ETH)
    a, b = w.nodes
    w.goto(0, P.COMMIT)
    w.call(m.process_open_round, OTHER, 0)
    w.goto(0, P.ATTEST)
    # a table paying a more than its share (still within the round's budget)
    table = w.table_for(0, earned={a: ETH, b: 0})
    result = w.result_of(0, table)
    for n in (a, b):
        w.call(m.process_attest, n, 0, result)
    w.finalize(0, table, result)
    assert m.get_accounts(w.state).claimable == ETH
    w.settle(a)
    assert m.get_accounts(w.state).claimable == ETH  # settle pays nothing
    w.call(m.process_collect, a)
    assert m.get_accounts(w.state).claimable == 0
    assert m.get_node_view(w.state, a, w.now).claimed == ETH


def test_a_wallet_that_refuses_ether_is_settled_and_collects_once_it_accepts() -> None:
    w = make_world(2, rules=m.RulesV2(emission_wei=2 * ETH), pool=10 * ETH)
    a, b = w.nodes
    w.state.rejecting.add(a)
    w.run_round(0)
    events = w.settle(a, sender=OTHER)  # no transfer: the refusal cannot block the settlement
    assert [e.name for e in events] == ["Settled"]
    w.refuse("TransferFailed", m.process_collect, a)
    assert m.get_node_view(w.state, a, w.now).claimed == 0  # the refusal changed nothing
    w.refuse("NothingOwed", m.process_collect, b)  # b has not settled: nothing to collect
    w.state.rejecting.discard(a)
    (ev,) = w.call(m.process_collect, a)
    assert ev.as_dict() == {"node": a, "amount": ETH}
    assert w.state.transfers[-1] == m.Transfer(a, ETH, "collect")
    w.refuse("NothingOwed", m.process_collect, a)


def test_lagging_nodes_cannot_commit_attest_or_withdraw_until_they_settle() -> None:
    w = make_world(3)
    a, _b, _c = w.nodes
    w.run_round(0)
    w.goto(1, P.COMMIT)
    u = w.update(a, 1)
    err = w.refuse("SettlementPending", m.process_commit, a, 1, u.commitment())
    assert err.arguments == (a, 0)
    w.goto(1, P.ATTEST)
    result = w.result_of(1, w.table_for(1))
    w.refuse("SettlementPending", m.process_attest, a, 1, result)
    w.call(m.process_request_exit, a)
    w.now += 2 * L
    w.refuse("SettlementPending", m.process_withdraw, a)
    w.settle(a)
    w.call(m.process_withdraw, a)
    # a node that took part in no final round never lags
    d = w.register("fresh")
    w.goto(w.round + 1, P.COMMIT)
    w.call(m.process_commit, d, w.round, w.update(d, w.round).commitment())


def test_attesting_a_round_already_final_needs_no_settlement() -> None:
    w = make_world(3)
    a, b, c = w.nodes
    _table, result = w.run_round(0, voters=[a, b])
    assert m.get_round_view(w.state, 0).final_result != dg.ZERO32
    w.call(m.process_attest, c, 0, result)  # c committed in round 0 and has not settled its root


# ---------------------------------------------------------------- slashing (§11)


def test_no_reveal_is_slashed_by_anyone_once_also_in_a_skipped_round() -> None:
    rules = m.RulesV2(bounty_ppm=200_000)
    w = make_world(2, rules=rules)
    a, b = w.nodes
    w.goto(0, P.COMMIT)
    w.commit(w.update(a, 0))
    w.goto(0, P.REVEAL, R - 1)
    w.refuse("NotSlashable", m.process_slash_no_reveal, OTHER, 0, a)  # window still open
    w.goto(0, P.BEACON)
    w.refuse("NotSlashable", m.process_slash_no_reveal, OTHER, 0, b)  # b never committed
    w.goto_deadline(0)  # round 0 is skipped: nobody attested
    w.now += 5 * L
    (ev,) = w.call(m.process_slash_no_reveal, OTHER, 0, a)
    amount = rules.no_reveal_slash_wei
    bounty = amount // 5
    assert ev.as_dict() == {
        "node": a,
        "round": 0,
        "fault": m.Fault.NO_REVEAL,
        "amount": amount,
        "bounty": bounty,
        "beneficiary": OTHER,
    }
    assert w.state.transfers[-1] == m.Transfer(OTHER, bounty, "bounty")
    assert m.get_accounts(w.state) == m.Accounts(2 * ETH - amount, amount - bounty, 0, 0)
    assert m.get_commitment_of(w.state, 0, a)[1] == m.CommitState.SLASHED
    assert m.get_node_view(w.state, a, w.now).unrevealed == 0
    assert m.get_round_view(w.state, 0).others == 1
    w.refuse("NotSlashable", m.process_slash_no_reveal, OTHER, 0, a)


def test_a_bounty_to_a_sender_that_refuses_ether_reverts_the_slash() -> None:
    w = make_world(1)
    a = w.nodes[0]
    w.goto(0, P.COMMIT)
    w.commit(w.update(a, 0))
    w.goto(0, P.BEACON)
    w.state.rejecting.add(OTHER)
    w.refuse("TransferFailed", m.process_slash_no_reveal, OTHER, 0, a)
    (ev,) = w.call(m.process_slash_no_reveal, a, 0, a)  # the node itself: no bounty
    assert (ev["bounty"], ev["beneficiary"]) == (0, a)


def test_a_wrong_vote_is_slashed_lazily_and_only_when_a_result_is_final() -> None:
    w = make_world(4, bond=2 * ETH)
    a, b, c, d = w.nodes
    _table, _result = w.run_round(0, voters=[a, b, c])
    # d voted for another result in round 0 … (run_round finalised with a, b, c)
    w.goto(1, P.ATTEST)  # round 1: d votes wrong, everyone else right
    for n in (a, b, c):
        w.settle(n)
    w.settle(d)
    table1 = w.table_for(1)
    good = w.result_of(1, table1)
    bad = w.result_of(1, table1, "a different model")
    for n in (a, b, c):
        w.call(m.process_attest, n, 1, good)
    w.call(m.process_attest, d, 1, bad)
    assert w.events_named("Slashed") == []
    w.finalize(1, table1, good)
    assert w.events_named("Slashed") == []  # lazy: nothing until d acts
    w.goto(2, P.COMMIT)
    w.settle(d)  # d's own settle applies it (no bounty)
    (slash,) = w.events_named("Slashed")
    assert slash.as_dict() == {
        "node": d,
        "round": 1,
        "fault": m.Fault.WRONG_VOTE,
        "amount": m.RulesV2().wrong_vote_slash_wei,
        "bounty": 0,
        "beneficiary": d,
    }
    assert m.get_node_view(w.state, d, w.now).last_vote_round == 0
    # round 2: d votes wrong again, but round 2 is skipped — nothing to slash
    w.goto(2, P.ATTEST)
    w.call(m.process_attest, d, 2, w.result_of(2, w.table_for(2), "wrong again"))
    w.goto(3, P.COMMIT)
    w.call(m.process_commit, d, 3, w.update(d, 3).commitment())
    assert len(w.events_named("Slashed")) == 1
    assert m.get_node_view(w.state, d, w.now).last_vote_round == 0


def test_a_third_party_settling_a_wrong_voter_gets_the_bounty() -> None:
    w = make_world(4, rules=m.RulesV2(bounty_ppm=500_000))
    a, b, c, d = w.nodes
    w.goto(0, P.ATTEST)
    table = w.table_for(0)
    good, bad = w.result_of(0, table), w.result_of(0, table, "bad")
    for n in (a, b, c):
        w.call(m.process_attest, n, 0, good)
    w.call(m.process_attest, d, 0, bad)
    w.finalize(0, table, good)
    events = w.settle(d, sender=OTHER)
    assert [e.name for e in events] == ["Slashed", "Settled"]
    amount = m.RulesV2().wrong_vote_slash_wei
    assert events[0]["bounty"] == amount // 2
    assert w.state.transfers[-1] == m.Transfer(OTHER, amount // 2, "bounty")


def test_a_penalty_needs_an_accepted_reveal_the_root_covers_once() -> None:
    w = make_world(3, bond=2 * ETH, rules=m.RulesV2(bounty_ppm=0))
    a, b, c = w.nodes
    # a: accepted and penalised; b: rejected (abnormal claim) yet "penalised"; c: no commit
    w.goto(0, P.COMMIT)
    ua, ub = w.update(a, 0), w.update(b, 0, roi_bps=10**6)
    w.commit(ua)
    w.commit(ub)
    w.goto(0, P.REVEAL)
    w.reveal(ua)
    assert w.reveal(ub) == m.RevealOutcome.REJECTED_ABNORMAL_ROI
    w.goto(0, P.ATTEST)
    table = w.table_for(0, penalised=[a, b, c])
    result = w.result_of(0, table)
    for n in (a, b, c):
        w.call(m.process_attest, n, 0, result)
    w.finalize(0, table, result)
    penalty = m.RulesV2().penalty_slash_wei
    ev_a = w.settle(a)
    assert [e.name for e in ev_a] == ["Slashed", "Settled"]
    assert ev_a[0]["fault"] == m.Fault.PENALTY and ev_a[0]["amount"] == penalty
    assert ev_a[1]["slashed"] == penalty and ev_a[1]["cumPenalties"] == 1
    for n in (b, c):
        (settled,) = w.settle(n)  # recorded (cumPenalties 1), nothing slashed
        assert settled["slashed"] == 0 and settled["cumPenalties"] == 1
    views = {n: m.get_node_view(w.state, n, w.now) for n in (a, b, c)}
    assert [views[n].penalties_applied for n in (a, b, c)] == [1, 0, 0]
    assert [views[n].bond for n in (a, b, c)] == [2 * ETH - penalty, 2 * ETH, 2 * ETH]
    # a later root adding more penalties for the same (already covered) reveal slashes nothing
    w.goto(1, P.ATTEST)
    table1 = w.table_for(1, penalised=[a])
    result1 = w.result_of(1, table1)
    for n in (a, b, c):
        w.call(m.process_attest, n, 1, result1)
    w.finalize(1, table1, result1)
    (settled,) = w.settle(a)
    assert settled["slashed"] == 0 and settled["cumPenalties"] == 2


def test_slashes_are_capped_by_the_bond_and_lower_the_stake_from_next_round() -> None:
    rules = m.RulesV2(
        no_reveal_slash_wei=ETH // 2, wrong_vote_slash_wei=ETH // 2, penalty_slash_wei=0
    )
    w = make_world(1, bond=ETH, rules=rules)
    a = w.nodes[0]
    w.goto(0, P.COMMIT)
    w.commit(w.update(a, 0))
    w.goto(0, P.BEACON)
    w.call(m.process_slash_no_reveal, a, 0, a)
    assert m.get_stake_of(w.state, a, 0) == ETH  # round 0's weight is frozen
    assert m.get_stake_of(w.state, a, 1) == 0  # below minBond: out from round 1
    assert m.get_round_view(w.state, 1).total_stake == 0
    w.call(m.process_add_bond, a, value=ETH // 2)  # back to minBond: in again from round 1
    assert m.get_stake_of(w.state, a, 1) == ETH


# ---------------------------------------------------------------- withdrawal (§11)


def test_withdrawal_conditions_in_order() -> None:
    w = make_world(3)
    a, _b, _c = w.nodes
    w.goto(0, P.COMMIT)
    w.commit(w.update(a, 0))  # a will not reveal
    w.call(m.process_request_exit, a)
    w.refuse("WithdrawalTooEarly", m.process_withdraw, a)
    w.now += 2 * L
    err = w.refuse("UnrevealedCommitment", m.process_withdraw, a)
    assert err.arguments == (1,)
    w.call(m.process_slash_no_reveal, OTHER, 0, a)
    w.state.rejecting.add(a)
    w.refuse("TransferFailed", m.process_withdraw, a)
    w.state.rejecting.discard(a)
    (ev,) = w.call(m.process_withdraw, a)
    remaining = ETH - m.RulesV2().no_reveal_slash_wei
    assert ev.as_dict() == {"node": a, "amount": remaining}
    assert w.state.transfers[-1] == m.Transfer(a, remaining, "withdraw")
    assert m.get_node_view(w.state, a, w.now).status == m.Status.WITHDRAWN
    w.refuse("NotExiting", m.process_withdraw, a)


def test_withdraw_applies_a_pending_wrong_vote_first() -> None:
    w = make_world(4)
    a, b, c, d = w.nodes
    w.goto(0, P.ATTEST)
    table = w.table_for(0)
    good = w.result_of(0, table)
    for n in (a, b, c):
        w.call(m.process_attest, n, 0, good)
    w.call(m.process_attest, d, 0, w.result_of(0, table, "wrong"))
    w.call(m.process_request_exit, d)
    w.finalize(0, table, good)
    w.now += 2 * L
    w.settle(d)  # not lagging any more; the settle applied the wrong vote already
    assert [e.name for e in w.events_named("Slashed")] == ["Slashed"]
    (ev,) = w.call(m.process_withdraw, d)
    assert ev["amount"] == ETH - m.RulesV2().wrong_vote_slash_wei


def test_round_undecided_is_unreachable_while_exit_delay_covers_two_rounds() -> None:
    # the guard exists for the contract; with exitDelay ≥ 2L the last round a node could take
    # part in has passed its deadline by withdrawableAt
    w = make_world(3)
    a = w.nodes[0]
    w.goto(0, P.ATTEST, B - 1)
    w.call(m.process_attest, a, 0, w.result_of(0, w.table_for(0)))
    w.call(m.process_request_exit, a)
    node = w.state.nodes[a]
    assert node.withdrawable_at >= w.state.deployment.deadline(node.last_participated_round - 1)


# ---------------------------------------------------------------- governance (§10)


def test_rules_need_notice_and_order() -> None:
    w = make_world(1, rules=m.RulesV2(notice_rounds=3))
    w.refuse("NotGovernor", m.process_schedule_rules, OTHER, m.RulesV2(effective_round=9))
    w.goto(2, P.COMMIT, 5)  # effective(now) = 3, earliest = 6
    err = w.refuse(
        "NoticeTooShort",
        m.process_schedule_rules,
        w.gov,
        m.RulesV2(effective_round=5, notice_rounds=1),
    )
    assert err.arguments == (5, 6)
    (ev,) = w.call(m.process_schedule_rules, w.gov, m.RulesV2(effective_round=6, notice_rounds=1))
    assert (ev["effectiveRound"], ev["version"]) == (6, 1)
    err = w.refuse("RulesOutOfOrder", m.process_schedule_rules, w.gov, m.RulesV2(effective_round=6))
    assert err.arguments == (6, 6)
    # the lower notice is the one in force only from round 6
    w.goto(5, P.COMMIT)
    w.refuse("NoticeTooShort", m.process_schedule_rules, w.gov, m.RulesV2(effective_round=8))
    w.goto(6, P.COMMIT)
    w.call(m.process_schedule_rules, w.gov, m.RulesV2(effective_round=8))
    assert m.get_rules_for_round(w.state, 7).notice_rounds == 1
    assert m.get_rules_for_round(w.state, 8).notice_rounds == 2
    assert m.get_rules_version_count(w.state) == 3


def test_cancel_only_outside_the_notice_period() -> None:
    w = make_world(1, rules=m.RulesV2(notice_rounds=2))
    w.refuse("NothingToCancel", m.process_cancel_rules, w.gov)
    w.goto(0, P.COMMIT)
    w.call(m.process_schedule_rules, w.gov, m.RulesV2(effective_round=5))
    w.call(m.process_schedule_rules, w.gov, m.RulesV2(effective_round=6))
    w.refuse("NotGovernor", m.process_cancel_rules, OTHER)
    (ev,) = w.call(m.process_cancel_rules, w.gov)
    assert ev.as_dict() == {"version": 2}
    w.goto(3, P.COMMIT)  # effective 4, earliest 6: version 1 (round 5) is inside the notice
    err = w.refuse("NoticeTooShort", m.process_cancel_rules, w.gov)
    assert err.arguments == (5, 6)
    w.goto(5, P.COMMIT)
    w.refuse("RulesInEffect", m.process_cancel_rules, w.gov)
    assert m.get_rules_version_count(w.state) == 2


def test_two_step_governor() -> None:
    w = make_world(0)
    new = wallet("new governor")
    w.refuse("NotGovernor", m.process_transfer_governance, OTHER, new)
    w.refuse("ZeroAddress", m.process_transfer_governance, w.gov, m.ZERO_ADDRESS)
    w.refuse("NotPendingGovernor", m.process_accept_governance, new)
    (ev,) = w.call(m.process_transfer_governance, w.gov, new)
    assert ev.as_dict() == {"governor": w.gov, "pendingGovernor": new}
    assert m.get_governor(w.state) == w.gov  # nothing moved yet
    w.refuse("NotPendingGovernor", m.process_accept_governance, OTHER)
    (ev,) = w.call(m.process_accept_governance, new)
    assert ev.as_dict() == {"previousGovernor": w.gov, "newGovernor": new}
    assert (m.get_governor(w.state), m.get_pending_governor(w.state)) == (new, m.ZERO_ADDRESS)
    w.refuse("NotGovernor", m.process_pause, w.gov, 10)


def test_pause_stops_only_rounds_that_start_inside_it() -> None:
    w = make_world(2)
    a, _b = w.nodes
    w.goto(0, P.COMMIT, 10)
    w.refuse("PauseNotAllowed", m.process_pause, w.gov, 0)
    err = w.refuse("PauseNotAllowed", m.process_pause, w.gov, m.MAX_PAUSE + 1)
    assert err.arguments == (0,)
    (ev,) = w.call(m.process_pause, w.gov, 2 * L)
    assert ev.as_dict() == {"from": w.now, "until": w.now + 2 * L}
    w.commit(w.update(a, 0))  # round 0 started before the pause
    w.goto(1, P.COMMIT)
    w.refuse("RoundPaused", m.process_commit, a, 1, w.update(a, 1).commitment())
    w.refuse("RoundPaused", m.process_open_round, OTHER, 1)
    err = w.refuse("PauseNotAllowed", m.process_pause, w.gov, 10)
    assert err.arguments == (w.state.pause_until + m.PAUSE_COOLDOWN,)
    w.refuse("NotGovernor", m.process_unpause, OTHER)
    w.goto(1, P.COMMIT, 5)
    w.call(m.process_unpause, w.gov)
    w.refuse("NotPaused", m.process_unpause, w.gov)
    # round 1 started inside the pause: it stays paused after the pause ends early
    w.refuse("RoundPaused", m.process_commit, a, 1, w.update(a, 1).commitment())
    w.goto(2, P.COMMIT)
    w.commit(w.update(a, 2))
    assert m.get_pause_window(w.state) == (T0 + 10, T0 + L + 5)
    err = w.refuse("PauseNotAllowed", m.process_pause, w.gov, 10)
    assert err.arguments == (T0 + L + 5 + m.PAUSE_COOLDOWN,)
    w.now = T0 + L + 5 + m.PAUSE_COOLDOWN
    w.call(m.process_pause, w.gov, 10)


def test_views_of_time() -> None:
    w = make_world(0)
    d = w.state.deployment
    assert m.get_phase_at(w.state, T0 - 1) == (0, P.NOT_STARTED)
    for ts, phase in (
        (T0, P.COMMIT),
        (T0 + C, P.REVEAL),
        (T0 + C + R, P.BEACON),
        (T0 + C + R + B, P.ATTEST),
    ):
        assert m.get_phase_at(w.state, ts + 3 * L) == (3, phase)
        assert m.get_current_phase(w.state, ts) == (0, phase)
    assert d.effective_round(T0 - 1) == 0 and d.effective_round(T0 + L - 1) == 1


def test_forward_rule_bounds() -> None:
    """§15.1: an all-zero forward part is valid (scoring off); with forward bars the lag must
    let each window close before its vote round, and the trail keep at least one round."""
    d = make_world(0).state.deployment

    def refused(**fields: int) -> bytes:
        with pytest.raises(m.ProtocolError) as err:
            m.check_rules(m.RulesV2(**fields), d)
        assert err.value.name == "RuleOutOfBounds"
        return bytes(err.value.arguments[0])

    m.check_rules(m.RulesV2(forward_lag_rounds=0, forward_trail_rounds=0), d)
    needed = d.commit_window + d.reveal_window + (5 + 2) * 900
    lag = -(-needed // d.round_length)
    m.check_rules(m.RulesV2(forward_bars=5, forward_lag_rounds=lag), d)
    assert refused(forward_bars=5, forward_lag_rounds=lag - 1) == b32("forwardLagRounds")
    assert refused(forward_bars=5, forward_lag_rounds=0) == b32("forwardLagRounds")
    assert refused(forward_bars=5, forward_lag_rounds=lag, forward_trail_rounds=0) == b32(
        "forwardTrailRounds"
    )
    for field, bad, name in (
        ("forward_bars", 1_001, "forwardBars"),
        ("forward_margin_seconds", 7 * 86_400 + 1, "forwardMarginSeconds"),
        ("forward_lag_rounds", 1_001, "forwardLagRounds"),
        ("forward_trail_rounds", 65, "forwardTrailRounds"),
        ("forward_noise_z_ppm", 4_000_001, "forwardNoiseZPpm"),
        ("forward_noise_floor_bps", 10_001, "forwardNoiseFloorBps"),
        ("norm_bound_rel_ppm", 100_000_001, "normBoundRelPpm"),
    ):
        assert refused(**{field: bad}) == b32(name), field

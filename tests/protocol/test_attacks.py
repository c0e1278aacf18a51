"""The attacks of docs/security.md §3 that the reference machine decides on its own.

Each test is cited by the attack table; it runs the attack against `flchain.protocol.machine`
and shows the rule that stops it. Rows that need the real contract (calldata reading, gas) or
the real merge are tested there.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

from flchain.protocol import digests as dg
from flchain.protocol import machine as m

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine_world import BEACON, ETH, GENESIS, L, World, make_world, wallet

P = m.Phase
ANYONE = wallet("anyone")


def _sybils(w: World, count: int, bond: int, prefix: str = "sybil") -> list[str]:
    return [w.register(f"{prefix} {i}", bond) for i in range(count)]


def test_sybils_registered_late_cannot_vote() -> None:
    w = make_world(3)  # three honest nodes, 1 ETH each
    honest = list(w.nodes)
    w.goto(0, P.ATTEST)
    # after round 0's reveals closed, fresh wallets with 30x the honest stake appear
    sybils = _sybils(w, 10, 10 * ETH)
    table = w.table_for(0, penalised=honest)
    wrong = w.result_of(0, table, "the attacker's model")
    for s in sybils:
        w.refuse("NotInFrozenSet", m.process_attest, s, 0, wrong)
    w.refuse("BelowFinality", m.process_finalize, sybils[0], 0, wrong)
    assert m.get_round_view(w.state, 0).total_stake == 3 * ETH  # frozen at S(0)
    honest_table = w.table_for(0)
    good = w.result_of(0, honest_table)
    for n in honest:
        w.call(m.process_attest, n, 0, good)
    w.finalize(0, honest_table, good)
    assert m.get_round_view(w.state, 0).final_result == good.hash(
        w.state.chain_id, w.state.contract, 0
    )
    # the sybils count from round 1 — and every wei of it is bonded and slashable
    assert m.get_round_view(w.state, 1).total_stake == 103 * ETH


def test_sybil_minority_cannot_finalize() -> None:
    w = make_world(7)  # 7 ETH honest
    honest = list(w.nodes)
    w.refuse("BondTooSmall", m.process_register, wallet("dust"), value=ETH // 10)
    sybils = _sybils(w, 3, ETH)  # 3 ETH: 30 % of round 0's stake
    w.goto(0, P.ATTEST)
    table = w.table_for(0)
    wrong = w.result_of(0, table, "the attacker's model")
    for s in sybils:
        w.call(m.process_attest, s, 0, wrong)
    err = w.refuse("BelowFinality", m.process_finalize, sybils[0], 0, wrong)
    assert err.arguments == (3 * ETH, m.finality_needed(10 * ETH, m.DEFAULT_FINALITY_PPM))
    good = w.result_of(0, table)
    for n in honest:
        w.call(m.process_attest, n, 0, good)
    w.finalize(0, table, good, sender=sybils[0])  # anyone may finalize; no vote pays for it
    w.refuse("AlreadyFinal", m.process_finalize, sybils[1], 0, wrong)
    # each sybil's wrong vote is slashed at its next action; honest bonds are untouched
    w.goto(1, P.COMMIT)
    for s in sybils:
        w.settle(s)
    slashed = {e["node"] for e in w.events_named("Slashed")}
    assert slashed == set(sybils)
    assert all(w.state.nodes[n].bond == ETH for n in honest)


def test_exit_before_penalty_still_slashed() -> None:
    w = make_world(4)
    cheat = w.nodes[3]
    w.goto(0, P.COMMIT)
    updates = [w.update(n, 0) for n in w.nodes]
    for u in updates:
        w.commit(u)
    w.goto(0, P.REVEAL)
    for u in updates:
        w.reveal(u)
    w.call(m.process_request_exit, cheat)  # exit right after its (accepted) false claim
    w.goto(0, P.ATTEST)
    table = w.table_for(0, penalised=[cheat])  # the merge could not reproduce its claim
    result = w.result_of(0, table)
    for n in w.nodes[:3]:
        w.call(m.process_attest, n, 0, result)
    w.finalize(0, table, result)
    w.now += 2 * L
    w.refuse("SettlementPending", m.process_withdraw, cheat)
    events = w.settle(cheat, sender=ANYONE)  # anyone can apply it, for a bounty
    penalty = m.RulesV2().penalty_slash_wei
    assert [(e.name, e["amount"]) for e in events if e.name == "Slashed"] == [("Slashed", penalty)]
    (ev,) = w.call(m.process_withdraw, cheat)
    assert ev["amount"] == ETH - penalty


def test_flood_of_cheaters_does_not_block_finality() -> None:
    w = make_world(0)
    honest = [w.register(f"honest {i}", 50 * ETH) for i in range(5)]  # 250 ETH
    cheaters = _sybils(w, 100, ETH, "cheater")  # 100 ETH: 29 % of the stake
    w.goto(0, P.COMMIT)
    updates = [w.update(n, 0) for n in honest + cheaters]
    for u in updates:
        w.commit(u)
    w.goto(0, P.REVEAL)
    for u in updates:
        assert w.reveal(u) == m.RevealOutcome.ACCEPTED
    w.goto(0, P.ATTEST)
    table = w.table_for(0, penalised=cheaters)  # the honest merge penalises all 100
    result = w.result_of(0, table)
    for n in honest:
        w.call(m.process_attest, n, 0, result)
    # finalization is one call of constant size that writes no node's storage
    before = copy.deepcopy(w.state.nodes)
    w.finalize(0, table, result, sender=ANYONE)
    assert w.state.nodes == before
    assert len(result.to_abi()) == 5
    # each cheater's penalty lands through its own O(1) settlement, once
    w.goto(1, P.COMMIT)
    for c in cheaters:
        w.settle(c, sender=ANYONE)
    penalties = [e for e in w.events_named("Slashed") if e["fault"] == m.Fault.PENALTY]
    assert sorted(e["node"] for e in penalties) == sorted(cheaters)
    assert all(w.state.nodes[c].bond == ETH - m.RulesV2().penalty_slash_wei for c in cheaters)
    assert all(w.state.nodes[h].bond == 50 * ETH for h in honest)


def test_late_finalization_impossible() -> None:
    w = make_world(3)
    a, b, attacker = w.nodes
    w.goto(0, P.ATTEST)
    table = w.table_for(0)
    result = w.result_of(0, table)
    for n in (a, b, attacker):  # enough votes, but the pivotal finalizer waits
        w.call(m.process_attest, n, 0, result)
    w.goto(1, P.REVEAL)  # during round 1's reveal window…
    w.refuse("NotInAttestWindow", m.process_finalize, attacker, 0, result)
    w.refuse("NotInAttestWindow", m.process_attest, attacker, 0, result)
    # …so round 1's base stays the model final before S(1): the genesis
    assert m.get_latest(w.state).round_plus_one == 0
    # an honest update of round 1 on that base is accepted: nothing turned it stale
    w2 = make_world(3)
    w2.goto(1, P.COMMIT)
    u = w2.update(w2.nodes[0], 1)
    w2.commit(u)
    w2.goto(1, P.REVEAL)
    assert u.base == w.state.deployment.genesis_digest
    assert w2.reveal(u) == m.RevealOutcome.ACCEPTED
    w.now = w.state.deployment.deadline(5)
    w.refuse("NotInAttestWindow", m.process_finalize, attacker, 0, result)


def test_dag_pb_and_oversized_payloads_refused() -> None:
    w = make_world(2)
    a, b = w.nodes
    w.goto(0, P.COMMIT)
    big = w.update(a, 0, payload=b"\x00" * (m.MAX_PAYLOAD_BYTES + 1))
    root = w.update(b, 0, payload=b"a 289 KB dag-pb root describing a 1.26 TiB file")
    w.commit(big)
    w.commit(root)
    w.goto(0, P.REVEAL)
    err = w.refuse(
        "PayloadTooLarge", m.process_reveal, a, 0, big.payload, big.base, big.roi_bps, big.salt
    )
    assert err.arguments == (m.MAX_PAYLOAD_BYTES + 1, m.MAX_PAYLOAD_BYTES)
    # no CID is passed: the update's CID is the raw leaf of sha256(payload) the chain checked,
    # so a reveal can never name a DAG
    w.reveal(root)
    (rev,) = w.events_named("Revealed")
    assert dg.raw_leaf_cid(rev["updateDigest"])[:2] == bytes([0x01, m.CODEC_RAW])
    assert rev["updateDigest"] == dg.sha256(root.payload)
    # and the bound itself cannot be raised past 16 KiB
    err = w.refuse(
        "RuleOutOfBounds",
        m.process_schedule_rules,
        w.gov,
        m.RulesV2(effective_round=10, max_payload_bytes=m.MAX_PAYLOAD_BYTES + 1),
    )
    assert err.arguments == (b"maxPayloadBytes".ljust(32, b"\x00"),)


def test_copied_update_accepted_on_chain() -> None:
    """The chain keeps no seen-mark: a byte-for-byte copy of an earlier update, of the base (the
    latest final model) or of the genesis model is Accepted like any update. The merge refuses
    it instead (an update's metadata names its own reveal), which also slashes it."""
    w = make_world(4)
    a, copier, base_copier, genesis_copier = w.nodes
    w.run_round(0)
    original = w.update(a, 0)  # a's round-0 update, byte for byte
    w.goto(1, P.COMMIT)
    for n in (copier, base_copier, genesis_copier):
        w.settle(n)
    base = m.get_latest(w.state).merged_digest
    assert base == dg.sha256(b"merged 0 honest")  # machine_world's round-0 model
    copies = [
        w.update(copier, 1, payload=original.payload, base=base),
        w.update(base_copier, 1, payload=b"merged 0 honest", base=base),
        w.update(genesis_copier, 1, payload=GENESIS, base=base),
    ]
    for u in copies:
        w.commit(u)
    w.goto(1, P.REVEAL)
    assert [w.reveal(u) for u in copies] == [m.RevealOutcome.ACCEPTED] * 3
    assert sorted(w.accepted(1)) == sorted([copier, base_copier, genesis_copier])
    for u in copies:
        assert m.get_node_view(w.state, u.node, w.now).last_accepted_round == 2


def test_rule_change_needs_notice() -> None:
    w = make_world(1, rules=m.RulesV2(notice_rounds=3))
    w.goto(4, P.ATTEST, 99)  # one second before round 5 opens
    rushed = m.RulesV2(effective_round=5, finality_ppm=500_001, roi_max_bps=1_000_000)
    err = w.refuse("NoticeTooShort", m.process_schedule_rules, w.gov, rushed)
    assert err.arguments == (5, 8)
    # lowering the notice to 1 waits out the notice in force: it governs from round 8
    w.call(m.process_schedule_rules, w.gov, m.RulesV2(effective_round=8, notice_rounds=1))
    w.goto(6, P.COMMIT)
    err = w.refuse("NoticeTooShort", m.process_schedule_rules, w.gov, m.RulesV2(effective_round=9))
    assert err.arguments == (9, 10)
    err = w.refuse("NoticeTooShort", m.process_cancel_rules, w.gov)  # inside the notice: locked
    assert err.arguments == (8, 10)
    w.goto(8, P.COMMIT)
    w.refuse("NoticeTooShort", m.process_schedule_rules, w.gov, m.RulesV2(effective_round=9))
    w.call(m.process_schedule_rules, w.gov, m.RulesV2(effective_round=10))
    assert [m.get_rules_for_round(w.state, r).notice_rounds for r in (7, 8, 9, 10)] == [3, 1, 1, 2]


def test_pause_expires_and_never_blocks_exit() -> None:
    w = make_world(3)
    a, b, c = w.nodes
    w.run_round(0)
    w.goto(1, P.COMMIT, 1)
    w.call(m.process_request_exit, c)
    w.call(m.process_pause, w.gov, m.MAX_PAUSE)
    w.refuse("PauseNotAllowed", m.process_pause, w.gov, m.MAX_PAUSE)  # no extension
    # round 1 started before the pause and runs to its end; exits, settlements, slashes go on
    for n in (a, b, c):
        w.settle(n)
    u = w.update(a, 1)
    w.commit(u)
    w.goto(1, P.BEACON)
    w.call(m.process_slash_no_reveal, ANYONE, 1, a)
    w.goto(2, P.COMMIT)
    w.refuse("RoundPaused", m.process_commit, b, 2, w.update(b, 2).commitment())
    w.now = w.state.nodes[c].withdrawable_at
    w.call(m.process_withdraw, c)
    # it ends on its own: the first round that starts after it accepts commits, no unpause
    end = w.state.pause_until
    first = next(r for r in range(10_000) if w.state.deployment.start(r) >= end)
    w.goto(first, P.COMMIT)
    w.call(m.process_commit, b, first, w.update(b, first).commitment())
    assert m.get_governor(w.state) == w.gov


def test_reverting_recipient_cannot_block_its_settlement() -> None:
    w = make_world(4, rules=m.RulesV2(emission_wei=ETH), pool=10 * ETH)
    cheat = w.nodes[3]
    w.state.rejecting.add(cheat)  # its wallet is a contract whose receive() reverts
    w.goto(0, P.COMMIT)
    w.call(m.process_open_round, ANYONE, 0)
    updates = [w.update(n, 0) for n in w.nodes]
    for u in updates:
        w.commit(u)
    w.goto(0, P.REVEAL)
    for u in updates:
        w.reveal(u)
    w.goto(0, P.ATTEST)
    # paid for round 0 (say it was merged) and penalised in the same leaf
    table = w.table_for(0, earned={n: ETH // 4 for n in w.nodes})
    table[cheat] = m.Leaf(cheat, table[cheat].index, ETH // 4, 1, 1, 1, 0)
    result = w.result_of(0, table)
    for n in w.nodes[:3]:
        w.call(m.process_attest, n, 0, result)
    w.finalize(0, table, result)
    events = w.settle(cheat, sender=ANYONE)
    assert [e.name for e in events] == ["Slashed", "Settled"]  # settle sends it no ether
    assert w.state.nodes[cheat].bond == ETH - m.RulesV2().penalty_slash_wei
    assert w.state.nodes[cheat].cum_earned == ETH // 4  # its to collect, once it can take ether


def test_beacon_post_once() -> None:
    w = make_world(2)
    a = w.nodes[0]
    w.goto(0, P.BEACON)
    for i in range(3):
        junk = dg.keccak(bytes([i])) * 3
        if i == 0:
            w.call(m.process_post_beacon, a, 0, junk)
        else:
            w.refuse("BeaconAlreadyPosted", m.process_post_beacon, a, 0, junk)
    w.refuse("NotInFrozenSet", m.process_post_beacon, wallet("outsider"), 0, BEACON.sign(1))
    assert m.get_round_view(w.state, 0).others == 1


def test_over_budget_result_refused() -> None:
    w = make_world(3, rules=m.RulesV2(emission_wei=ETH), pool=ETH)
    w.goto(0, P.COMMIT)
    w.call(m.process_open_round, ANYONE, 0)
    w.goto(0, P.ATTEST)
    table = w.table_for(0, earned={w.nodes[0]: ETH + 1})
    result = w.result_of(0, table)
    for n in w.nodes:
        w.call(m.process_attest, n, 0, result)
    w.refuse("OverBudget", m.process_finalize, ANYONE, 0, result)


def test_honest_nodes_are_never_slashed_by_a_minority() -> None:
    """The attacker (30 %) votes a result that penalises every honest node, withholds its
    reveals and beacon, tries to finalize early and late: honest bonds never move."""
    w = make_world(0)
    honest = [w.register(f"honest {i}", 7 * ETH // 2) for i in range(3)]  # 10.5 ETH
    attacker = [w.register(f"attacker {i}", 3 * ETH // 2) for i in range(3)]  # 4.5 ETH: 30 %
    for r in range(3):
        w.goto(r, P.COMMIT)
        for n in honest + attacker:
            if m.node_lags(w.state, w.state.nodes[n], w.now):
                w.settle(n)
        updates = [w.update(n, r) for n in honest + attacker]
        for u in updates:
            w.commit(u)
        w.goto(r, P.REVEAL)
        for u in updates[:3]:
            w.reveal(u)
        w.goto(r, P.ATTEST)
        table = w.table_for(r)
        good = w.result_of(r, table)
        bad = w.result_of(r, w.table_for(r, penalised=honest), "attacker")
        for n in attacker:
            w.call(m.process_attest, n, r, bad)
        w.refuse("BelowFinality", m.process_finalize, attacker[0], r, bad)
        for n in honest:
            w.call(m.process_attest, n, r, good)
        w.finalize(r, table, good)
        for n in attacker:
            w.call(m.process_slash_no_reveal, honest[0], r, n)
    assert all(w.state.nodes[n].bond == 7 * ETH // 2 for n in honest)
    rules = m.RulesV2()
    lost = 3 * rules.no_reveal_slash_wei + 2 * rules.wrong_vote_slash_wei  # round 2's vote: lazy
    assert all(w.state.nodes[n].bond == 3 * ETH // 2 - lost for n in attacker)

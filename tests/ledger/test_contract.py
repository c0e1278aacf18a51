"""The FLChain contract through `Ledger`, on the embedded chain and on anvil (same tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_typing import ChecksumAddress

from flchain.hashing import sha256_hex
from flchain.ledger import (
    AttestResult,
    Backend,
    ContractRevert,
    Ledger,
    NodeStatus,
    Phase,
    cid_to_bytes,
    result_hash,
)
from flchain.protocol import RevealOutcome, Rules
from flchain.storage.cid import cid_for_bytes

from ..conftest import EXIT_DELAY, GENESIS, World

MakeWorld = Callable[..., World]

MERGED = b"merged model round 0"
MANIFEST = b'{"manifest": 0}'
MAX_PENALISED = 64  # FLChain.MAX_PENALISED


def cid_bytes(payload: bytes) -> bytes:
    return cid_to_bytes(cid_for_bytes(payload))


def refused(name: str) -> pytest.RaisesExc[ContractRevert]:
    return pytest.raises(ContractRevert, match=rf"\b{name}\(")


def attest(
    node: Ledger, round: int, merged: bytes = MERGED, penalised: tuple[str, ...] = ()
) -> AttestResult:
    return node.attest(
        round, sha256_hex(merged), cid_for_bytes(merged), cid_for_bytes(MANIFEST), penalised
    )


def unchecked_rules(**fields: Any) -> Rules:
    """Default rules with `fields` changed, without validation (what only the contract refuses)."""
    return Rules.model_construct(**{**Rules().model_dump(), **fields})


def addr(node: Ledger) -> ChecksumAddress:
    assert node.account is not None
    return node.account.address


# ---------------------------------------------------------------- happy path


def test_full_round_finalizes_and_is_rebuilt_from_events(world: World) -> None:
    a, b, _ = world.nodes
    world.goto(0, Phase.COMMIT)
    ua, ub = world.update(0, 150), world.update(0, -20)
    world.commit(a, ua)
    world.commit(b, ub)
    world.goto(0, Phase.REVEAL)
    assert world.reveal(a, ua) == RevealOutcome.ACCEPTED
    assert world.reveal(b, ub) == RevealOutcome.ACCEPTED
    world.goto(0, Phase.CLOSED)
    res = attest(a, 0)
    assert res.finalized and res.votes == 1
    assert res.result_hash == result_hash(
        0, sha256_hex(MERGED), cid_for_bytes(MERGED), cid_for_bytes(MANIFEST)
    )

    stored = world.gov.finalized(0)
    assert stored is not None
    assert (stored.digest, stored.cid, stored.manifest_cid) == (
        sha256_hex(MERGED),
        cid_for_bytes(MERGED),
        cid_for_bytes(MANIFEST),
    )
    record = world.gov.round_record(0)
    assert record.finalized == stored
    assert [r.node for r in record.reveals] == [addr(a), addr(b)]
    assert [(r.roi_bps, r.cid, r.salt) for r in record.reveals] == [
        (150, ua.cid, ua.salt),
        (-20, ub.cid, ub.salt),
    ]
    assert len(record.commitments) == 2 and len(record.attestations) == 1
    assert record.base.round == -1 and record.base.digest == sha256_hex(GENESIS)
    assert record.rules == world.gov.rules_for_round(0)
    assert record.reveal_end - record.start == 700
    assert world.gov.latest_global() == stored
    # round 1 builds on round 0: finalized before round 1's reveal window closed
    assert world.gov.round_record(1).base == stored
    rec = world.gov.node_record(addr(a))
    assert (rec.accepted_reveals, rec.roi_sum_bps, rec.penalties, rec.last_attested_round) == (
        1,
        150,
        0,
        0,
    )


def test_genesis_is_readable(world: World) -> None:
    g = world.gov.genesis()
    assert g.round == -1 and g.digest == sha256_hex(GENESIS) and g.cid == cid_for_bytes(GENESIS)
    assert world.gov.latest_global() == g
    assert world.gov.finalized(0) is None


# ---------------------------------------------------------------- refusals


def test_unregistered_node_cannot_commit_or_attest(world: World) -> None:
    stranger = world.wallet()
    world.goto(0, Phase.COMMIT)
    with refused("Unregistered"):
        world.commit(stranger, world.update(0))
    world.goto(0, Phase.CLOSED)
    with refused("Unregistered"):
        attest(stranger, 0)


def test_commit_outside_its_window_or_for_another_round(world: World) -> None:
    a = world.nodes[0]
    with refused("NotInCommitWindow"):  # before T0
        world.commit(a, world.update(0))
    world.goto(0, Phase.COMMIT)
    with refused("NotInCommitWindow"):
        world.commit(a, world.update(1))
    world.goto(0, Phase.REVEAL)
    with refused("NotInCommitWindow"):
        world.commit(a, world.update(0))


def test_double_commit_is_refused(world: World) -> None:
    a = world.nodes[0]
    world.goto(0, Phase.COMMIT)
    world.commit(a, world.update(0))
    with refused("AlreadyCommitted"):
        world.commit(a, world.update(0))


def test_bad_reveals_are_refused(world: World) -> None:
    a, b, _ = world.nodes
    world.goto(0, Phase.COMMIT)
    u = world.update(0)
    world.commit(a, u)
    with refused("NotInRevealWindow"):
        world.reveal(a, u)
    world.goto(0, Phase.REVEAL)
    with refused("NoCommitment"):
        world.reveal(b, world.update(0))
    tampered = world.update(0, roi_bps=u.roi_bps + 1, payload=u.payload)
    tampered.salt = u.salt
    with refused("CommitmentMismatch"):
        world.reveal(a, tampered)
    other = world.update(0, roi_bps=u.roi_bps)  # other weights, same claim
    other.salt = u.salt
    with refused("CommitmentMismatch"):
        world.reveal(a, other)
    assert world.reveal(a, u) == RevealOutcome.ACCEPTED
    with refused("AlreadyRevealed"):
        world.reveal(a, u)
    world.goto(0, Phase.CLOSED)
    with refused("NotInRevealWindow"):
        world.reveal(a, u)


def test_out_of_band_roi_is_rejected_and_recorded(world: World) -> None:
    a, b, _ = world.nodes
    rules = world.gov.rules_for_round(0)
    world.goto(0, Phase.COMMIT)
    high, low = world.update(0, rules.roi_max_bps + 1), world.update(0, rules.roi_min_bps - 1)
    world.commit(a, high)
    world.commit(b, low)
    world.goto(0, Phase.REVEAL)
    assert world.reveal(a, high) == RevealOutcome.REJECTED_ABNORMAL_ROI
    assert world.reveal(b, low) == RevealOutcome.REJECTED_ABNORMAL_ROI
    assert world.gov.node_record(addr(a)).accepted_reveals == 0
    outcomes = [r.outcome for r in world.gov.round_record(0).reveals]
    assert outcomes == [RevealOutcome.REJECTED_ABNORMAL_ROI] * 2


def test_ineligible_node_is_rejected_after_probation(backend: Backend, make_world: World) -> None:
    world = make_world(Rules(probation_rounds=1, eligibility_min_score_bps=0), n_nodes=2)
    good, bad = world.nodes
    for rnd, (roi_good, roi_bad) in enumerate([(50, -30), (60, 40)]):
        world.goto(rnd, Phase.COMMIT)
        ug, ub = world.update(rnd, roi_good), world.update(rnd, roi_bad)
        world.commit(good, ug)
        world.commit(bad, ub)
        world.goto(rnd, Phase.REVEAL)
        assert world.reveal(good, ug) == RevealOutcome.ACCEPTED
        expected = RevealOutcome.ACCEPTED if rnd == 0 else RevealOutcome.REJECTED_INELIGIBLE
        assert world.reveal(bad, ub) == expected
    assert not world.gov.is_eligible(addr(bad), 2)
    assert world.gov.is_eligible(addr(good), 2)


def test_withdrawal_waits_for_the_exit_delay(backend: Backend, make_world: World) -> None:
    world = make_world(n_nodes=1, min_bond=10**18)
    a = world.nodes[0]
    with refused("NotExiting"):
        a.withdraw()
    a.request_exit()
    rec = world.gov.node_record(addr(a))
    assert rec.status == NodeStatus.EXITING and rec.bond == 10**18
    with refused("WithdrawalTooEarly"):
        a.withdraw()
    world.backend.advance_time(EXIT_DELAY + 1)
    before = backend.w3.eth.get_balance(addr(a))
    tx = a.withdraw()
    after = backend.w3.eth.get_balance(addr(a))
    gas_paid = tx.gas_used * backend.w3.eth.get_transaction_receipt(tx.tx_hash)["effectiveGasPrice"]
    assert after - before == 10**18 - gas_paid
    assert world.gov.node_record(addr(a)).status == NodeStatus.WITHDRAWN
    with refused("NotExiting"):
        a.withdraw()


def test_bond_below_minimum_and_double_registration(backend: Backend, make_world: World) -> None:
    world = make_world(n_nodes=1, min_bond=1000)
    with refused("BondTooSmall"):
        world.wallet().register(999)
    with refused("AlreadyRegistered"):
        world.nodes[0].register(1000)


def test_rule_changes_are_governed_bounded_and_never_for_the_open_round(world: World) -> None:
    a = world.nodes[0]
    with refused("NotGovernor"):
        a.schedule_rules(3, Rules())
    world.goto(1, Phase.COMMIT)
    with refused("RulesForOpenRound"):
        world.gov.schedule_rules(1, Rules(roi_max_bps=1))
    # Rules refuses both too (tests/protocol/test_rules_bounds.py): bypass it to reach the contract
    with refused("RuleOutOfBounds"):
        world.gov.schedule_rules(2, unchecked_rules(roi_min_bps=100, roi_max_bps=50))
    with refused("RuleOutOfBounds"):
        world.gov.schedule_rules(2, unchecked_rules(quorum=0))
    with refused("NotGovernor"):
        a.transfer_governance(addr(a))


def test_rules_take_effect_only_from_the_scheduled_round(world: World) -> None:
    a = world.nodes[0]
    strict = Rules(roi_min_bps=-100, roi_max_bps=100, quorum=2)
    world.gov.schedule_rules(2, strict)
    assert world.gov.rules_for_round(1) == Rules()
    assert world.gov.rules_for_round(2) == strict
    assert world.gov.rules_for_round(9) == strict
    replaced = Rules(roi_min_bps=-200, roi_max_bps=200)
    world.gov.schedule_rules(2, replaced)  # a pending version can still be replaced
    assert world.gov.rules_for_round(2) == replaced
    assert world.gov.rules_from_events(2) == replaced
    assert world.gov.rules_from_events(1) == Rules()
    with refused("RulesOutOfOrder"):
        world.gov.schedule_rules(1, strict)
    for rnd, expected in ((1, RevealOutcome.ACCEPTED), (2, RevealOutcome.REJECTED_ABNORMAL_ROI)):
        world.goto(rnd, Phase.COMMIT)
        u = world.update(rnd, 500)
        world.commit(a, u)
        world.goto(rnd, Phase.REVEAL)
        assert world.reveal(a, u) == expected


def test_attestations_use_the_quorum_frozen_for_their_round(
    backend: Backend, make_world: World
) -> None:
    world = make_world(Rules(quorum=1), n_nodes=2)
    a, b = world.nodes
    world.gov.schedule_rules(2, Rules(quorum=3))
    world.gov.schedule_rules(2, Rules(quorum=2))  # replaces the pending version
    world.gov.schedule_rules(4, Rules(quorum=1))
    world.gov.schedule_rules(6, Rules(quorum=2))  # four versions: older rounds need a search
    world.goto(6, Phase.CLOSED)
    assert attest(a, 1).finalized  # version 0
    assert not attest(a, 3).finalized  # version 1 as replaced: quorum 2, not 3
    assert attest(b, 3).finalized
    assert attest(a, 5).finalized  # version 2
    assert not attest(a, 6).finalized  # the newest version
    assert attest(b, 6).finalized


def test_attestation_needs_a_closed_round_once_per_node(world: World) -> None:
    a = world.nodes[0]
    world.goto(0, Phase.REVEAL)
    with refused("RoundNotClosed"):
        attest(a, 0)
    with refused("RoundNotClosed"):
        attest(a, 5)
    world.goto(1, Phase.COMMIT)
    attest(a, 0)
    with refused("AlreadyAttested"):
        attest(a, 0, merged=b"another result")


def test_conflicting_attestations_stay_on_record_and_quorum_decides(
    backend: Backend, make_world: World
) -> None:
    world = make_world(Rules(quorum=2), n_nodes=4)
    a, b, c, d = world.nodes
    world.goto(0, Phase.CLOSED)
    first = attest(a, 0)
    other = attest(b, 0, merged=b"a different merge")
    assert not first.finalized and not other.finalized
    assert world.gov.finalized(0) is None
    final = attest(c, 0)
    assert final.finalized and final.votes == 2 and final.result_hash == first.result_hash
    late = attest(d, 0, merged=b"a different merge")  # dissent after finality is still recorded
    assert not late.finalized and late.votes == 2
    assert world.gov.votes_for(0, first.result_hash) == 2
    assert world.gov.votes_for(0, other.result_hash) == 2
    record = world.gov.round_record(0)
    assert [x.result_hash for x in record.attestations] == [
        first.result_hash,
        other.result_hash,
        first.result_hash,
        other.result_hash,
    ]
    assert record.finalized is not None and record.finalized.digest == sha256_hex(MERGED)


def test_penalties_update_the_record_on_finalization(backend: Backend, make_world: World) -> None:
    world = make_world(Rules(quorum=2), n_nodes=4)
    a, b, c, d = world.nodes
    world.goto(0, Phase.COMMIT)
    ua, ub = world.update(0, 100), world.update(0, 200)
    world.commit(a, ua)
    world.commit(b, ub)
    world.goto(0, Phase.REVEAL)
    world.reveal(a, ua)
    world.reveal(b, ub)
    world.goto(0, Phase.CLOSED)
    # c never revealed: a non-finalizing attestation does not look the list up in storage...
    bad = attest(a, 0, penalised=(addr(c),))
    assert not bad.finalized and bad.votes == 1
    # ...the one that would finalize does, and its refusal leaves everything as it was
    with refused("NotPenalisable"):
        attest(d, 0, penalised=(addr(c),))
    assert world.gov.node_record(addr(d)).last_attested_round is None
    assert world.gov.votes_for(0, bad.result_hash) == 1
    assert world.gov.finalized(0) is None

    first = attest(b, 0, penalised=(addr(b),))
    assert not first.finalized
    assert world.gov.node_record(addr(b)).penalties == 0  # not final yet
    res = attest(d, 0, penalised=(addr(b),))  # d's refused attempt did not use up its vote
    assert res.finalized and res.votes == 2
    penalised_events = [e for e in res.tx.events if e.name == "NodePenalised"]
    assert [(e.node, e.penalties) for e in penalised_events] == [(addr(b), 1)]
    assert world.gov.node_record(addr(b)).penalties == 1
    assert world.gov.node_record(addr(a)).penalties == 0
    assert world.gov.node_record(addr(c)).penalties == 0
    assert world.gov.round_record(0).attestations[1].penalised == (addr(b),)
    # the bad result keeps its vote but can never finalize now; late agreement changes nothing
    late = attest(c, 0, penalised=(addr(b),))
    assert not late.finalized and world.gov.node_record(addr(b)).penalties == 1


def test_penalised_list_bound_and_order_are_checked_by_every_attestation(
    backend: Backend, make_world: World
) -> None:
    world = make_world(Rules(quorum=3), n_nodes=2)
    a, _ = world.nodes
    world.goto(0, Phase.CLOSED)
    too_many = [world.wallet().account.address for _ in range(MAX_PENALISED + 1)]
    with refused("TooManyPenalised"):  # non-finalizing (quorum 3), still refused
        attest(a, 0, penalised=tuple(too_many))
    # Ledger.attest always sends the canonical order; bypass it to send a descending list
    descending = sorted(too_many[:2], key=lambda x: int(x, 16), reverse=True)
    args = (0, sha256_hex(MERGED), cid_bytes(MERGED), cid_bytes(MANIFEST), descending)
    with refused("PenalisedNotSorted"):
        a._transact("attest", *args)
    with refused("PenalisedNotSorted"):  # duplicates are not strictly ascending either
        a._transact("attest", *args[:4], [descending[1], descending[1]])
    assert world.gov.node_record(addr(a)).last_attested_round is None


def test_dirty_address_words_in_the_penalised_list_are_refused(
    backend: Backend, make_world: World
) -> None:
    """The result hash is taken over the list's raw calldata words, which is only the ABI
    encoding if every word is a clean address: one with high bits set must not get through."""
    world = make_world(Rules(quorum=2), n_nodes=1)  # non-finalizing: no storage look-up
    a = world.nodes[0]
    world.goto(0, Phase.CLOSED)
    listed = sorted((world.wallet().account.address for _ in range(2)), key=lambda x: int(x, 16))
    fn = a.contract.functions.attest(
        0, bytes.fromhex(sha256_hex(MERGED)[2:]), cid_bytes(MERGED), cid_bytes(MANIFEST), listed
    )
    clean = bytes.fromhex(fn._encode_transaction_data()[2:])
    word = clean.rfind(bytes.fromhex(listed[1][2:].lower())) - 12  # the last element's word
    dirty = clean[:word] + b"\x01" + clean[word + 1 :]
    sender = {"from": addr(a), "to": a.address}
    expected = result_hash(
        0, sha256_hex(MERGED), cid_for_bytes(MERGED), cid_for_bytes(MANIFEST), listed
    )
    assert "0x" + bytes(a.w3.eth.call({**sender, "data": clean})).hex() == expected
    with pytest.raises(Exception):  # noqa: B017 - ABI validation reverts without data
        a.w3.eth.call({**sender, "data": dirty})


def test_attestations_go_forward_in_rounds(world: World) -> None:
    a = world.nodes[0]
    world.goto(2, Phase.CLOSED)
    attest(a, 1)
    with refused("AttestationOutOfOrder"):
        attest(a, 0)


def test_invalid_cid_is_refused(world: World) -> None:
    a = world.nodes[0]
    world.goto(0, Phase.CLOSED)
    with refused("CidDigestMismatch"):  # a raw CID must carry the model digest
        a.attest(0, sha256_hex(b"x"), cid_for_bytes(b"y"), cid_for_bytes(MANIFEST), ())
    with refused("InvalidCid"):
        a.attest(
            0, sha256_hex(MERGED), b"\x01\x71\x12\x20" + bytes(32), cid_for_bytes(MANIFEST), ()
        )


def test_governance_transfer(world: World) -> None:
    new = world.wallet()
    world.gov.transfer_governance(addr(new))
    assert world.gov.governor() == addr(new)
    with refused("NotGovernor"):
        world.gov.schedule_rules(5, Rules())
    new.schedule_rules(5, Rules(quorum=3))
    assert world.gov.rules_for_round(5).quorum == 3

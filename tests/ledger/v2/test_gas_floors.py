"""Each `*_GAS_FLOOR` of `flchain.ledger.v2` covers the costliest path of its call, measured as
a receipt's `gasUsed` on the embedded chain and on anvil.

A floor is the gas a call is sent with at least, because its cost depends on who came first
(the module docstring says why). The costliest path is the one that creates the most storage
words: the round's first accumulator entry, the first vote for a result, a beacon post in a
round nobody revealed in, a slash that pays a bounty into a pool never funded. Every call goes
through the twin (`_twin.Twin`), so its events are also the reference machine's.

Both chains run Prague's rules, whose calldata floor (EIP-7623: 21 000 + 10 gas per calldata
token, a zero byte one token and any other byte four) prices a large reveal above its
execution: a 16 KiB payload of non-zero bytes costs ~679 000 gas, not the ~350 000 of
16 gas per byte. That floor does not depend on who came first and the estimate includes it, so
what a `*_GAS_FLOOR` must cover is the gas beyond it: a receipt at most max(floor, calldata
floor).
"""

from __future__ import annotations

import secrets

from _twin import BEACON, Twin, Update, rules
from eth_typing import HexStr

from flchain.ledger import Backend, LedgerV2
from flchain.ledger.events_v2 import Revealed, Slashed
from flchain.ledger.v2 import (
    ATTEST_GAS_FLOOR,
    POST_BEACON_GAS_FLOOR,
    REVEAL_GAS_FLOOR,
    REVEAL_GAS_FLOOR_PER_BYTE,
    SLASH_NO_REVEAL_GAS_FLOOR,
)
from flchain.protocol import digests as dg
from flchain.protocol import machine as m
from flchain.protocol.machine import Phase, RevealOutcome

MAX_PAYLOAD = m.RulesV2().max_payload_bytes


def _update(twin: Twin, round: int, size: int) -> Update:
    """An update of `size` random bytes on the latest final model, its ROI inside the band,
    so the reveal is Accepted (the contract does not parse the payload)."""
    return Update(
        round,
        secrets.token_bytes(size),
        twin.gov.latest().merged_digest,
        0,
        secrets.token_bytes(32),
    )


def _address(ledger: LedgerV2) -> str:
    assert ledger.account is not None
    return str(ledger.account.address)


def _calldata_floor(backend: Backend, tx_hash: str) -> int:
    """EIP-7623's least gas of the transaction: 21 000 + 10 per calldata token."""
    data = bytes(backend.w3.eth.get_transaction(HexStr(tx_hash))["input"])
    zeros = data.count(0)
    return 21_000 + 10 * (zeros + 4 * (len(data) - zeros))


def _result(label: bytes) -> m.Result:
    digest = dg.sha256(b"merged " + label)
    manifest = bytes([0x01, 0x70, 0x12, 0x20]) + dg.sha256(b"manifest " + label)
    return m.Result(digest, dg.raw_leaf_cid(digest), manifest, dg.sha256(b"root " + label), 0)


def test_reveal_floor_covers_the_first_reveal_of_a_round(backend: Backend) -> None:
    """The round's first reveal (a new accumulator word), Accepted: with an empty payload and
    with the largest one the rules allow."""
    twin = Twin.deploy(backend)
    for round, size in ((0, 0), (1, MAX_PAYLOAD)):
        node = twin.node()
        twin.goto(round, Phase.COMMIT)
        update = _update(twin, round, size)
        twin.commit(node, update)
        twin.goto(round, Phase.REVEAL)
        tx = twin.send(node, "reveal", *update.reveal_args())
        revealed = [e for e in tx.events if isinstance(e, Revealed)]
        assert [e.outcome for e in revealed] == [RevealOutcome.ACCEPTED]
        assert twin.gov.round_view(round).reveals == 1
        floor = REVEAL_GAS_FLOOR + REVEAL_GAS_FLOOR_PER_BYTE * size
        assert tx.gas_used <= max(floor, _calldata_floor(backend, tx.tx_hash)), (
            size,
            tx.gas_used,
            floor,
        )


def test_attest_floor_covers_the_first_vote_of_a_round(backend: Backend) -> None:
    """The round's first entry (nobody revealed or posted a beacon) and the first vote for its
    result (a new tally word), clearing the node's vote of a skipped round.

    The wrong-vote slash `ATTEST_GAS_FLOOR`'s comment also names cannot happen inside attest: a
    node whose voted round is final took part in it, so it lags until it settles, and settle
    applies the slash first (`SettlementPending` otherwise)."""
    twin = Twin.deploy(backend)
    node = twin.node()
    twin.node()  # a second node: one vote is not final, so round 0 is skipped
    twin.goto(0, Phase.ATTEST)
    twin.send(node, "attest", 0, _result(b"round 0"))
    twin.goto(1, Phase.ATTEST)
    tx = twin.send(node, "attest", 1, _result(b"round 1"))
    view = twin.gov.round_view(1)
    assert (view.reveals, view.attestations, view.others) == (0, 1, 0)
    assert twin.gov.node_view(_address(node)).last_vote_round == 2
    assert tx.gas_used <= ATTEST_GAS_FLOOR, (tx.gas_used, ATTEST_GAS_FLOOR)


def test_post_beacon_floor_covers_the_first_entry_of_a_round(backend: Backend) -> None:
    """A beacon post in a round nobody revealed in: a new accumulator word and a new
    posted-mark."""
    twin = Twin.deploy(backend)
    node = twin.node()
    twin.goto(0, Phase.BEACON)
    tx = twin.send(node, "post_beacon", 0, BEACON.sign(twin.gov.beacon_round(0)))
    assert twin.gov.round_view(0).others == 1
    assert tx.gas_used <= POST_BEACON_GAS_FLOOR, (tx.gas_used, POST_BEACON_GAS_FLOOR)


def test_slash_no_reveal_floor_covers_a_first_entry_with_a_bounty(backend: Backend) -> None:
    """A third party slashes the round's only commitment: the round's first accumulator entry,
    the bounty paid, the pool never funded (no round opened; its word holds the bonds too)
    and the node's stake from the next round recomputed (its bond falls below minBond)."""
    twin = Twin.deploy(backend, rules(emission_wei=0))
    node, hunter = twin.node(), twin.stranger()
    twin.goto(0, Phase.COMMIT)
    twin.commit(node, _update(twin, 0, 64))
    twin.goto(0, Phase.BEACON)
    assert twin.gov.accounts().pool == 0
    tx = twin.send(hunter, "slash_no_reveal", 0, _address(node))
    slashed = [e for e in tx.events if isinstance(e, Slashed)]
    assert len(slashed) == 1 and slashed[0].bounty > 0
    assert twin.gov.round_view(0).others == 1
    assert twin.gov.stake_of(_address(node), 1) == 0
    assert tx.gas_used <= SLASH_NO_REVEAL_GAS_FLOOR, (tx.gas_used, SLASH_NO_REVEAL_GAS_FLOOR)

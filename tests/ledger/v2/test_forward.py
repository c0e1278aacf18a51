"""Forward windows through `LedgerV2` (docs/protocol.md §15.2), the machine in lockstep: a
window posted to the forward box, votes carried on the commits of its vote round until one
window is accepted, the box's typed events, its views, and the round record carrying the
accepted window and who committed (a commitment never revealed scores the worst)."""

from __future__ import annotations

from _twin import Twin, make_update, rules

from flchain.ledger import Backend
from flchain.ledger.events_v2 import ForwardAccepted, ForwardPosted, ForwardVoted
from flchain.protocol import digests as dg
from flchain.protocol import machine as m


def test_a_window_posted_voted_and_carried_by_the_round_record(backend: Backend) -> None:
    # C + R + (1 + 2)·900 s = 3 400 s: one scored bar, its votes at the commits of round 4
    twin = Twin.deploy(backend, rules_v2=rules(forward_bars=1, forward_lag_rounds=4))
    g = twin.gov
    a, b, c = (twin.node() for _ in range(3))
    keeper = twin.stranger()
    twin.goto(0, m.Phase.COMMIT)
    updates = {n: make_update(0, i, node=n._me()) for i, n in enumerate((a, b, c))}
    for n, u in updates.items():
        twin.commit(n, u)
    twin.goto(0, m.Phase.REVEAL)
    for n in (a, b):  # c withholds: its commitment will score the worst
        twin.reveal(n, updates[n])

    window = b"a forward window file" * 30
    h = dg.sha256(window)
    g.backend.set_time(m.forward_close_of(twin.state, 0) + 1)
    posted = twin.send(keeper, "post_forward", 0, window)
    assert [type(e) for e in posted.events] == [ForwardPosted]
    again = twin.send(a, "post_forward", 0, window)  # the same bytes again (§15.2): accepted
    (event,) = again.events
    assert isinstance(event, ForwardPosted) and event.poster == a.account.address
    assert g.is_forward_posted(0, h) and g.forward_window_of(0) is None

    twin.goto(4, m.Phase.COMMIT)
    for i, n in enumerate((a, b, c)):
        u = make_update(4, 10 + i, node=n._me())
        commitment = n.commitment(4, u.digest, u.base_digest, u.roi_bps, u.salt)
        if n is a:
            twin.refuse(n, "commit_with_forward", 4, commitment, 1, h, error="NotForwardVoteRound")
        tx = twin.send(n, "commit_with_forward", 4, commitment, 0, h)
        kinds = [e.name for e in tx.events]
        assert kinds[-2:] == ["Committed", "ForwardVoted"] or kinds[-1] == "ForwardAccepted"
    assert g.forward_window_of(0) == h == m.get_forward_window_of(twin.state, 0)
    assert g.forward_tally_of(0, h) == m.get_forward_tally_of(twin.state, 0, h)
    kinds = [type(e) for e in g.forward_events(0)]
    assert kinds == [ForwardPosted] * 2 + [
        ForwardVoted,
        ForwardVoted,
        ForwardAccepted,
        ForwardVoted,
    ]

    record = g.round_record_v2(0)
    assert record == twin.expected_record(0)
    assert record.forward_window == h
    assert set(record.committed) - {r.node for r in record.reveals} == {c.account.address}  # type: ignore[union-attr]

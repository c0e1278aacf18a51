"""The audit of a forward-scored federation (docs/protocol.md §15): the forward box's events
replayed by the machine, its storage proven, and the merge that scores round 0's updates on
round 0's accepted window reproduced bit for bit — and lies about the window named."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from _federation import PlayedForward, play_forward
from _twin import ETHER

from flchain.audit import code_v2
from flchain.audit.core_v2 import audit_v2, gather_v2
from flchain.audit.judge_v2 import V2Material, check_forward, check_machine, replay_calls
from flchain.audit.report import CheckStatus, Verdict
from flchain.ledger import Backend
from flchain.ledger.events_v2 import ForwardAccepted, ForwardVoted
from flchain.protocol import digests as dg
from flchain.protocol import machine as m
from flchain.storage import LocalStore


@pytest.fixture(scope="module")
def played(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PlayedForward, LocalStore]:
    store = LocalStore(tmp_path_factory.mktemp("forward-store"))
    return play_forward(backend, store), store


@pytest.fixture(scope="module")
def material(played: tuple[PlayedForward, LocalStore]) -> V2Material:
    return gather_v2(played[0].gov, [0, 1])


def test_a_forward_scored_federation_audits_verified(
    played: tuple[PlayedForward, LocalStore],
) -> None:
    fed, store = played
    manifest = json.loads(fed.merged[1].manifest)
    assert manifest["forward"]["window"]["status"] == "scored"  # the merge under audit scored
    report = audit_v2(fed.gov, store)
    assert [(c.rule, c.status) for c in report.checks] == [
        ("code", CheckStatus.PASS),
        ("creation", CheckStatus.PASS),
        ("state", CheckStatus.PASS),
    ]
    r0, r1 = report.rounds
    for r in (r0, r1):
        assert r.verdict == Verdict.VERIFIED, r.checks
        assert [c.rule for c in r.checks] == [
            "machine", "accumulator", "forward", "merge", "attestations", "settlement",
        ]  # fmt: skip
        assert all(c.status == CheckStatus.PASS for c in r.checks), r.checks
    forward0 = {c.rule: c for c in r0.checks}["forward"].message
    honest = dg.sha256(fed.windows["honest"])
    assert forward0.startswith(f"window 0x{honest.hex()[:16]}… accepted with ")
    needed = m.finality_needed(3 * ETHER, fed.gov.rules_for_round(1).finality_ppm)
    assert f"accepted with {2 * ETHER} of {needed} needed" in forward0
    assert f"({len(fed.windows['honest'])} bytes of postForward calldata" in forward0
    assert "2 posted, 3 vote(s)" in forward0
    forward1 = {c.rule: c for c in r1.checks}["forward"].message
    assert forward1.startswith("no window accepted (votes open until ")
    merge1 = {c.rule: c for c in r1.checks}["merge"].message
    assert merge1.startswith("final result and manifest reproduced bit for bit")
    assert report.exit_code == 0


def test_a_window_posted_twice_is_replayed_twice(
    played: tuple[PlayedForward, LocalStore], material: V2Material
) -> None:
    """§15.2: the same bytes may be posted again (a first post forwarded by another contract
    leaves them unreadable); each post is a call the machine replays with its own log."""
    fed, _ = played
    honest = dg.sha256(fed.windows["honest"])
    posts = [
        c for c in material.calls
        if c.function == "postForward" and dg.sha256(bytes(c.args[1])) == honest
    ]  # fmt: skip
    assert len(posts) == 2 and posts[0].sender != posts[1].sender
    assert [[e.name for e in c.events] for c in posts] == [["ForwardPosted"]] * 2
    replay = replay_calls(material.calls, fed.gov.chain_id, fed.gov.address)
    assert replay.failed_round is None and replay.failure is None
    assert check_machine(replay, 0).status == CheckStatus.PASS


def test_the_box_words_are_proven_for_every_window_of_the_round(
    played: tuple[PlayedForward, LocalStore], material: V2Material
) -> None:
    fed, _ = played
    words = material.forward_words[0]
    honest, other = (dg.sha256(fed.windows[k]) for k in ("honest", "other"))
    assert words[("accepted", b"")] == honest
    assert int.from_bytes(words[("tally", honest)], "big") == 2 * ETHER
    assert int.from_bytes(words[("tally", other)], "big") == ETHER
    assert words[("posted", other)][-1] == 1
    assert words[("accepted", b"")] == fed.gov.forward_window_of(0)
    box = code_v2.get_satellite_addresses(fed.gov.address)[code_v2.FORWARD_BOX]
    assert box == fed.gov.forward_box.address


def test_a_tally_or_accepted_hash_the_events_do_not_give_is_named(
    played: tuple[PlayedForward, LocalStore], material: V2Material
) -> None:
    """The proven storage against the machine's replay of the events: a storage word that
    the votes the events show do not produce (as when an RPC hid a vote or a window) fails
    the forward rule and names the word."""
    fed, _ = played
    replay = replay_calls(material.calls, fed.gov.chain_id, fed.gov.address)
    honest, other = (dg.sha256(fed.windows[k]) for k in ("honest", "other"))
    words = dict(material.forward_words[0])
    honest_check = check_forward(
        replay, 0, words, material.calls, material.block, material.timestamp
    )
    assert honest_check.status == CheckStatus.PASS
    more = {**words, ("tally", other): (5 * ETHER).to_bytes(32, "big")}
    lied = check_forward(replay, 0, more, material.calls, material.block, material.timestamp)
    assert lied.status == CheckStatus.FAIL
    assert lied.message == (
        f"window 0x{other.hex()[:16]}…: the proven tally is {5 * ETHER}, the votes the events "
        f"show weigh {ETHER}"
    )
    swapped = {**words, ("accepted", b""): other}
    lied = check_forward(replay, 0, swapped, material.calls, material.block, material.timestamp)
    assert lied.status == CheckStatus.FAIL
    assert lied.message.startswith(f"the proven accepted window is 0x{other.hex()}")
    assert lied.message.endswith(f"accept 0x{honest.hex()}")


def test_rewritten_forward_logs_are_named_by_the_machine(
    played: tuple[PlayedForward, LocalStore], material: V2Material
) -> None:
    """A ForwardVoted log whose weight is not the voter's frozen stake, or a ForwardAccepted
    naming another window than the one the tally reached the threshold for: the machine's
    replay of round 1 (where the votes are) names the field."""
    fed, _ = played
    other = dg.sha256(fed.windows["other"])

    def edited(kind: type, **changes: object) -> list:
        calls = list(material.calls)
        for i, call in enumerate(calls):
            found = [e for e in call.events if isinstance(e, kind)]
            if found:
                events = tuple(
                    e.model_copy(update=changes) if e is found[0] else e for e in call.events
                )
                calls[i] = replace(call, events=events)
                return calls
        raise AssertionError(f"no {kind.__name__}")

    for kind, changes, named in (
        (ForwardVoted, {"weight": 1}, "ForwardVoted.weight is 1 on chain"),
        (ForwardAccepted, {"window_hash": other}, "ForwardAccepted.windowHash is"),
    ):
        replay = replay_calls(edited(kind, **changes), fed.gov.chain_id, fed.gov.address)
        check = check_machine(replay, 1)
        assert check.status == CheckStatus.FAIL, kind
        assert named in check.message and "commitWithForward" in check.message
        after = check_forward(replay, 0, material.forward_words[0], material.calls, 0, 0)
        assert after.status == CheckStatus.UNVERIFIABLE

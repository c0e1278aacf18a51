"""The v2 seed (docs/protocol.md §6; security.md rows on seed grinding and vanity ties): which
beacon post seeds a round, the fallback without one, and the ties it orders."""

from __future__ import annotations

import itertools
import json

from _scenario import Update
from _scenario_v2 import (
    BEACON,
    CHAIN_ID,
    CONTRACT,
    ROUND,
    UpdateV2,
    World,
    _record,
    build_v2,
    invalid_post,
    same_positions,
    v2_rules,
    valid_post,
)
from eth_utils import to_checksum_address

from flchain.merge import Reason
from flchain.merge.seed import compute_seed, seed_tie_key
from flchain.merge.v2 import merge_v2
from flchain.protocol import digests as dg
from flchain.protocol.beacon import beacon_randomness
from flchain.protocol.machine import RevealOutcome
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import BeaconPost, RevealV2


def wallet(label: str) -> str:
    return to_checksum_address(dg.keccak(label.encode())[12:])


def bare_reveal(node: str, salt: bytes, position: int) -> RevealV2:
    """A reveal as the seed sees it: only its node and salt count."""
    return RevealV2(
        node=node,
        update_digest=dg.sha256(salt),
        base_digest=_record(()).base.digest,
        roi_bps=0,
        salt=salt,
        outcome=RevealOutcome.ACCEPTED,
        block_number=1,
        log_index=position,
        payload=None,
    )


def round_of(reveals: list[RevealV2], nodes: list[str], posts: list[BeaconPost]) -> RoundRecordV2:
    return _record(reveals, nodes=nodes, posts=posts)


def test_the_first_valid_post_in_chain_order_seeds_the_round() -> None:
    nodes = [wallet(f"n{i}") for i in range(4)]
    reveals = [bare_reveal(n, dg.keccak(n.encode()), i) for i, n in enumerate(nodes)]
    refused = invalid_post(nodes[3], position=7)
    used = valid_post(nodes[2], position=8)
    later = BeaconPost(  # malformed and after the valid one: never looked at
        node=nodes[1],
        beacon_round=used.beacon_round,
        signature=b"\x01" * 96,
        block_number=9,
        log_index=0,
    )
    seed = compute_seed(round_of(reveals, nodes, [later, used, refused]))
    assert seed.post == used and seed.refused == (refused,)
    assert seed.randomness == beacon_randomness(BEACON.sign(used.beacon_round)) != dg.ZERO32
    assert seed.salts_hash == dg.salts_hash({r.node: r.salt for r in reveals})
    assert seed.value == dg.seed(CHAIN_ID, CONTRACT, ROUND, seed.salts_hash, seed.randomness)
    assert compute_seed(round_of(reveals, nodes, [used])).value == seed.value


def test_without_a_valid_post_the_seed_falls_back_to_the_salts() -> None:
    nodes = [wallet(f"n{i}") for i in range(3)]
    reveals = [bare_reveal(n, dg.keccak(n.encode()), i) for i, n in enumerate(nodes)]
    for posts in ([], [invalid_post(nodes[0], 1), invalid_post(nodes[1], 2)]):
        seed = compute_seed(round_of(reveals, nodes, posts))
        assert seed.post is None and seed.refused == tuple(posts)
        assert seed.randomness == dg.ZERO32
        assert seed.value == dg.seed(CHAIN_ID, CONTRACT, ROUND, seed.salts_hash, dg.ZERO32)


def test_every_reveal_salts_the_seed_whatever_its_outcome() -> None:
    nodes = [wallet(f"n{i}") for i in range(3)]
    reveals = [bare_reveal(n, dg.keccak(n.encode()), i) for i, n in enumerate(nodes)]
    rejected = reveals[2].model_copy(update={"outcome": RevealOutcome.REJECTED_ABNORMAL_ROI})
    resalted = rejected.model_copy(update={"salt": dg.keccak(b"another salt")})
    post = [valid_post(nodes[0])]
    one = compute_seed(round_of([*reveals[:2], rejected], nodes, post))
    two = compute_seed(round_of([*reveals[:2], resalted], nodes, post))
    assert one.salts_hash != two.salts_hash and one.value != two.value


def _grind(
    honest: list[RevealV2], attacker: list[RevealV2], nodes: list[str], posts: list[BeaconPost]
) -> tuple[bool, bool]:
    """The grinder's best play: before reveals close it can compute the seed only without the
    beacon (nobody knows D(r)'s signature yet), so it withholds the subset of its reveals
    that makes its node win the tie against the victim there. Returns (it could find such a
    subset, the subset still wins with the round's real posts)."""
    victim, winner = honest[0].node, attacker[0].node
    for k in range(len(attacker)):
        for withheld in itertools.combinations(attacker[1:], k):
            shown = [r for r in attacker if r not in withheld]
            predicted = compute_seed(round_of(honest + shown, nodes, []))
            tie = seed_tie_key(predicted.value)
            if tie(winner) < tie(victim):
                actual = seed_tie_key(compute_seed(round_of(honest + shown, nodes, posts)).value)
                return True, actual(winner) < actual(victim)
    return False, False


def _trial(t: int) -> tuple[list[RevealV2], list[RevealV2], list[str]]:
    """Round `t` of the grinding experiments: 3 honest reveals (the first is the victim), the
    grinder's 5 nodes (the first wants to win the tie), fresh salts every round."""
    honest = [
        bare_reveal(wallet(f"honest {t} {i}"), dg.keccak(b"h%d/%d" % (t, i)), i) for i in range(3)
    ]
    attacker = [
        bare_reveal(wallet(f"grinder {i}"), dg.keccak(b"g%d/%d" % (t, i)), 10 + i) for i in range(5)
    ]
    return honest, attacker, [r.node for r in honest + attacker]


def test_withholding_does_not_steer_seed() -> None:
    """security.md, seed grinding: with 4 reveals it may withhold, a grinder picks the tie
    winner under the salts-only seed in (almost) every round; once a valid beacon is posted,
    its pick wins only as often as a coin flip."""
    trials, steered, kept = 24, 0, 0
    for t in range(trials):
        honest, attacker, nodes = _trial(t)
        found, still_wins = _grind(honest, attacker, nodes, [valid_post(nodes[1])])
        steered += found
        kept += still_wins
    assert steered == trials, "without the beacon, withholding picks the tie winner"
    assert kept <= trials * 3 // 4, f"with a valid beacon the grinder's pick won {kept}/{trials}"
    assert kept >= trials // 4, "the pick should still win about half the time, by chance"


def test_withholding_steers_the_fallback_seed() -> None:
    """Without a valid post (only a forged one) the seed is the salts alone: the grinder's
    pick is the outcome — what the non-reveal slash has to pay for."""
    for t in range(8):
        honest, attacker, nodes = _trial(t)
        assert _grind(honest, attacker, nodes, [invalid_post(nodes[1])]) == (True, True)


VANITY = to_checksum_address("0x" + "00" * 19 + "01")  # the lowest address there is
OTHER = to_checksum_address("0x" + "7f" * 20)


def _pair_world(extra_salt: bytes, **rules: object) -> World:
    """The vanity node and another with the same positions (so equal claimed and verified
    ROI, one behavioural cluster), and a third reveal, rejected on-chain, whose salt moves the
    seed."""
    return build_v2(
        [
            UpdateV2(Update(1, seed=101), address=VANITY),
            UpdateV2(Update(2, seed=101, spoil_payload=same_positions), address=OTHER),
            UpdateV2(
                Update(3, seed=103),
                outcome=RevealOutcome.REJECTED_ABNORMAL_ROI,
                salt=extra_salt,
            ),
        ],
        v2_rules(**rules),
    )


def _salts_for_each_order() -> dict[bool, bytes]:
    """A salt for the third reveal under which the vanity address has the lower tie key, and
    one under which it has the higher."""
    found: dict[bool, bytes] = {}
    for i in itertools.count():
        salt = dg.keccak(b"salt %d" % i)
        tie = seed_tie_key(compute_seed(_pair_world(salt).record).value)
        found.setdefault(tie(VANITY) < tie(OTHER), salt)
        if len(found) == 2:
            return found


def test_ties_by_seed_not_address() -> None:
    for vanity_first, salt in _salts_for_each_order().items():
        expected_winner, loser = (VANITY, OTHER) if vanity_first else (OTHER, VANITY)
        # select: one place, two equal claims
        world = _pair_world(salt, max_participants=1)
        result = merge_v2(world.record, world.base, world.benchmark, world.prior)
        reasons = {d.node: d.reason for d in result.decisions}
        claims = {r.node: r.roi_bps for r in world.record.reveals}
        assert claims[VANITY] == claims[OTHER]
        assert reasons[expected_winner] == Reason.ACCEPTED
        assert reasons[loser] == Reason.BEYOND_PARTICIPANT_CAP
        # cluster-best: equal verified ROI, the loser of the tie explores
        world = _pair_world(salt)
        result = merge_v2(world.record, world.base, world.benchmark, world.prior)
        doc = json.loads(result.manifest)
        roi = {e["node"]: e.get("recomputed_roi_bps") for e in doc["inputs"]}
        assert roi[VANITY] == roi[OTHER] is not None
        assert sorted(doc["clusters"], key=len)[-1] == sorted([VANITY, OTHER], key=str.lower)
        assert [d.node for d in result.directives] == [loser]

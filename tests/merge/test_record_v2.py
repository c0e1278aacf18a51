"""RoundRecordV2: the record the ledger produces and the v2 merge reads — its JSON form and the
records it refuses because no contract could have produced them."""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest
from _scenario import Update
from _scenario_v2 import (
    BEACON_PARAMS,
    CHAIN_ID,
    CONTRACT,
    START,
    UpdateV2,
    build_v2,
    invalid_post,
    valid_post,
)
from pydantic import ValidationError

from flchain.protocol import digests as dg
from flchain.protocol import machine as m
from flchain.protocol.beacon import beacon_round
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import AttestationV2, FinalizedV2, RevealV2


@functools.cache
def record() -> RoundRecordV2:
    """A round with every kind of value (frozen, so shared by the tests)."""
    updates = [UpdateV2(Update(i, seed=100 + i)) for i in range(1, 4)]
    updates.append(UpdateV2(Update(4, seed=104), unreadable=True))
    updates.append(UpdateV2(Update(5, seed=105), stale=True))
    world = build_v2(updates, extra_nodes=["0x" + "00" * 19 + "01"])
    nodes = [n.address for n in world.record.nodes]
    posts = (invalid_post(nodes[1], position=8), valid_post(nodes[0], position=9))
    result = m.Result(dg.sha256(b"m"), dg.raw_leaf_cid(dg.sha256(b"m")), bytes(36), bytes(32), 7)
    attestation = AttestationV2(
        node=nodes[0],
        result_hash=result.hash(CHAIN_ID, CONTRACT, 3),
        weight=10**18,
        result=m.Result(
            result.merged_digest,
            result.merged_cid,
            dg.raw_leaf_cid(dg.sha256(b"manifest")),
            dg.keccak(b"root"),
            7,
        ),
        block_number=20,
        log_index=1,
    )
    final = FinalizedV2(
        result_hash=attestation.result_hash,
        tally=10**18,
        total_stake=10**18,
        block_number=21,
        log_index=0,
    )
    return world.record.model_copy(
        update={"beacon_posts": posts, "attestations": (attestation,), "finalized": final}
    )


def rebuilt(rec: RoundRecordV2, **changes: Any) -> RoundRecordV2:
    """The record with `changes`, validated again (model_copy alone skips validation)."""
    return RoundRecordV2.model_validate({**dict(rec), **changes})


def test_json_round_trip_keeps_every_value() -> None:
    rec = record()
    text = rec.model_dump_json()
    back = RoundRecordV2.model_validate_json(text)
    assert back == rec
    assert back.rules == rec.rules and isinstance(back.rules, m.RulesV2)
    assert back.attestations[0].result == rec.attestations[0].result
    assert back.reveals[3].payload is None and back.reveals[0].payload == rec.reveals[0].payload
    assert '"salt":"0x' in text and '"outcome":3' in text  # bytes as hex, enums as ints


def test_hex_and_bytes_give_the_same_record() -> None:
    rec = record()
    reveal = rec.reveals[0]
    as_hex = RevealV2.model_validate(reveal.model_dump(mode="json"))
    assert as_hex == reveal


def test_beacon_round_is_the_machines_d_of_r() -> None:
    rec = record()
    deployment = m.Deployment(
        t0=START - 3 * 1_000,
        round_length=1_000,
        commit_window=rec.commit_end - rec.start,
        reveal_window=rec.reveal_end - rec.commit_end,
        beacon_window=rec.attest_open - rec.reveal_end,
        exit_delay=2_000,
        min_notice_rounds=1,
        min_bond=1,
        genesis_digest=dg.sha256(b"g"),
        genesis_cid=dg.raw_leaf_cid(dg.sha256(b"g")),
        beacon_genesis=BEACON_PARAMS.genesis,
        beacon_period=BEACON_PARAMS.period,
        beacon_delay=BEACON_PARAMS.delay,
        beacon_public_key=BEACON_PARAMS.public_key,
    )
    assert deployment.reveal_end(3) == rec.reveal_end
    assert rec.beacon_round == beacon_round(deployment, 3) > 1


def wrong_changes(rec: RoundRecordV2) -> dict[str, tuple[dict[str, Any], str]]:
    """Changes no contract could record, with what the refusal says."""
    first, rest = rec.reveals[0], rec.reveals[1:]
    post = rec.beacon_posts[1]
    return {
        "payload not of its digest": (
            {"reveals": (first.model_copy(update={"payload": b"other bytes"}), *rest)},
            "does not hash to its update digest",
        ),
        "accepted on another base": (
            {"reveals": (first.model_copy(update={"base_digest": dg.sha256(b"x")}), *rest)},
            "disagrees with its base",
        ),
        "stale on the round's base": (
            {
                "reveals": (
                    first.model_copy(update={"outcome": m.RevealOutcome.REJECTED_STALE_BASE}),
                    *rest,
                )
            },
            "disagrees with its base",
        ),
        "two reveals by a node": ({"reveals": (first, *rec.reveals)}, "two reveals"),
        "a reveal by a stranger": ({"nodes": rec.nodes[1:]}, "listed by index"),
        "a stranger, indexes renumbered": (
            {
                "nodes": tuple(
                    n.model_copy(update={"index": i}) for i, n in enumerate(rec.nodes[1:])
                )
            },
            "not registered before the round",
        ),
        "post for another beacon round": (
            {"beacon_posts": (post.model_copy(update={"beacon_round": rec.beacon_round + 1}),)},
            "D(r) =",
        ),
        "two posts at one position": (
            {"beacon_posts": (rec.beacon_posts[0], post.model_copy(update={"block_number": 8}))},
            "chain order is unknown",
        ),
        "schedule out of order": ({"reveal_end": rec.commit_end - 1}, "schedule must run"),
    }


WRONG = list(wrong_changes(record()))


def test_the_unchanged_record_is_accepted() -> None:
    rec = record()
    assert rebuilt(rec) == rec


@pytest.mark.parametrize("name", WRONG)
def test_records_no_contract_could_produce_are_refused(name: str) -> None:
    rec = record()
    change, says = wrong_changes(rec)[name]
    with pytest.raises(ValidationError, match=re.escape(says)):
        rebuilt(rec, **change)


def test_genesis_base_has_no_manifest_and_a_zero_root() -> None:
    base = record().base
    with pytest.raises(ValidationError):
        base.model_validate({**dict(base), "round": -1})  # still names a manifest
    genesis = base.model_validate(
        {**dict(base), "round": -1, "manifest_cid": None, "settlement_root": dg.ZERO32}
    )
    assert genesis.manifest_cid is None

"""flchain.replay.v2 on FLChainV2 (embedded chain and anvil) with a real LocalStore.

Rounds are built the way tests/ledger/v2/_twin.py builds them: the twin's deployment, real
updates (seeded perturbations of a small model with their exact ROI claims), payloads in the
reveal calldata, a devnet beacon post. The replay must give what `merge_v2` gives on the
ledger's record with the inputs the test holds itself, fetch the base and its manifest from
the store by the chain's CIDs, and refuse what it cannot fetch whole.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from _twin import (
    BEACON,
    ETHER,
    base_weights,
    benchmark,
    deployment,
    make_update,
    rules,
    wallet,
)

from flchain.ledger import Backend, LedgerV2
from flchain.market.benchmark import register
from flchain.merge.settlement import settlement_proof
from flchain.merge.v2 import MergeResultV2, PriorRound, merge_v2, prior_from_manifest
from flchain.protocol.machine import Phase
from flchain.replay import MergeMemo, ReplayError, ReplayUnavailable
from flchain.replay.v2 import (
    cid_text,
    fetch_bounded,
    gather_inputs_v2,
    get_prior,
    merge_inputs_key_v2,
    publish_and_attest_v2,
    replay_round_v2,
)
from flchain.storage import LocalStore
from flchain.storage.cid import parse_cid


@dataclass
class Fed:
    gov: LedgerV2
    nodes: list[LedgerV2]
    keeper: LedgerV2
    store: LocalStore
    merged: list[MergeResultV2]


def _addr(ledger: LedgerV2) -> str:
    assert ledger.account is not None
    return ledger.account.address


@pytest.fixture(scope="module")
def fed(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Fed:
    """Round 0: three reveals and a withholder, a beacon post, three attestations, final.
    Round 1: everyone settles, two nodes reveal on round 0's model, three attest, final."""
    register(benchmark())
    bench_id = bytes.fromhex(benchmark().id[2:])
    gov = LedgerV2.deploy(
        backend,
        wallet(backend, 10**22),
        deployment(backend.latest_timestamp()),
        rules(benchmark_id=bench_id),
    )
    store = LocalStore(tmp_path_factory.mktemp("replay-v2") / "store", fsync=False)
    assert store.put(base_weights()) == cid_text(gov.deployment().genesis_cid)
    nodes = [gov.with_account(wallet(backend)) for _ in range(4)]
    for n in nodes:
        n.register(ETHER)
    keeper = gov.with_account(wallet(backend))
    keeper.fund_pool(5 * ETHER)
    fed = Fed(gov, nodes, keeper, store, [])

    def play(round: int, revealers: list[int], committers: list[int], base: bytes) -> None:
        gov.goto(round, Phase.COMMIT, 5)
        keeper.open_round(round)
        if round > 0:
            for n in nodes:
                keeper.settle(*settlement_proof(fed.merged[-1].manifest, _addr(n)))
        updates = {
            i: make_update(round, 10 * round + i, base=base, node=nodes[i]._me())
            for i in committers
        }
        for i, u in updates.items():
            nodes[i].commit(
                round, nodes[i].commitment(round, u.digest, u.base_digest, u.roi_bps, u.salt)
            )
        gov.goto(round, Phase.REVEAL, 5)
        for i in revealers:
            nodes[i].reveal(*updates[i].reveal_args())
        gov.goto(round, Phase.BEACON, 5)
        if round == 0:
            nodes[0].post_beacon(0, BEACON.sign(gov.beacon_round(0)))
        gov.goto(round, Phase.ATTEST, 5)
        for n in nodes[:3]:
            _, published, sent = publish_and_attest_v2(n, store, round)
            assert sent
        keeper.finalize(round, published.result)
        fed.merged.append(published)

    play(0, [0, 1, 2], [0, 1, 2, 3], base_weights())
    play(1, [0, 1], [0, 1], fed.merged[0].merged_weights)
    return fed


def test_replay_is_the_merge_of_the_ledgers_record(fed: Fed) -> None:
    zero = replay_round_v2(fed.gov, fed.store, 0)
    assert zero.result == merge_v2(
        fed.gov.round_record_v2(0), base_weights(), benchmark(), PriorRound.genesis()
    )
    assert zero.inputs.prior == PriorRound.genesis()
    assert zero.result.seed.post is not None
    assert {d.node for d in zero.result.decisions} == {_addr(n) for n in fed.nodes[:3]}
    final = zero.record.finalized
    assert final is not None and final.result_hash == zero.result.result_hash
    assert fed.gov.round_view(0).final_result == zero.result.result_hash


def test_a_later_round_merges_on_the_final_model_with_its_manifests_prior(fed: Fed) -> None:
    one = replay_round_v2(fed.gov, fed.store, 1)
    zero = fed.merged[0]
    assert one.inputs.base_weights == zero.merged_weights
    assert one.inputs.prior == prior_from_manifest(zero.manifest)
    assert one.inputs.prior.round == 0 and len(one.inputs.prior.leaves) == 4
    assert one.result == merge_v2(
        one.record, zero.merged_weights, benchmark(), prior_from_manifest(zero.manifest)
    )
    assert fed.gov.latest().merged_digest == one.result.result.merged_digest


def test_attesting_again_sends_nothing_and_the_store_holds_what_was_attested(fed: Fed) -> None:
    for r, merged in enumerate(fed.merged):
        replay, published, sent = publish_and_attest_v2(fed.nodes[0], fed.store, r)
        assert not sent and published == replay.result == merged
        assert fed.store.get(merged.merged_cid) == merged.merged_weights
        assert fed.store.get(merged.manifest_cid) == merged.manifest
    with pytest.raises(ReplayError, match="signs"):
        publish_and_attest_v2(LedgerV2.connect(fed.gov.backend, fed.gov.address), fed.store, 0)


def test_a_memo_shares_the_merge_across_attestations_and_tells_rounds_apart(fed: Fed) -> None:
    memo = MergeMemo()
    first = replay_round_v2(fed.gov, fed.store, 1, memo=memo)
    again = replay_round_v2(fed.gov, fed.store, 1, memo=memo)
    assert again.result is first.result and (memo.hits, memo.misses) == (1, 1)
    zero = gather_inputs_v2(fed.gov, fed.store, 0)
    assert merge_inputs_key_v2(zero) != merge_inputs_key_v2(first.inputs)
    assert replay_round_v2(fed.gov, fed.store, 0, memo=memo).result == fed.merged[0]
    assert memo.misses == 2


def test_the_memo_key_tells_a_lost_payload_from_a_present_one(fed: Fed) -> None:
    inputs = gather_inputs_v2(fed.gov, fed.store, 1)
    present = inputs.record.reveals[0]
    assert present.payload is not None
    lost = present.model_copy(update={"payload": None})  # same digest, no bytes
    record = inputs.record.model_copy(update={"reveals": (lost, *inputs.record.reveals[1:])})
    assert merge_inputs_key_v2(replace(inputs, record=record)) != merge_inputs_key_v2(inputs)
    assert merge_inputs_key_v2(replace(inputs, record=inputs.record)) == merge_inputs_key_v2(inputs)


def test_missing_base_content_is_unavailable(fed: Fed, tmp_path: Path) -> None:
    empty = LocalStore(tmp_path / "empty", fsync=False)
    with pytest.raises(ReplayUnavailable, match="genesis model"):
        replay_round_v2(fed.gov, empty, 0)
    empty.put(fed.merged[0].merged_weights)  # the model but not its manifest
    with pytest.raises(ReplayUnavailable, match="manifest of round 0"):
        replay_round_v2(fed.gov, empty, 1)


def test_fetches_are_bounded_and_a_v1_style_manifest_is_refused(fed: Fed, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s", fsync=False)
    big = store.put(b"\x07" * (600 * 1024))  # a chunked (dag-pb) file of three blocks
    assert len(fetch_bounded(store, big, "test file", 600 * 1024)) == 600 * 1024
    with pytest.raises(ReplayError, match="larger than 300000 bytes"):
        fetch_bounded(store, big, "test file", 300_000)
    base = fed.gov.round_record_v2(1).base
    not_v2 = store.put(b'{"kind": "flchain-manifest", "version": 1}')
    forged = base.model_copy(update={"manifest_cid": parse_cid(not_v2).to_bytes()})
    with pytest.raises(ReplayError, match="not a v2 manifest"):
        get_prior(store, forged)


def test_a_forward_post_is_read_in_any_encoding_that_decodes_as_postforward() -> None:
    """The window is known by its hash: a stranger posting the honest bytes first with trailing
    calldata (an odd encoding the box accepts) must not make them unreadable to the merge —
    the audit reads posts by the same ABI decoding. Another round, another selector or a
    truncated input reads nothing."""
    from eth_abi import encode

    from flchain.replay.v2 import POST_FORWARD_SELECTOR, posted_window

    window = b"15-minute bars " * 8
    call = POST_FORWARD_SELECTOR + encode(["uint256", "bytes"], [3, window])
    assert posted_window(call, 3) == window
    assert posted_window(call + bytes(32), 3) == window
    assert posted_window(call, 4) is None
    assert posted_window(b"\x00\x00\x00\x00" + call[4:], 3) is None
    assert posted_window(call[:-40], 3) is None

"""Forward scoring by the node (docs/protocol.md §15, last paragraph): `NodeRunnerV2` builds round
w's window from its own bars of the rules' market, posts it unless a readable post of those bytes
is on-chain, and votes for the hash it computed itself on its commit of w + lag; the replay reads
the accepted window from the `postForward` calldata and the merge of w + lag scores w.

Real runners on the chain of the module (`RoundDriverV2`; embedded and anvil), a real
LocalStore, the merge's manifest read back from the replay; on anvil also the driver's
concurrent mode (a thread per node while the driver mines). "Other bars" are the same series with prices 0.1 % higher:
what a node on another venue's quotes would see.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount

from flchain.devnet.anvil import AnvilProcess
from flchain.devnet.federation import deterministic_account
from flchain.ledger import Backend, RpcBackend
from flchain.ledger.events_v2 import ForwardPosted, ForwardVoted
from flchain.market import OHLCV
from flchain.market.benchmark import benchmark_for_round
from flchain.market.forward import build_window
from flchain.market.planted import planted_bars
from flchain.node.context import market_source
from flchain.node.daemon import runner_for
from flchain.node.runner_v2 import NodeRunnerV2
from flchain.protocol import digests as dg
from flchain.protocol import forward as fw
from flchain.protocol.machine import Phase, RulesV2
from flchain.replay.v2 import POST_FORWARD_SELECTOR, get_forward_window, replay_round_v2
from flchain.simulate.market import ClockedMarket, on_clock
from flchain.storage import LocalStore
from flchain.testing.driver import ETHER, RoundDriverV2

LAG = 4  # C + R + (1 + 2)·900 s = 3 400 s ≤ 4 rounds of 1 000 s
RULES = RulesV2(
    roi_min_bps=-10_000,
    probation_rounds=0,
    emission_wei=ETHER,
    notice_rounds=1,
    forward_bars=1,
    forward_lag_rounds=LAG,
)


def _driver(backend: Backend, tmp_path: Path, n: int) -> RoundDriverV2:
    store = LocalStore(tmp_path / "store", fsync=False)
    fed = RoundDriverV2.deploy(backend, store, n, rules=RULES, salts_dir=tmp_path / "salts")
    fed.market_bars = _market(fed).bars_of
    return fed


def _market(fed: RoundDriverV2, price_factor: float = 1.0) -> ClockedMarket:
    """600 planted bars on the chain clock, the first 200 bars before round 0."""
    file = benchmark_for_round(0).file
    assert file is not None
    first = (fed.gov.deployment().t0 // fw.BAR_SECONDS - 200) * fw.BAR_SECONDS
    bars = on_clock(planted_bars(600, seed=1), 0, first)
    if price_factor != 1.0:
        k = price_factor
        bars = OHLCV.of(
            bars.timestamps, bars.open * k, bars.high * k, bars.low * k, bars.close * k, bars.volume
        )
    return ClockedMarket(file.exchange, file.symbol, bars)


def _expected_window(fed: RoundDriverV2, market: ClockedMarket, w: int) -> bytes:
    start = fw.forward_start(fed.gov.deployment().reveal_end(w), RULES.forward_margin_seconds)
    return build_window(market.bars, market.exchange, market.symbol, start, 1).data


def _forward_section(fed: RoundDriverV2, round: int) -> dict[str, Any]:
    replay = replay_round_v2(fed.gov, fed.store, round)
    assert fed.gov.round_view(round).final_result == replay.result.result_hash
    section: dict[str, Any] = json.loads(replay.result.manifest)["forward"]
    return section


def test_nodes_post_their_window_once_and_vote_it_and_the_merge_scores_it(
    backend: Backend, tmp_path: Path
) -> None:
    fed = _driver(backend, tmp_path, 3)
    for r in range(LAG):
        out = fed.play_round(r)
        assert out.failures == [], r
        section = _forward_section(fed, r)
        assert section == {"window": None, "records": []}  # nothing voted before round LAG
    out = fed.play_round(LAG)
    assert out.failures == []
    commits = {n: reps[0] for n, reps in out.reports.items()}
    assert [c.posted for c in commits.values()] == [[0], [], []]  # the first posts, once
    assert all(c.voted == [0] and c.committed == [LAG] for c in commits.values())

    window = _expected_window(fed, _market(fed), 0)
    h = dg.sha256(window)
    assert fed.gov.forward_window_of(0) == h
    assert fed.gov.forward_tally_of(0, h) == fed.gov.round_view(LAG).total_stake
    events = fed.gov.forward_events(0)
    assert [type(e) for e in events if isinstance(e, ForwardPosted)] == [ForwardPosted]
    assert {e.node for e in events if isinstance(e, ForwardVoted)} == set(fed.addresses)
    assert get_forward_window(fed.gov, 0, h) == window  # from the calldata, hash checked

    section = _forward_section(fed, LAG)
    scored = section["window"]
    assert scored["round"] == 0 and scored["status"] == "scored"
    assert scored["window_hash"] == "0x" + h.hex()
    assert {s["node"] for s in scored["scores"]} == set(fed.addresses)
    assert all(s["reason"] == "scored" for s in scored["scores"])
    assert [r["scored"] for r in section["records"]] == [1, 1, 1]
    excess = {s["node"]: s["excess_bps"] for s in scored["scores"]}
    assert {r["node"]: r["scores"] for r in section["records"]} == {
        n: [x] for n, x in excess.items()
    }


def test_a_node_with_other_bars_votes_its_own_hash_and_no_majority_leaves_scores_missing(
    backend: Backend, tmp_path: Path
) -> None:
    fed = _driver(backend, tmp_path, 4)
    c, d = fed.addresses[2:]
    other = _market(fed, price_factor=1.001)
    fed.runner(d).market_bars = other.bars_of
    for r in range(LAG):
        assert fed.play_round(r).failures == []
    out = fed.play_round(LAG)  # window 0: three of four stakes on the honest bars' hash
    assert out.failures == []
    honest, odd = _expected_window(fed, _market(fed), 0), _expected_window(fed, other, 0)
    assert honest != odd
    assert out.reports[d][0].posted == [0] and out.reports[d][0].voted == [0]
    assert fed.gov.forward_window_of(0) == dg.sha256(honest)
    assert fed.gov.forward_tally_of(0, dg.sha256(odd)) == fed.gov.stake_of(d, LAG)
    assert _forward_section(fed, LAG)["window"]["status"] == "scored"

    fed.runner(c).market_bars = other.bars_of  # window 1: two against two, neither has ⅔
    out = fed.play_round(LAG + 1)
    assert out.failures == []
    assert fed.gov.forward_window_of(1) is None
    assert out.record.finalized is not None  # the merge still runs and is final
    section = _forward_section(fed, LAG + 1)
    assert section["window"]["round"] == 1 and section["window"]["status"] == "missing"
    assert section["window"]["scores"] == []
    assert [r["scored"] for r in section["records"]] == [1, 1, 1, 1]  # unchanged by round 1


def test_a_node_without_bars_of_the_market_commits_without_a_vote(
    backend: Backend, tmp_path: Path
) -> None:
    fed = _driver(backend, tmp_path, 3)
    blind = fed.addresses[2]
    fed.runner(blind).market_bars = None
    for r in range(LAG):
        fed.play_round(r)
    fed.step_phase(LAG, Phase.COMMIT)
    report = fed.runner(blind).step()  # a second step in the window: nothing left to do
    assert report.committed == [] and report.voted == [] and report.failures == []
    votes = {e.node for e in fed.gov.forward_events(0) if isinstance(e, ForwardVoted)}
    assert votes == set(fed.addresses[:2])
    assert fed.runner(blind).commit_state(LAG).name == "COMMITTED"


def test_the_daemons_market_csv_builds_the_same_window_bytes(
    backend: Backend, tmp_path: Path
) -> None:
    """`market_data` (a CSV of the market, re-read at every call) builds byte for byte the
    window a node holding the same bars in memory builds: operators who fetched the same bars
    vote the same hash."""
    fed = _driver(backend, tmp_path, 1)
    market = _market(fed)
    bars = market.bars
    csv = tmp_path / "market.csv"
    rows = zip(
        bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume, strict=True
    )
    csv.write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(f"{int(t)},{','.join(repr(float(x)) for x in row)}\n" for t, *row in rows)
    )
    source = market_source(str(csv))
    assert source is not None and market_source(None) is None
    runner = runner_for(
        fed.gov, fed.nodes[0], fed.store, fed.bars_for, data_dir=tmp_path / "data",
        market_bars=source,
    )  # fmt: skip
    assert isinstance(runner, NodeRunnerV2)
    assert runner.forward_window(0) == _expected_window(fed, market, 0)


@pytest.mark.anvil
def test_concurrent_nodes_on_anvil_post_once_and_vote_one_window(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    """The driver's concurrent mode (one thread per node while the driver mines): the first
    node posts, the others find the bytes posted, and every commit carries the vote."""
    backend = RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)
    snapshot = backend.snapshot()
    try:
        store = LocalStore(tmp_path / "store", fsync=False)
        fed = RoundDriverV2.deploy(backend, store, 4, rules=RULES, workers=4)
        fed.market_bars = _market(fed).bars_of
        for r in range(LAG + 1):
            assert fed.play_round(r).failures == [], r
        h = dg.sha256(_expected_window(fed, _market(fed), 0))
        assert fed.gov.forward_window_of(0) == h
        assert fed.gov.forward_tally_of(0, h) == fed.gov.round_view(LAG).total_stake
        assert _forward_section(fed, LAG)["window"]["status"] == "scored"
    finally:
        backend.revert(snapshot)


def _forwarder(box: str) -> bytes:
    """Init code of a contract that calls `box` with its own calldata (a post "forwarded by
    another contract"): CALLDATACOPY to memory 0, CALL(gas, box, 0, 0, size, 0, 0), STOP."""
    runtime = (
        bytes.fromhex("36600060003760006000366000600073")
        + bytes.fromhex(box.removeprefix("0x"))
        + bytes.fromhex("5af100")
    )
    init = bytes([0x60, len(runtime), 0x60, 12, 0x60, 0, 0x39, 0x60, len(runtime), 0x60, 0, 0xF3])
    return init + runtime


def _send(backend: Backend, account: LocalAccount, to: str | None, data: bytes) -> Any:
    w3 = backend.w3
    tx: dict[str, Any] = {
        "data": data, "gas": 2_000_000, "value": 0, "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(account.address),
        "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
    }  # fmt: skip
    if to is not None:
        tx["to"] = to
    sent = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return w3.eth.wait_for_transaction_receipt(sent)


def test_a_window_first_posted_through_another_contract_is_posted_again_and_scored(
    backend: Backend, tmp_path: Path
) -> None:
    """A stranger posts the honest bytes first through a forwarding contract: the box marks
    them posted, but no transaction's input carries them (the readers take a window from a
    direct `postForward` call, as reveal payloads). The first honest node finds no readable
    post and posts the bytes again itself (the box accepts a repeated post), the others find
    that post readable; every node votes, the window is accepted and round LAG's merge scores
    it — the griefing post changed nothing."""
    fed = _driver(backend, tmp_path, 3)
    for r in range(LAG):
        assert fed.play_round(r).failures == []
    stranger = deterministic_account("forward-griefer", 0)
    backend.fund(stranger.address, ETHER)
    created = _send(backend, stranger, None, _forwarder(fed.gov.forward_box.address))
    fed.goto(LAG, Phase.COMMIT)
    window = _expected_window(fed, _market(fed), 0)
    call = POST_FORWARD_SELECTOR + abi_encode(["uint256", "bytes"], [0, window])
    _send(backend, stranger, created["contractAddress"], call)
    h = dg.sha256(window)
    assert fed.gov.is_forward_posted(0, h)
    assert get_forward_window(fed.gov, 0, h) is None  # posted, and unreadable

    out = fed.play_round(LAG)
    assert out.failures == []
    commits = [reps[0] for reps in out.reports.values()]
    assert [c.posted for c in commits] == [[0], [], []]  # one re-post, by the first node
    assert "again: no transaction's input carried the bytes posted" in " ".join(commits[0].actions)
    assert all(c.voted == [0] for c in commits)
    posters = [e.poster for e in fed.gov.forward_events(0) if isinstance(e, ForwardPosted)]
    assert posters == [created["contractAddress"], fed.addresses[0]]
    assert fed.gov.forward_window_of(0) == h
    assert get_forward_window(fed.gov, 0, h) == window
    section = _forward_section(fed, LAG)["window"]
    assert section["status"] == "scored" and section["window_hash"] == "0x" + h.hex()
    assert {s["node"] for s in section["scores"]} == set(fed.addresses)

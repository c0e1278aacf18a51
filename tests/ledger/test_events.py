"""The ledger's event index against a raw `eth_getLogs` scan, on the embedded chain and on anvil.

The peer in every comparison is the old read path, kept here as `RawScanLedger`: one
`eth_getLogs` over the whole history per query and an uncached `get_block` per timestamp.
Uses the `backend`, `world` and `make_world` fixtures of tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from web3 import Web3
from web3.types import RPCEndpoint

from flchain.audit.source import SnapshotLedger
from flchain.devnet.journal import JournaledEmbeddedBackend, replay_journal, save_journal
from flchain.hashing import sha256_hex
from flchain.ledger import (
    Backend,
    ChainConfigError,
    ChainEvent,
    Committed,
    DeployConfig,
    Deployment,
    Ledger,
    Phase,
    RpcBackend,
    cid_to_str,
    commitment_hash,
    load_artifact,
)
from flchain.ledger.events import EventDecoder, typed_event
from flchain.protocol import RevealOutcome, Rules
from flchain.storage.cid import cid_for_bytes

MERGED = b"merged model"
MANIFEST = b'{"manifest": 1}'
EVENT_NAMES = ("Committed", "Revealed", "Attested", "RoundFinalized", "RulesScheduled", "Genesis")


class RawScanLedger(Ledger):
    """The pre-index read path: every query is one raw eth_getLogs from the deployment block."""

    def events(  # type: ignore[override]
        self,
        kind: str | type[ChainEvent] | None = None,
        round: int | None = None,
        *,
        to_block: int | None = None,
    ) -> list[ChainEvent]:
        decoder = self.deployment.events
        topic = None if kind is None else decoder.topics[decoder.kind(kind).name]
        topics: list[Any] = [None if topic is None else "0x" + topic.hex()]
        if round is not None:
            topics.append("0x" + round.to_bytes(32, "big").hex())
        while topics and topics[-1] is None:
            topics.pop()
        query: dict[str, Any] = {
            "address": self.address,
            "fromBlock": self.from_block,
            "toBlock": "latest" if to_block is None else to_block,
        }
        if topics:
            query["topics"] = topics
        logs = self.w3.eth.get_logs(query)  # type: ignore[arg-type]
        return sorted(decoder.decode(logs), key=lambda e: (e.block_number, e.log_index))

    def block_timestamp(self, block_number: int) -> int:
        return int(self.w3.eth.get_block(block_number)["timestamp"])


def raw_view(ledger: Ledger) -> RawScanLedger:
    return RawScanLedger(Deployment(ledger.backend, ledger.address, from_block=ledger.from_block))


def assert_same_as_raw(ledger: Ledger, rounds: range = range(3)) -> None:
    raw = raw_view(ledger)
    assert ledger.events() == raw.events()
    for name in EVENT_NAMES:
        assert ledger.events(name) == raw.events(name), name
        for r in rounds:
            assert ledger.events(name, r) == raw.events(name, r), (name, r)
    for r in rounds:
        assert ledger.events(None, r) == raw.events(None, r), r


def play_round(world: Any, round: int, *, finalize: bool = True) -> None:
    """Every node commits and reveals (the last one an abnormal ROI); node 0 attests."""
    world.goto(round, Phase.COMMIT)
    updates = [world.update(round, 100 + i) for i in range(len(world.nodes) - 1)]
    updates.append(world.update(round, 10**6))  # outside the ROI band: rejected, still an event
    for node, u in zip(world.nodes, updates, strict=True):
        world.commit(node, u)
    world.goto(round, Phase.REVEAL)
    for node, u in zip(world.nodes, updates, strict=True):
        world.reveal(node, u)
    if finalize:
        world.goto(round, Phase.CLOSED)
        merged = MERGED + bytes([round])
        world.nodes[0].attest(
            round, sha256_hex(merged), cid_for_bytes(merged), cid_for_bytes(MANIFEST)
        )


class RangeSpy:
    """Records the block ranges the index asks the backend for (the real fetch still runs)."""

    def __init__(self, backend: Backend) -> None:
        self.ranges: list[tuple[int, int]] = []
        self._real = backend.fetch_logs

        def fetch(address: str, lo: int, hi: int) -> list[Any]:
            self.ranges.append((lo, hi))
            return self._real(address, lo, hi)

        backend.fetch_logs = fetch  # type: ignore[method-assign]
        self._backend = backend

    def restore(self) -> None:
        del self._backend.fetch_logs


@pytest.fixture
def spy(backend: Backend) -> Iterator[RangeSpy]:
    s = RangeSpy(backend)
    yield s
    s.restore()


# ---------------------------------------------------------------- equality with a raw scan


def test_index_matches_raw_scan_as_rounds_are_played(world: Any) -> None:
    gov: Ledger = world.gov
    assert_same_as_raw(gov)  # Genesis + registrations only
    play_round(world, 0)
    assert_same_as_raw(gov)
    gov.schedule_rules(2, Rules(quorum=2))
    play_round(world, 1, finalize=False)
    assert_same_as_raw(gov)
    # a Ledger made afterwards (other wallet, other object) reads the same shared index
    other = world.nodes[1]
    assert other.event_index is gov.event_index
    assert other.events("Revealed", 1) == raw_view(gov).events("Revealed", 1)
    assert len(gov.events("Revealed", 1)) == len(world.nodes)


def test_round_record_through_the_index_equals_raw_scan(world: Any) -> None:
    gov: Ledger = world.gov
    play_round(world, 0)
    play_round(world, 1)
    world.goto(2, Phase.COMMIT)
    raw = raw_view(gov)
    for r in range(3):
        built = gov.round_record(r)
        assert built == raw.round_record(r)
    assert gov.round_record(1).finalized is not None
    assert gov.round_record(1).base == gov.round_record(0).finalized
    assert gov.latest_global() == raw.latest_global()
    assert gov.base_for_round(2) == raw.base_for_round(2)


def test_reads_fetch_only_blocks_not_yet_indexed(world: Any, spy: RangeSpy) -> None:
    gov: Ledger = world.gov
    gov.events()
    play_round(world, 0)
    first = gov.events("Revealed", 0)
    fetches = len(spy.ranges)
    again = gov.events("Revealed", 0)
    assert len(spy.ranges) == fetches  # nothing mined in between: nothing fetched
    head = gov.w3.eth.block_number
    gov.backend.advance_time(10)
    new_head = gov.w3.eth.block_number
    assert gov.events("Revealed", 0) == first == again
    assert gov.event_index.indexed_through == new_head
    # contiguous, non-overlapping, from the deployment to the head: every block fetched once
    assert spy.ranges[0][0] == gov.from_block
    for (_, hi), (lo, _) in zip(spy.ranges, spy.ranges[1:], strict=False):
        assert lo == hi + 1
    assert spy.ranges[-1] == (head + 1, new_head)
    assert_same_as_raw(gov, range(1))


def test_block_timestamps_across_advance_time(world: Any) -> None:
    gov: Ledger = world.gov
    play_round(world, 0)
    stamps = {}
    for step in (7, 1_000, 86_400):
        ts = gov.backend.advance_time(step)
        n = gov.w3.eth.block_number
        stamps[n] = ts
        assert gov.block_timestamp(n) == ts == int(gov.w3.eth.get_block(n)["timestamp"])
    for n, ts in stamps.items():
        assert gov.block_timestamp(n) == ts  # cached, still right
    fin = gov.events("RoundFinalized", 0)[0]
    record = gov.round_record(0)
    assert record.finalized is not None
    assert record.finalized.finalized_at == int(gov.w3.eth.get_block(fin.block_number)["timestamp"])
    assert gov.event_index.indexed_through == max(stamps)
    assert_same_as_raw(gov, range(1))


# ---------------------------------------------------------------- rewinds


def test_a_revert_through_the_backend_drops_what_it_undid(world: Any) -> None:
    gov: Ledger = world.gov
    world.goto(0, Phase.COMMIT)
    snap = world.backend.snapshot()
    u = world.update(0)
    world.commit(world.nodes[0], u)
    assert len(gov.events("Committed", 0)) == 1
    world.backend.revert(snap)
    assert gov.events("Committed", 0) == []
    world.commit(world.nodes[1], world.update(0))
    assert [e.node for e in gov.events(Committed, 0)] == [world.nodes[1].account.address]
    assert_same_as_raw(gov, range(1))


@pytest.mark.anvil
def test_a_rewind_behind_the_backends_back_is_noticed(make_world: Any) -> None:
    """evm_revert sent straight to the node: only the tip-hash check can notice it."""
    world = make_world()
    if not isinstance(world.backend, RpcBackend):
        pytest.skip("needs a JSON-RPC chain (the embedded chain has no outside client)")
    gov: Ledger = world.gov
    world.goto(0, Phase.COMMIT)
    snap = world.backend.w3.provider.make_request(RPCEndpoint("evm_snapshot"), [])["result"]
    world.commit(world.nodes[0], world.update(0))
    world.commit(world.nodes[1], world.update(0))
    assert len(gov.events("Committed", 0)) == 2
    world.backend.w3.provider.make_request(RPCEndpoint("evm_revert"), [snap])
    world.commit(world.nodes[2], world.update(0))
    world.backend.advance_time(1)  # the head is now above the old tip, on another branch
    assert [e.node for e in gov.events(Committed, 0)] == [world.nodes[2].account.address]
    assert_same_as_raw(gov, range(1))


# ---------------------------------------------------------------- fresh readers


def test_chunked_get_logs_on_a_fresh_rpc_reader(make_world: Any) -> None:
    world = make_world()
    if not isinstance(world.backend, RpcBackend):
        pytest.skip("eth_getLogs ranges are the JSON-RPC path")
    play_round(world, 0)
    fresh = RpcBackend(world.backend.url, kind="anvil")
    fresh.LOG_CHUNK = 3
    spy = RangeSpy(fresh)
    reader = Ledger.connect(fresh, world.gov.address, from_block=world.gov.from_block)
    assert reader.events() == raw_view(world.gov).events()
    assert reader.round_record(0) == raw_view(world.gov).round_record(0)
    assert spy.ranges == [(world.gov.from_block, reader.event_index.indexed_through)]


def journaled_federation(backend: Backend, n_nodes: int = 3) -> tuple[Ledger, list[Ledger]]:
    """A deployment with `n_nodes` registered wallets whose round 0 is played and finalized."""
    gov_acct = Account.create()
    backend.fund(gov_acct.address, 10**21)
    genesis = b"journaled genesis"
    config = DeployConfig(
        t0=backend.latest_timestamp() + 50,
        round_length=1_000,
        commit_window=400,
        reveal_window=300,
        genesis_digest=sha256_hex(genesis),
        genesis_cid=cid_for_bytes(genesis),
    )
    gov = Ledger.deploy(backend, gov_acct, config)
    nodes = []
    for _ in range(n_nodes):
        acct = Account.create()
        backend.fund(acct.address, 10**20)
        node = gov.with_account(acct)
        node.register()
        nodes.append(node)
    backend.goto(gov.schedule, 0, Phase.COMMIT)
    payloads = [bytes([i]) * 40 for i in range(n_nodes)]
    salt = "0x" + "11" * 32
    for node, body in zip(nodes, payloads, strict=True):
        assert node.account is not None
        c = commitment_hash(
            node.chain_id,
            node.address,
            0,
            node.account.address,
            sha256_hex(body),
            cid_for_bytes(body),
            sha256_hex(genesis),
            100,
            salt,
        )
        node.commit(0, c)
    backend.goto(gov.schedule, 0, Phase.REVEAL)
    for node, body in zip(nodes, payloads, strict=True):
        node.reveal(0, sha256_hex(body), cid_for_bytes(body), sha256_hex(genesis), 100, salt)
    backend.goto(gov.schedule, 0, Phase.CLOSED)
    nodes[0].attest(0, sha256_hex(MERGED), cid_for_bytes(MERGED), cid_for_bytes(MANIFEST))
    return gov, nodes


def test_embedded_blocks_never_seen_are_scanned_once(tmp_path: Path) -> None:
    """A chain rebuilt from a journal: its transactions went in raw, no receipt was seen."""
    backend = JournaledEmbeddedBackend()
    gov, _ = journaled_federation(backend)
    journal = save_journal(backend, tmp_path / "chain.jsonl")
    replayed = replay_journal(journal)
    reader = Ledger.connect(replayed, gov.address, from_block=gov.from_block)
    spy = RangeSpy(replayed)
    assert reader.events() == gov.events()
    record = reader.round_record(0)
    assert record == gov.round_record(0)
    assert record == raw_view(reader).round_record(0)
    assert record.finalized is not None and len(record.reveals) == 3
    assert spy.ranges == [(gov.from_block, replayed.w3.eth.block_number)]


# ---------------------------------------------------------------- the audit's pinned view


def test_snapshot_ledger_is_pinned_until_refresh(world: Any) -> None:
    gov: Ledger = world.gov
    play_round(world, 0, finalize=False)
    snap = SnapshotLedger(world.backend, gov.address, from_block=gov.from_block)
    before = snap.events("Revealed", 0)
    assert before == raw_view(gov).events("Revealed", 0)
    pinned = snap.pinned_block
    world.goto(1, Phase.COMMIT)
    world.commit(world.nodes[0], world.update(1))
    assert snap.events("Committed", 1) == []  # mined after the pin
    assert snap.round_record(0) == raw_view(gov).round_record(0)
    snap.refresh()
    assert len(snap.events("Committed", 1)) == 1
    assert snap.pinned_block is not None and pinned is not None and snap.pinned_block > pinned


# ---------------------------------------------------------------- commitment_of and bad input


def test_commitment_of_follows_commit_and_reveal(world: Any) -> None:
    a, b, c = world.nodes
    node_a = a.account.address
    state = world.gov.commitment_of(0, node_a)
    assert (state.commitment, state.revealed, state.outcome) == (None, False, None)
    world.goto(0, Phase.COMMIT)
    ua, uc = world.update(0, 50), world.update(0, 10**6)
    world.commit(a, ua)
    world.commit(c, uc)
    committed = world.gov.commitment_of(0, node_a)
    assert committed.commitment == world.gov.events(Committed, 0)[0].commitment
    assert not committed.revealed and committed.outcome is None
    world.goto(0, Phase.REVEAL)
    world.reveal(a, ua)
    world.reveal(c, uc)
    assert world.gov.commitment_of(0, node_a).outcome == RevealOutcome.ACCEPTED
    rejected = world.gov.commitment_of(0, c.account.address)
    assert rejected.revealed and rejected.outcome == RevealOutcome.REJECTED_ABNORMAL_ROI
    assert world.gov.commitment_of(0, b.account.address).commitment is None


def test_unknown_event_name_is_a_clear_error(world: Any) -> None:
    with pytest.raises(ChainConfigError, match="no event named Nope"):
        world.gov.events("Nope")


def web3_args(ledger: Ledger, logs: list[Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """(name, args, log) of each of the contract's logs through web3's `process_log`: the
    reference the fast decoder is checked against (about 5× slower, which every first read of a
    long log paid before the index decoded with eth_abi)."""
    by_topic = {topic: name for name, topic in ledger.deployment.events.topics.items()}
    out = []
    for log in logs:
        name = by_topic.get(bytes(log["topics"][0])) if log["topics"] else None
        if name is None or to_checksum_address(log["address"]) != ledger.address:
            continue
        decoded = getattr(ledger.contract.events, name)().process_log(log)
        out.append((name, dict(decoded["args"]), log))
    return out


def plain(value: Any) -> Any:
    """web3's decoded values as JSON-ready plain Python (bytes as 0x-hex, structs as dicts)."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def test_fast_decoder_agrees_with_web3(world: Any) -> None:
    """The eth_abi decoder behind the index gives the typed events web3's process_log gives,
    and each event's ABI form is exactly what web3 decodes (the run folder's events.json)."""
    gov: Ledger = world.gov
    gov.schedule_rules(3, Rules(quorum=2))  # a struct argument
    play_round(world, 0)
    logs = gov.w3.eth.get_logs(
        {"address": gov.address, "fromBlock": gov.from_block, "toBlock": "latest"}
    )
    fast = gov.deployment.events.decode(logs)
    assert {e.name for e in fast} >= {"Genesis", "RulesScheduled", "Attested", "Revealed"}
    reference = web3_args(gov, logs)
    assert fast == [typed_event(name, args, log) for name, args, log in reference]
    assert [e.abi_args() for e in fast] == [plain(args) for _, args, _ in reference]
    assert [e.name for e in fast] == [name for name, _, _ in reference]
    named = [
        cid_to_str(bytes(args[key]))
        for _, args, _ in reference
        for key in ("cid", "mergedCid", "manifestCid")
        if key in args
    ]
    assert [c for e in fast for c in e.cids()] == named


def test_an_abi_event_without_a_matching_model_is_refused() -> None:
    """A contract change the typed events have not followed fails at load, not at a read."""
    abi = load_artifact()["abi"]
    dropped = [
        {**item, "inputs": item["inputs"][:-1]}
        if item.get("type") == "event" and item["name"] == "Committed"
        else item
        for item in abi
    ]
    EventDecoder(abi, "0x" + "11" * 20, Web3().codec)
    with pytest.raises(ChainConfigError, match="event Committed"):
        EventDecoder(dropped, "0x" + "11" * 20, Web3().codec)

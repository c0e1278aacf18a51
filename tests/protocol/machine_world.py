"""A deployment of the reference machine for tests: wallets, a clock, honest updates and results.

`World` drives `flchain.protocol.machine` the way a chain would: every call is a `Tx` at the
world's clock; `call` returns the events and requires a refused call to leave the state
exactly as it was; `refuse` expects a named error. The merge is not run: `result_for` builds
the settlement table an honest merge would (cumulative leaves from the last final table,
the round's budget shared equally among accepted, unpenalised updates), so tests can choose
which nodes a result penalises and what it pays.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from flchain.protocol import digests as dg
from flchain.protocol import machine as m
from flchain.protocol.beacon import DevnetBeacon
from flchain.protocol.merkle import SettlementTree

CHAIN_ID = 31337
CONTRACT = to_checksum_address("0x" + "c0" * 20)
GENESIS = b"genesis model"
T0 = 1_000_000
L = 1_000
C, R, B = 400, 300, 100
ETH = m.ETHER
BEACON = DevnetBeacon(b"machine tests")


def wallet(label: str) -> str:
    return to_checksum_address(dg.keccak(label.encode())[12:])


def deployment(**changes: Any) -> m.Deployment:
    values: dict[str, Any] = dict(
        t0=T0,
        round_length=L,
        commit_window=C,
        reveal_window=R,
        beacon_window=B,
        exit_delay=2 * L,
        min_notice_rounds=1,
        min_bond=ETH,
        genesis_digest=dg.sha256(GENESIS),
        genesis_cid=dg.raw_leaf_cid(dg.sha256(GENESIS)),
        beacon_genesis=T0 - 100,
        beacon_period=3,
        beacon_delay=10,
        beacon_public_key=BEACON.public_key,
    )
    values.update(changes)
    return m.Deployment(**values)


@dataclass
class Update:
    """A node's update for a round, with what commit and reveal need."""

    node: str
    round: int
    payload: bytes
    base: bytes
    roi_bps: int
    salt: bytes

    @property
    def digest(self) -> bytes:
        return dg.sha256(self.payload)

    def commitment(self) -> bytes:
        return dg.commitment_hash_v2(
            CHAIN_ID,
            CONTRACT,
            self.round,
            self.node,
            self.digest,
            self.base,
            self.roi_bps,
            self.salt,
        )


@dataclass
class World:
    state: m.State
    now: int
    gov: str
    nodes: list[str] = field(default_factory=list)
    events: list[tuple[int, m.Event]] = field(default_factory=list)
    tables: dict[int, dict[str, m.Leaf]] = field(default_factory=dict)  # final round → leaves
    registered_at: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------ calls

    def tx(self, sender: str, value: int = 0) -> m.Tx:
        return m.Tx(sender, self.now, value)

    def call(
        self, fn: Callable[..., list[m.Event]], sender: str, *args: Any, value: int = 0
    ) -> list[m.Event]:
        """Run `fn` as `sender`; a refusal must leave the state untouched (and is re-raised)."""
        before = copy.deepcopy(self.state)
        try:
            out = fn(self.state, self.tx(sender, value), *args)
        except m.ProtocolError:
            assert self.state == before, f"{fn.__name__} raised after changing the state"
            raise
        self.events.extend((self.now, e) for e in out)
        return out

    def refuse(
        self, name: str, fn: Callable[..., list[m.Event]], sender: str, *args: Any, value: int = 0
    ) -> m.ProtocolError:
        try:
            self.call(fn, sender, *args, value=value)
        except m.ProtocolError as err:
            assert err.name == name, f"expected {name}, got {err.message}"
            return err
        raise AssertionError(f"expected {name}, the call succeeded")

    # ------------------------------------------------------------ time

    def goto(self, round: int, phase: m.Phase, offset: int = 0) -> None:
        d = self.state.deployment
        start = {
            m.Phase.COMMIT: d.start(round),
            m.Phase.REVEAL: d.commit_end(round),
            m.Phase.BEACON: d.reveal_end(round),
            m.Phase.ATTEST: d.attest_open(round),
        }[phase]
        target = start + offset
        assert target >= self.now, f"time only moves forward ({self.now} → {target})"
        self.now = target

    def goto_deadline(self, round: int) -> None:
        self.now = max(self.now, self.state.deployment.deadline(round))

    @property
    def round(self) -> int:
        return self.state.deployment.round_at(self.now)

    # ------------------------------------------------------------ nodes

    def register(self, label: str, bond: int = ETH) -> str:
        node = wallet(label)
        self.call(m.process_register, node, value=bond)
        self.nodes.append(node)
        self.registered_at[node] = self.now
        return node

    def update(
        self,
        node: str,
        round: int,
        roi_bps: int = 100,
        payload: bytes | None = None,
        base: bytes | None = None,
    ) -> Update:
        body = (
            payload if payload is not None else dg.keccak(f"{node} {round} {roi_bps}".encode()) * 40
        )
        return Update(
            node,
            round,
            body,
            base if base is not None else self.state.latest.merged_digest,
            roi_bps,
            dg.keccak(f"salt {node} {round}".encode()),
        )

    def commit(self, u: Update) -> list[m.Event]:
        return self.call(m.process_commit, u.node, u.round, u.commitment())

    def reveal(self, u: Update) -> m.RevealOutcome:
        (ev,) = [
            e
            for e in self.call(
                m.process_reveal, u.node, u.round, u.payload, u.base, u.roi_bps, u.salt
            )
            if e.name == "Revealed"
        ]
        return m.RevealOutcome(ev["outcome"])

    # ------------------------------------------------------------ results

    def accepted(self, round: int) -> list[str]:
        slots = self.state.rounds.get(round, m.RoundState()).slots
        return [
            n
            for n, s in slots.items()
            if s.state == m.CommitState.REVEALED and s.outcome == m.RevealOutcome.ACCEPTED
        ]

    def previous_table(self) -> dict[str, m.Leaf]:
        latest = self.state.latest.round_plus_one
        return dict(self.tables.get(latest - 1, {})) if latest else {}

    def table_for(
        self,
        round: int,
        penalised: Iterable[str] = (),
        earned: dict[str, int] | None = None,
        score_bps: int = 0,
    ) -> dict[str, m.Leaf]:
        """The cumulative table of `round`: every node registered before S(round); the budget
        shared equally by accepted, unpenalised updates unless `earned` says otherwise."""
        start = self.state.deployment.start(round)
        penalised = set(penalised)
        members = [n for n in self.state.node_at if self.registered_at.get(n, 0) < start]
        merged = [n for n in self.accepted(round) if n not in penalised]
        if earned is None:
            reserved = self.state.rounds.get(round, m.RoundState()).reserved
            earned = {n: reserved // len(merged) for n in merged} if merged else {}
        previous = self.previous_table()
        table = {}
        for n in members:
            prev = previous.get(n, m.Leaf(n, self.state.nodes[n].index))
            table[n] = m.Leaf(
                n,
                prev.index,
                prev.cum_earned + earned.get(n, 0),
                prev.cum_penalties + (1 if n in penalised else 0),
                prev.merged_rounds + (1 if n in merged else 0),
                round + 1 if n in penalised else prev.last_penalty_round,
                score_bps if n in merged else prev.score_bps,
            )
        return table

    def result_of(
        self,
        round: int,
        table: dict[str, m.Leaf],
        label: str = "honest",
        round_earned: int | None = None,
    ) -> m.Result:
        """A result with this settlement table; it pays what the table adds to the last final
        one unless `round_earned` says otherwise."""
        tree = SettlementTree(
            {leaf.index: leaf.hash(CHAIN_ID, CONTRACT) for leaf in table.values()}
        )
        merged = dg.sha256(f"merged {round} {label}".encode())
        return m.Result(
            merged,
            dg.raw_leaf_cid(merged),
            bytes([0x01, 0x70, 0x12, 0x20]) + dg.sha256(f"manifest {round} {label}".encode()),
            tree.root,
            sum(leaf.cum_earned for leaf in table.values())
            - sum(leaf.cum_earned for leaf in self.previous_table().values())
            if round_earned is None
            else round_earned,
        )

    def finalize(
        self, round: int, table: dict[str, m.Leaf], result: m.Result, sender: str | None = None
    ) -> list[m.Event]:
        out = self.call(m.process_finalize, sender or self.gov, round, result)
        self.tables[round] = table
        return out

    def proof(self, node: str) -> tuple[m.Leaf, tuple[bytes, ...]]:
        table = self.tables[self.state.latest.round_plus_one - 1]
        tree = SettlementTree(
            {leaf.index: leaf.hash(CHAIN_ID, CONTRACT) for leaf in table.values()}
        )
        leaf = table[node]
        return leaf, tree.proof(leaf.index)

    def settle(self, node: str, sender: str | None = None) -> list[m.Event]:
        leaf, proof = self.proof(node)
        return self.call(m.process_settle, sender or node, leaf, proof)

    def run_round(
        self,
        round: int,
        committers: Iterable[str] | None = None,
        voters: Iterable[str] | None = None,
        penalised: Iterable[str] = (),
        finalize: bool = True,
    ) -> tuple[dict[str, m.Leaf], m.Result]:
        """One honest round: the participants that lag settle, open, commit, reveal, post a
        beacon, attest, finalize (by the governor's wallet, as anyone may). By default every
        node of the frozen set commits and votes."""
        committers = list(self.active(round) if committers is None else committers)
        voters = list(self.active(round) if voters is None else voters)
        self.goto(round, m.Phase.COMMIT)
        for n in dict.fromkeys(committers + voters):
            if m.node_lags(self.state, self.state.nodes[n], self.now):
                self.settle(n)
        if not self.state.rounds.get(round, m.RoundState()).opened:
            self.call(m.process_open_round, self.gov, round)
        updates = [self.update(n, round) for n in committers]
        for u in updates:
            self.commit(u)
        self.goto(round, m.Phase.REVEAL)
        for u in updates:
            self.reveal(u)
        self.goto(round, m.Phase.BEACON)
        if committers:
            self.call(
                m.process_post_beacon,
                committers[0],
                round,
                BEACON.sign(m.beacon_round(self.state.deployment, round)),
            )
        self.goto(round, m.Phase.ATTEST)
        table = self.table_for(round, penalised)
        result = self.result_of(round, table)
        for n in voters:
            self.call(m.process_attest, n, round, result)
        if finalize:
            self.finalize(round, table, result)
        return table, result

    def active(self, round: int) -> list[str]:
        return [n for n in self.state.node_at if m.get_stake_of(self.state, n, round) > 0]

    def events_named(self, name: str) -> list[m.Event]:
        return [e for _, e in self.events if e.name == name]


def make_world(
    n_nodes: int = 3, bond: int = ETH, rules: m.RulesV2 | None = None, pool: int = 0, **deploy: Any
) -> World:
    gov = wallet("governor")
    state, events = m.initialize_state(
        deployment(**deploy), rules or m.RulesV2(), m.Tx(gov, T0 - 500), CHAIN_ID, CONTRACT
    )
    world = World(state, T0 - 400, gov)
    world.events.extend((T0 - 500, e) for e in events)
    for i in range(n_nodes):
        world.register(f"node {i}", bond)
    if pool:
        world.call(m.process_fund_pool, wallet("funder"), value=pool)
    return world

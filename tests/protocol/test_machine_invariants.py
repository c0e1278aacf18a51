"""Hypothesis stateful tests of the reference machine: the invariants of issue 12.

Random sequences of every entry point — by nodes, a third party and the governor, with honest,
cheating, abnormal, stale and copied updates, honest, rogue and over-budget results, reverting
wallets, rule changes, pauses and time jumps — and after every step:

- contract balance = bonds + pool + reserved + claimable (the machine has no forced
  ether, so ≥ is =), each account the sum of its parts, balance = ether in − transfers out;
- at most one final result per round, none outside its attest window (so none after its
  deadline);
- a node's weight (and the total) constant within a round;
- total claimed ≤ total earned by final rounds ≤ total reserved by final rounds;
- no fault slashed twice; a bond falls only through a slash whose precondition held in the
  state before it, or a withdrawal;
- no withdrawal before the exit delay, settlement, decided rounds and no unrevealed commitment;
- the rules of a round never change once the round is inside the notice horizon;
- a refused call leaves the state exactly as it was.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from flchain.protocol import digests as dg
from flchain.protocol import machine as m

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine_world import BEACON, ETH, L, Update, World, make_world, wallet

WALLETS = [wallet(f"fuzz node {i}") for i in range(6)]
THIRD = wallet("fuzz third party")
NEW_GOV = wallet("fuzz new governor")
KINDS = ("good", "good", "cheat", "abnormal", "stale", "copy")
LABELS = ("honest", "honest", "rogue", "greedy")
VOTES = ("honest",) * 5 + ("rogue", "greedy")  # mostly honest, so that rounds become final
P = m.Phase


class MachineInvariants(RuleBasedStateMachine):
    @initialize()
    def deploy(self) -> None:
        rules = m.RulesV2(emission_wei=ETH // 2, notice_rounds=1, bounty_ppm=100_000)
        self.w: World = make_world(0, rules=rules, pool=3 * ETH)
        self.value_in = 3 * ETH
        for node, bond in zip(WALLETS[:3], (ETH, 2 * ETH, 3 * ETH), strict=True):
            self.w.call(m.process_register, node, value=bond)
            self.w.registered_at[node] = self.w.now
            self.value_in += bond
        self.commits: dict[tuple[int, str], tuple[Update, str]] = {}
        self.revealed_payloads: list[bytes] = []
        self.candidates: dict[int, dict[str, tuple[dict[str, m.Leaf], m.Result]]] = {}
        self.stake_seen: dict[tuple[str, int], int] = {}
        self.total_seen: dict[int, int] = {}
        self.rules_seen: dict[int, m.RulesV2] = {}
        self.finals: dict[int, int] = {}
        self.slashed: set[tuple[str, int, int]] = set()
        self.earned_final = 0

    # ------------------------------------------------------------ the one way to call

    @property
    def state(self) -> m.State:
        return self.w.state

    def do(
        self, fn: Callable[..., list[m.Event]], sender: str, *args: Any, value: int = 0
    ) -> list[m.Event] | None:
        before = copy.deepcopy(self.state)
        tx = m.Tx(sender, self.w.now, value)
        try:
            events = fn(self.state, tx, *args)
        except m.ProtocolError:
            assert self.state == before, f"{fn.__name__} changed the state and then refused"
            return None
        self.value_in += value
        self.check_transition(before, tx, events, fn, args)
        self.w.events.extend((self.w.now, e) for e in events)
        return events

    def check_transition(
        self,
        before: m.State,
        tx: m.Tx,
        events: list[m.Event],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
    ) -> None:
        d = before.deployment
        deposits = {tx.sender: tx.value} if fn in (m.process_register, m.process_add_bond) else {}
        falls: dict[str, int] = {}
        for e in events:
            if e.name == "Slashed":
                node, rnd, fault = e["node"], e["round"], e["fault"]
                n = before.nodes[node]
                if fault == m.Fault.NO_REVEAL:
                    key = (node, rnd, int(fault))
                    assert key not in self.slashed, "a no-reveal slashed twice"
                    self.slashed.add(key)
                    slot = before.rounds[rnd].slots[node]
                    assert slot.state == m.CommitState.COMMITTED and tx.timestamp >= d.reveal_end(
                        rnd
                    )
                elif fault == m.Fault.WRONG_VOTE:
                    key = (node, rnd, int(fault))
                    assert key not in self.slashed, "a wrong vote slashed twice"
                    self.slashed.add(key)
                    final = before.rounds[rnd].final_result
                    assert n.last_vote_round == rnd + 1
                    assert final != dg.ZERO32 and final != n.last_vote_hash
                else:
                    leaf = args[0]
                    latest = before.latest.round_plus_one
                    assert rnd == latest - 1 and leaf.cum_penalties > n.cum_penalties
                    assert n.settled_round < n.last_accepted_round <= latest
                    assert n.penalties_applied < n.accepted_reveals
                falls[node] = falls.get(node, 0) + e["amount"]
            elif e.name == "Withdrawn":
                node = e["node"]
                n = before.nodes[node]
                assert tx.timestamp >= n.withdrawable_at
                assert n.unrevealed == 0
                assert not m.node_lags(before, n, tx.timestamp)
                p = n.last_participated_round
                assert p == 0 or m.round_decided(before, p - 1, tx.timestamp)
                falls[node] = falls.get(node, 0) + e["amount"]
            elif e.name == "Finalized":
                rnd = e["round"]
                assert rnd not in self.finals, "two final results for one round"
                assert d.attest_open(rnd) <= tx.timestamp < d.deadline(rnd)
                self.finals[rnd] = tx.timestamp
                self.earned_final += args[1].round_earned
            elif e.name == "Attested":
                assert e["weight"] == before.nodes[e["node"]].stake.at(e["round"])
        for node, n in self.state.nodes.items():
            old = before.nodes[node].bond if node in before.nodes else 0
            assert n.bond == old + deposits.get(node, 0) - falls.get(node, 0), "a bond moved"

    # ------------------------------------------------------------ time and environment

    @rule(seconds=st.integers(1, 700))
    def advance(self, seconds: int) -> None:
        self.w.now += seconds

    @rule(phase=st.sampled_from([P.COMMIT, P.REVEAL, P.BEACON, P.ATTEST]))
    def next_phase(self, phase: m.Phase) -> None:
        d = self.state.deployment
        r = d.round_at(self.w.now)
        for rnd in (r, r + 1):
            start = {
                P.COMMIT: d.start(rnd),
                P.REVEAL: d.commit_end(rnd),
                P.BEACON: d.reveal_end(rnd),
                P.ATTEST: d.attest_open(rnd),
            }[phase]
            if start >= self.w.now:
                self.w.now = start
                return

    @rule(rounds=st.integers(1, 3))
    def skip_rounds(self, rounds: int) -> None:
        self.w.now += rounds * L

    @rule(i=st.integers(0, 5), on=st.booleans())
    def wallet_rejects_ether(self, i: int, on: bool) -> None:
        (self.state.rejecting.add if on else self.state.rejecting.discard)(WALLETS[i])

    # ------------------------------------------------------------ identity

    @rule(i=st.integers(0, 5), extra=st.sampled_from([0, ETH // 2, 2 * ETH, -1]))
    def register(self, i: int, extra: int) -> None:
        node = WALLETS[i]
        if self.do(m.process_register, node, value=ETH + extra):
            self.w.registered_at[node] = self.w.now

    @rule(i=st.integers(0, 5), amount=st.sampled_from([1, ETH // 10, ETH]))
    def add_bond(self, i: int, amount: int) -> None:
        self.do(m.process_add_bond, WALLETS[i], value=amount)

    @rule(i=st.integers(0, 5))
    def request_exit(self, i: int) -> None:
        self.do(m.process_request_exit, WALLETS[i])

    @rule(i=st.integers(0, 5))
    def withdraw(self, i: int) -> None:
        self.do(m.process_withdraw, WALLETS[i])

    @rule(i=st.integers(0, 5))
    def collect(self, i: int) -> None:
        self.do(m.process_collect, WALLETS[i])

    @rule(amount=st.sampled_from([0, ETH // 3, 2 * ETH]))
    def fund(self, amount: int) -> None:
        self.do(m.process_fund_pool, THIRD, value=amount)

    # ------------------------------------------------------------ a round

    @rule()
    def open_round(self) -> None:
        self.do(m.process_open_round, THIRD, self.w.round)

    @rule(i=st.integers(0, 5), kind=st.sampled_from(KINDS))
    def commit(self, i: int, kind: str) -> None:
        node, r = WALLETS[i], self.w.round
        payload = dg.keccak(f"{node} {r} {kind}".encode()) * 40
        base = self.state.latest.merged_digest
        roi = 100
        if kind == "abnormal":
            roi = 10**6 + 1
        elif kind == "stale":
            base = dg.sha256(b"a stale base")
        elif kind == "copy" and self.revealed_payloads:
            payload = self.revealed_payloads[-1]
        u = self.w.update(node, r, roi, payload, base)
        if self.do(m.process_commit, node, r, u.commitment()):
            self.commits[(r, node)] = (u, kind)

    @rule(i=st.integers(0, 5), tamper=st.booleans())
    def reveal(self, i: int, tamper: bool) -> None:
        node, r = WALLETS[i], self.w.round
        u, _ = self.commits.get((r, node), (self.w.update(node, r), "good"))
        salt = dg.keccak(u.salt) if tamper else u.salt
        if self.do(m.process_reveal, node, r, u.payload, u.base, u.roi_bps, salt):
            self.revealed_payloads.append(u.payload)

    @rule(i=st.integers(0, 5), good=st.booleans())
    def post_beacon(self, i: int, good: bool) -> None:
        r = self.w.round
        sig = BEACON.sign(m.beacon_round(self.state.deployment, r)) if good else b"\x01" * 95
        self.do(m.process_post_beacon, WALLETS[i], r, sig)

    def candidate(self, r: int, label: str) -> tuple[dict[str, m.Leaf], m.Result]:
        if r not in self.candidates:
            cheats = [
                n for (rr, n), (_, kind) in self.commits.items() if rr == r and kind == "cheat"
            ]
            honest = self.w.table_for(r, penalised=cheats)
            rogue = self.w.table_for(r, penalised=list(self.state.node_at))
            reserved = self.state.rounds.get(r, m.RoundState()).reserved
            merged = self.w.accepted(r)
            greedy = self.w.table_for(r, earned={merged[0]: reserved + 1} if merged else {})
            self.candidates[r] = {
                "honest": (honest, self.w.result_of(r, honest)),
                "rogue": (rogue, self.w.result_of(r, rogue, "rogue")),
                "greedy": (greedy, self.w.result_of(r, greedy, "greedy")),
            }
        return self.candidates[r][label]

    @rule(i=st.integers(0, 5), label=st.sampled_from(LABELS))
    def attest(self, i: int, label: str) -> None:
        r = self.w.round
        if self.state.deployment.phase_at(self.w.now)[1] != P.ATTEST:
            self.do(m.process_attest, WALLETS[i], r, self.w.result_of(r, {}, round_earned=0))
            return
        self.do(m.process_attest, WALLETS[i], r, self.candidate(r, label)[1])

    @rule(label=st.sampled_from(LABELS))
    def finalize(self, label: str) -> None:
        r = self.w.round
        if self.state.deployment.phase_at(self.w.now)[1] != P.ATTEST:
            self.do(m.process_finalize, THIRD, r, self.w.result_of(r, {}, round_earned=0))
            return
        table, result = self.candidate(r, label)
        if self.do(m.process_finalize, THIRD, r, result):
            self.w.tables[r] = table

    @rule(i=st.integers(0, 5), third=st.booleans())
    def settle(self, i: int, third: bool) -> None:
        node = WALLETS[i]
        sender = THIRD if third else node
        latest = self.state.latest.round_plus_one
        if latest and node in self.w.tables.get(latest - 1, {}):
            leaf, proof = self.w.proof(node)
        else:
            leaf, proof = m.Leaf(node, 0), (dg.ZERO32,) * 16
        self.do(m.process_settle, sender, leaf, proof)

    @rule(i=st.integers(0, 5), back=st.integers(0, 3), third=st.booleans())
    def slash_no_reveal(self, i: int, back: int, third: bool) -> None:
        node = WALLETS[i]
        self.do(
            m.process_slash_no_reveal, THIRD if third else node, max(self.w.round - back, 0), node
        )

    # ------------------------------------------------------------ everyone at once
    # (so that runs reach finality, settlement and slashing; the rules above still mix in
    # every deviation one call at a time)

    def frozen(self) -> list[str]:
        r = self.w.round
        return [n for n in WALLETS if m.get_stake_of(self.state, n, r) > 0]

    @rule(kinds=st.lists(st.sampled_from(KINDS), min_size=6, max_size=6))
    def everyone_commits(self, kinds: list[str]) -> None:
        self.next_phase(P.COMMIT)
        for i, node in enumerate(WALLETS):
            if node in self.frozen():
                self.commit(i, kinds[i])

    @rule(skip=st.lists(st.booleans(), min_size=6, max_size=6))
    def everyone_reveals(self, skip: list[bool]) -> None:
        self.next_phase(P.REVEAL)
        for i in range(6):
            if not skip[i]:
                self.reveal(i, False)

    @rule(labels=st.lists(st.sampled_from(VOTES), min_size=6, max_size=6))
    def everyone_attests(self, labels: list[str]) -> None:
        self.next_phase(P.ATTEST)
        for i, node in enumerate(WALLETS):
            if node in self.frozen():
                self.attest(i, labels[i])

    @rule(
        kinds=st.lists(st.sampled_from(KINDS), min_size=6, max_size=6),
        skip=st.lists(st.sampled_from([False, False, False, True]), min_size=6, max_size=6),
        labels=st.lists(st.sampled_from(VOTES), min_size=6, max_size=6),
        settle_first=st.booleans(),
        slash_after=st.booleans(),
    )
    def a_whole_round(
        self,
        kinds: list[str],
        skip: list[bool],
        labels: list[str],
        settle_first: bool,
        slash_after: bool,
    ) -> None:
        self.next_phase(P.COMMIT)
        if settle_first:
            self.everyone_settles(False)
        self.open_round()
        self.everyone_commits(kinds)
        self.everyone_reveals(skip)
        self.next_phase(P.BEACON)
        self.post_beacon(0, True)
        self.everyone_attests(labels)
        self.finalize("honest")
        if slash_after:
            self.every_no_reveal_slashed(True)

    @rule(third=st.booleans())
    def every_no_reveal_slashed(self, third: bool) -> None:
        for i in range(6):
            for back in range(4):
                self.slash_no_reveal(i, back, third)

    @rule(i=st.integers(0, 5))
    def a_node_leaves(self, i: int) -> None:
        """Exit, wait out the delay, settle, clear its no-reveals, withdraw, collect."""
        self.request_exit(i)
        self.skip_rounds(2)
        self.settle(i, False)
        for back in range(4):
            self.slash_no_reveal(i, back, False)
        self.withdraw(i)
        self.state.rejecting.discard(WALLETS[i])
        self.collect(i)

    @rule(third=st.booleans())
    def everyone_settles(self, third: bool) -> None:
        for i in range(6):
            self.settle(i, third)

    # ------------------------------------------------------------ governance

    @rule(
        ahead=st.integers(0, 3),
        notice=st.integers(1, 3),
        slash=st.sampled_from([0, ETH // 20, ETH // 2]),
    )
    def schedule_rules(self, ahead: int, notice: int, slash: int) -> None:
        d = self.state.deployment
        current = m.get_rules_for_round(self.state, d.round_at(self.w.now))
        effective = d.effective_round(self.w.now) + current.notice_rounds + ahead - 1
        rules = m.RulesV2(
            effective_round=effective,
            notice_rounds=notice,
            no_reveal_slash_wei=slash,
            emission_wei=ETH // (1 + ahead),
        )
        self.do(m.process_schedule_rules, self.state.governor, rules)

    @rule()
    def cancel_rules(self) -> None:
        self.do(m.process_cancel_rules, self.state.governor)

    # a maximal pause freezes the rest of a run, so it is one choice in eight
    @rule(duration=st.sampled_from([1, L, L, 2 * L, 2 * L, 3 * L, m.MAX_PAUSE + 1, m.MAX_PAUSE]))
    def pause(self, duration: int) -> None:
        self.do(m.process_pause, self.state.governor, duration)

    @rule()
    def unpause(self) -> None:
        self.do(m.process_unpause, self.state.governor)

    @rule(to_third=st.booleans())
    def transfer_governance(self, to_third: bool) -> None:
        self.do(m.process_transfer_governance, self.state.governor, THIRD if to_third else NEW_GOV)

    @rule(who=st.sampled_from([THIRD, NEW_GOV]))
    def accept_governance(self, who: str) -> None:
        self.do(m.process_accept_governance, who)

    # ------------------------------------------------------------ invariants

    @invariant()
    def accounts_back_the_balance(self) -> None:
        s = self.state
        acc = m.get_accounts(s)
        assert min(acc.bonds, acc.pool, acc.reserved, acc.claimable) >= 0
        assert s.balance == acc.total
        assert acc.bonds == sum(n.bond for n in s.nodes.values())
        out = sum(t.amount for t in s.transfers)
        assert s.balance == self.value_in - out

    @invariant()
    def weights_are_constant_within_a_round(self) -> None:
        if self.w.now < self.state.deployment.t0:
            return  # round 0's set is frozen when it starts, not before
        r = self.w.round
        for node in self.state.node_at:
            stake = m.get_stake_of(self.state, node, r)
            assert self.stake_seen.setdefault((node, r), stake) == stake
        total = m.get_round_view(self.state, r).total_stake
        assert self.total_seen.setdefault(r, total) == total

    @invariant()
    def claims_stay_within_what_final_rounds_reserved(self) -> None:
        claimed = sum(n.claimed for n in self.state.nodes.values())
        final_rounds = [r for r, rs in self.state.rounds.items() if rs.final_result != dg.ZERO32]
        reserved = sum(self.state.rounds[r].reserved for r in final_rounds)
        assert claimed <= self.earned_final <= reserved
        assert self.earned_final - claimed == m.get_accounts(self.state).claimable

    @invariant()
    def rules_never_change_inside_their_notice(self) -> None:
        s = self.state
        d = s.deployment
        c = d.round_at(self.w.now)
        horizon = d.effective_round(self.w.now) + m.get_rules_for_round(s, c).notice_rounds
        for v in s.rules:
            if v.effective_round > c:
                horizon = min(horizon, v.effective_round + 1 + v.notice_rounds)
        for x in range(c, horizon):
            rules = m.get_rules_for_round(s, x)
            assert self.rules_seen.setdefault(x, rules) == rules, f"round {x}'s rules changed"

    @invariant()
    def one_final_result_per_round(self) -> None:
        for r, rs in self.state.rounds.items():
            if rs.final_result != dg.ZERO32:
                assert r in self.finals


MachineInvariants.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_machine_invariants = MachineInvariants.TestCase

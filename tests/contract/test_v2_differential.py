"""FLChainV2 against the reference machine (`flchain.protocol.machine`), call by call.

The committed artifact is deployed with web3 on the embedded chain (eth-tester on py-evm, time
moved with `time_travel`) and on anvil (`evm_setNextBlockTimestamp`, marked `anvil`); every call
runs on both the contract and the machine at the same block timestamp, and after every step
their outcomes (the custom error with its arguments, or the events with every field, in order)
and their views must be equal (`v2_harness`). A scenario walks every entry point once on
purpose; hypothesis then drives random sequences of them with time jumps.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    rule,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from v2_harness import (
    ETHER,
    AnvilChain,
    Chain,
    Differential,
    EmbeddedChain,
    Federation,
    Update,
    new_wallets,
)

from flchain.devnet.anvil import AnvilProcess, DevChainError
from flchain.protocol import digests as dg
from flchain.protocol import machine as m
from flchain.protocol.beacon import DevnetBeacon

ROUND, COMMIT, REVEAL, BEACON_WINDOW = 1_000, 400, 300, 100
GENESIS = b"genesis model"
BEACON = DevnetBeacon(b"v2 differential")
DAG_PB = bytes([0x01, 0x70, 0x12, 0x20])
FULL_SWEEP_EVERY = 8  # steps between two comparisons of every view


def deployment(now: int, **changes: Any) -> m.Deployment:
    """A deployment whose round 0 starts 1 000 s after `now`."""
    t0 = now + 1_000
    values: dict[str, Any] = dict(
        t0=t0,
        round_length=ROUND,
        commit_window=COMMIT,
        reveal_window=REVEAL,
        beacon_window=BEACON_WINDOW,
        exit_delay=2 * ROUND,
        min_notice_rounds=1,
        min_bond=ETHER,
        genesis_digest=dg.sha256(GENESIS),
        genesis_cid=dg.raw_leaf_cid(dg.sha256(GENESIS)),
        beacon_genesis=t0 - 100,
        beacon_period=3,
        beacon_delay=10,
        beacon_public_key=BEACON.public_key,
    )
    values.update(changes)
    return m.Deployment(**values)


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def chain(request: pytest.FixtureRequest) -> Iterator[Chain]:
    if request.param == "embedded":
        yield EmbeddedChain()
        return
    try:
        proc = AnvilProcess().start()
    except DevChainError as exc:  # only a missing binary is a skip
        if "not found" in str(exc):
            pytest.skip(str(exc))
        raise
    try:
        yield AnvilChain(proc.url)
    finally:
        proc.stop()


def test_a_federation_agrees_with_the_machine(chain: Chain) -> None:
    """Every entry point, in the situations that matter, on purpose: a full round with a
    penalty, a wrong vote and a withheld reveal; settlement by the node and by a third party
    (bounty), a wallet that refuses ether settled and collecting once it accepts; exits,
    withdrawals too early and on time; rules with notice, cancellation, pause, governance."""
    gov, a, b, c, third, operator = new_wallets(chain, 6)
    rules = m.RulesV2(emission_wei=ETHER, notice_rounds=1)
    d, _ = Differential.deploy(
        chain, deployment(chain.latest_timestamp()), rules, [a, b, c, third, operator], gov
    )
    fed = Federation(d)
    D = d.state.deployment
    A, B, C, T, G = a.address, b.address, c.address, third.address, gov.address
    W = d.add_contract_wallet(operator.address)
    nodes = [A, B, C, W]

    for n in (A, B, C):
        d.act("register", n, value=ETHER)
    d.act("register", W, value=2 * ETHER)
    d.act("register", A, value=ETHER)  # AlreadyRegistered
    d.act("register", T, value=ETHER - 1)  # BondTooSmall
    d.act("requestExit", T)  # NotActive
    d.act("addBond", A, value=ETHER // 2)
    d.act("fundPool", T, value=5 * ETHER)
    d.act("commit", A, 0, b"\x11" * 32)  # NotInCommitWindow: before T0
    d.act("openRound", T, 0)  # NotOpenable
    d.act("requestExit", A, value=1)  # not payable: reverts without data
    d.check_views([*nodes, T], [0])

    # round 0: A, B, W commit and reveal; C commits and withholds
    d.act("openRound", T, 0, at=D.start(0) + 1)
    d.act("openRound", T, 0)  # RoundAlreadyOpen
    updates = {n: fed.update(n, 0) for n in (A, B, C, W)}
    for n, u in updates.items():
        d.act("commit", n, 0, fed.commitment(u))
    d.act("commit", A, 0, fed.commitment(updates[A]))  # AlreadyCommitted
    d.act("commit", T, 0, b"\x22" * 32)  # NotInFrozenSet
    d.act("reveal", A, *updates[A].reveal_args())  # NotInRevealWindow
    d.check_views(nodes, [0])
    d.act("reveal", A, *updates[A].reveal_args(), at=D.commit_end(0))
    wrong_salt = Update(B, 0, updates[B].payload, updates[B].base, 100, b"\x01" * 32)
    d.act("reveal", B, *wrong_salt.reveal_args())  # CommitmentMismatch
    d.act("reveal", B, *updates[B].reveal_args())
    d.act("reveal", W, *updates[W].reveal_args())
    d.act("reveal", A, *updates[A].reveal_args())  # AlreadyRevealed
    d.act("reveal", T, *updates[A].reveal_args())  # NoCommitment
    d.act("slashNoReveal", T, 0, C)  # NotSlashable: the reveal window is open
    signature = BEACON.sign(m.beacon_round(D, 0))
    d.act("postBeacon", A, 0, signature, at=D.reveal_end(0))
    d.act("postBeacon", A, 0, signature)  # BeaconAlreadyPosted
    d.act("postBeacon", B, 0, signature[:95])  # InvalidBeaconSignature
    d.act("postBeacon", T, 0, signature)  # NotInFrozenSet
    d.check_views(nodes, [0])

    # the honest result penalises B; C votes for another result (a wrong vote)
    table = fed.table_for(0, penalised=[B])
    honest = fed.result_of(0, table)
    rogue = fed.result_of(0, fed.table_for(0), label="rogue")
    d.act("attest", A, 0, honest, at=D.attest_open(0))
    d.act("attest", A, 0, honest)  # AlreadyAttested
    d.act("finalize", T, 0, honest)  # BelowFinality
    bad_cid = m.Result(
        honest.merged_digest, DAG_PB[:3] + honest.merged_digest, DAG_PB, dg.ZERO32, 0
    )
    d.act("attest", B, 0, bad_cid)  # InvalidCid
    mismatch = m.Result(dg.sha256(b"x"), honest.merged_cid, honest.manifest_cid, dg.ZERO32, 0)
    d.act("attest", B, 0, mismatch)  # CidDigestMismatch
    d.act("attest", B, 0, honest)
    d.act("attest", C, 0, rogue)
    d.act("finalize", T, 0, honest)  # BelowFinality: 2.5 of 5.5 ETH
    d.act("attest", W, 0, honest)
    d.act("finalize", T, 0, fed.result_of(0, table, label="greedy"))  # BelowFinality: no votes
    d.act("finalize", T, 0, honest)
    fed.tables[0] = table
    d.act("finalize", T, 0, honest)  # AlreadyFinal
    d.act("slashNoReveal", T, 0, C)
    d.act("slashNoReveal", T, 0, C)  # NotSlashable: slashed already
    d.check_views(nodes, [0], results=[(0, d.state.rounds[0].final_result)])

    # round 1: settlement, the lag rule, the refusing wallet
    d.act("commit", A, 1, b"\x33" * 32, at=D.start(1) + 1)  # SettlementPending
    leaf, proof = fed.proof(A)
    d.act("settle", A, leaf, (*proof[:-1], b"\x01" * 32))  # InvalidProof
    d.act("settle", A, leaf, proof)
    d.act("settle", A, leaf, proof)  # AlreadySettled
    penalty = d.act("settle", T, *fed.proof(B))  # by a third party: B's penalty, T's bounty
    wrong_vote = d.act("settle", T, *fed.proof(C))  # C's wrong vote, lazily
    d.set_refusing(W, True)
    settled = d.act("settle", W, *fed.proof(W))  # no transfer: the refusal cannot block it
    refused = d.act("collect", W)  # TransferFailed
    d.act("collect", T)  # NothingOwed
    d.set_refusing(W, False)
    collected = d.act("collect", W)
    d.act("collect", W)  # NothingOwed: collected already
    d.act("collect", A)  # A's own reward
    d.check_views([*nodes, T], [0, 1])
    assert [e for e, _ in penalty.events] == ["Slashed", "Settled"]
    assert penalty.events[0][1][2:5] == (
        m.Fault.PENALTY,
        rules.penalty_slash_wei,
        rules.penalty_slash_wei // 10,
    )
    assert wrong_vote.events[0][1][2:4] == (m.Fault.WRONG_VOTE, rules.wrong_vote_slash_wei)
    assert [e for e, _ in settled.events] == ["Settled"]
    assert refused.error == ("TransferFailed", ())
    assert collected.events == (("Collected", (W, ETHER // 2)),)

    # exits and withdrawals
    d.act("requestExit", B)
    d.act("withdraw", B)  # WithdrawalTooEarly
    d.act("withdraw", A)  # NotExiting
    d.act("commit", B, 1, fed.commitment(fed.update(B, 1)))  # an exit lets it finish round 1
    d.act("withdraw", B, at=d.state.nodes[B].withdrawable_at)  # UnrevealedCommitment
    d.act("slashNoReveal", B, 1, B)  # its own: no bounty
    d.act("withdraw", B)
    d.act("register", B, value=ETHER)  # WalletRetired

    # governance
    d.act("scheduleRules", T, m.RulesV2(effective_round=9))  # NotGovernor
    now_round = D.round_at(chain.latest_timestamp() + 1)
    d.act("scheduleRules", G, m.RulesV2(effective_round=now_round + 1))  # NoticeTooShort
    d.act("scheduleRules", G, m.RulesV2(effective_round=now_round + 5, finality_ppm=500_000))
    d.act("scheduleRules", G, m.RulesV2(effective_round=now_round + 5, notice_rounds=3))
    d.act("scheduleRules", G, m.RulesV2(effective_round=now_round + 4, notice_rounds=3))
    d.act("cancelRules", G)
    d.act("cancelRules", G)  # NothingToCancel
    d.act("scheduleRules", G, m.RulesV2(effective_round=now_round + 2, emission_wei=ETHER // 4))
    d.act("pause", G, 0)  # PauseNotAllowed(0)
    d.act("unpause", G)  # NotPaused
    d.act("pause", G, ROUND)
    d.act("pause", G, ROUND)  # PauseNotAllowed(until + cooldown)
    d.act("unpause", G)
    d.act("transferGovernance", G, "0x" + "00" * 20)  # ZeroAddress
    d.act("transferGovernance", G, T)
    d.act("acceptGovernance", A)  # NotPendingGovernor
    d.act("acceptGovernance", T)
    assert d.act("cancelRules", T, at=D.start(now_round + 2)).error == ("RulesInEffect", (1,))
    d.check_views([*nodes, T, G], range(now_round + 3))
    assert d.state.rounds[0].final_result == honest.hash(d.chain_id, d.state.contract, 0)
    assert d.state.nodes[C].bond == ETHER - rules.no_reveal_slash_wei - rules.wrong_vote_slash_wei


def test_a_copied_payload_is_accepted_by_both(chain: Chain) -> None:
    """No duplicate rule on chain: a byte-for-byte copy of another node's update and a copy of
    the base (here the genesis model) are Accepted by the contract and the machine alike (the
    merge penalises them: an update's metadata names its own reveal)."""
    gov, a, b, c = new_wallets(chain, 4)
    d, _ = Differential.deploy(
        chain, deployment(chain.latest_timestamp()), m.RulesV2(), [a, b, c], gov
    )
    fed = Federation(d)
    D = d.state.deployment
    A, B, C = a.address, b.address, c.address
    for n in (A, B, C):
        d.act("register", n, value=ETHER)
    original = fed.update(A, 0)
    updates = [
        original,
        fed.update(B, 0, payload=original.payload),
        fed.update(C, 0, payload=GENESIS),
    ]
    for i, u in enumerate(updates):
        d.act("commit", u.node, 0, fed.commitment(u), at=D.start(0) + 1 + i)
    revealed = [
        d.act("reveal", u.node, *u.reveal_args(), at=D.commit_end(0) + i)
        for i, u in enumerate(updates)
    ]
    assert [o.events[0][0] for o in revealed] == ["Revealed"] * 3
    assert [o.events[0][1][6] for o in revealed] == [m.RevealOutcome.ACCEPTED] * 3
    assert fed.accepted(0) == sorted([A, B, C])
    d.check_views([A, B, C], [0])


#: a node whose address holds the bytes eb 27 and no 22: Python writes its revert data as b"…\xeb'…",
#: whose b' was read as the repr's start (the lost branch's `attest` "refused with an empty
#: revert" where the machine said AlreadyAttested: the data was there, the reading lost it)
QUOTE_KEY = bytes.fromhex("dc55ca52089344726641a667b06e2bb72634fbf44fbc82987c31620f7271b9c3")


def test_a_refusal_naming_a_node_whose_address_reads_as_a_quote_agrees(chain: Chain) -> None:
    from eth_account import Account

    from flchain.ledger.revert import revert_data

    node = Account.from_key(QUOTE_KEY)
    assert node.address == "0x0a85F3615390a73eEb27E957c1C1cB7498459b3c"
    data = bytes.fromhex("deadbeef") + bytes(12) + bytes.fromhex(node.address[2:])
    assert revert_data(Exception(f"execution reverted: {data!r}")) == data
    chain.fund(node.address, 10 * ETHER)
    (gov,) = new_wallets(chain, 1)
    rules = m.RulesV2(emission_wei=ETHER, notice_rounds=1)
    d, _ = Differential.deploy(chain, deployment(chain.latest_timestamp()), rules, [node], gov)
    d.act("register", node.address, value=ETHER)
    refused = d.act("register", node.address, value=ETHER)
    assert refused.error == ("AlreadyRegistered", (node.address,))
    assert d.act("requestExit", node.address, value=1).raised  # an empty revert says what it was


def test_funding_adds_to_a_balance(chain: Chain) -> None:
    """`warp` funds the third party 1 ETH to mine a block; on anvil that once set its balance to
    1 ETH, and the differential's next fundPool(2 ETH) failed as the node's "insufficient funds"
    (read as an empty revert) — replayed from seed 11144 once the wallets followed the seed."""
    (who,) = new_wallets(chain, 1, wei=5 * ETHER)
    chain.fund(who.address, ETHER)
    assert chain.w3.eth.get_balance(who.address) == 6 * ETHER


def test_forward_windows_agree_with_the_machine(chain: Chain) -> None:
    """§15.2 on purpose: posts before the window closed, empty and oversized windows, a post
    forwarded by a contract wallet and the same bytes posted again directly (and again after
    acceptance: re-posting never changes a tally), two rival windows; votes carried on commits
    — for the wrong round, for a window nobody posted, split — until one window reaches the
    finality share; posts after the votes closed; a round whose rules score nothing forward.
    Events come from the forward box."""
    gov, a, b, c, third = new_wallets(chain, 5)
    # C + R + (1 + 2)·900 = 3 400 s ≤ 4 rounds of 1 000 s: one scored bar, votes in round 4
    rules = m.RulesV2(notice_rounds=1, forward_bars=1, forward_lag_rounds=4)
    d, _ = Differential.deploy(
        chain, deployment(chain.latest_timestamp()), rules, [a, b, c, third], gov
    )
    fed = Federation(d)
    D = d.state.deployment
    A, B, C, T, G = a.address, b.address, c.address, third.address, gov.address
    for n in (A, B, C):
        d.act("register", n, value=ETHER)
    w1, w2 = b"window one" * 40, b"window two" * 40
    h1, h2 = dg.sha256(w1), dg.sha256(w2)
    d.act("scheduleRules", G, m.RulesV2(effective_round=2, notice_rounds=1, forward_lag_rounds=4))
    for bad in (  # RuleOutOfBounds in RulesCheckV2, the contract the constructor created
        {"forward_bars": 1, "forward_lag_rounds": 3},  # 3 rounds do not cover 3 400 s
        {"forward_bars": 1, "forward_lag_rounds": 4, "forward_trail_rounds": 0},
        {"forward_bars": 1_001},
        {"norm_bound_rel_ppm": 100_000_001},
    ):
        d.act("scheduleRules", G, m.RulesV2(effective_round=3, notice_rounds=1, **bad))
    d.act(
        "scheduleRules",
        G,
        m.RulesV2(effective_round=3, forward_lag_rounds=0, forward_trail_rounds=0),
    )
    d.act("cancelRules", G)
    d.act("commit", A, 0, fed.commitment(fed.update(A, 0)), at=D.start(0) + 1)

    close = m.forward_close_of(d.state, 0)
    d.act("postForward", T, 0, w1, at=close - 1)  # ForwardTooEarly
    d.act("postForward", T, 0, b"", at=close)  # ForwardTooLarge: empty
    d.act("postForward", T, 0, b"\x01" * (65_536 + 1))  # ForwardTooLarge
    d.act("postForward", T, 0, w1, value=1)  # not payable
    W = d.add_contract_wallet(T)
    forwarded = d.act("postForward", W, 0, w1)  # through a contract: its input is W's exec
    posted = d.act("postForward", T, 0, w1)  # the same bytes again, directly: accepted
    again = d.act("postForward", A, 0, w1)
    d.act("postForward", B, 0, w2)
    d.act("postForward", T, 2, w1)  # ForwardScoringOff: round 2's rules (checked first)
    d.check_views([A, B, C, T], [0], windows=[(0, h1), (0, h2)])
    assert forwarded.events == (("ForwardPosted", (0, h1, W, len(w1))),)
    assert posted.events == (("ForwardPosted", (0, h1, T, len(w1))),)
    assert again.events == (("ForwardPosted", (0, h1, A, len(w1))),)

    vote = D.start(4) + 1
    ua, ub, uc = (fed.update(n, 4) for n in (A, B, C))
    d.act("commitWithForward", A, 4, fed.commitment(ua), 1, h1, at=vote)  # NotForwardVoteRound
    d.act("commitWithForward", A, 4, fed.commitment(ua), 4, h1)  # NotForwardVoteRound
    d.act("commitWithForward", A, 4, fed.commitment(ua), 0, dg.sha256(b"x"))  # ForwardNotPosted
    d.act("commitWithForward", T, 4, fed.commitment(ua), 0, h1)  # NotInFrozenSet first
    first = d.act("commitWithForward", A, 4, fed.commitment(ua), 0, h1)
    d.act("commitWithForward", A, 4, fed.commitment(ua), 0, h1)  # AlreadyCommitted
    d.act("commitWithForward", B, 4, fed.commitment(ub), 0, h2)
    last = d.act("commitWithForward", C, 4, fed.commitment(uc), 0, h1)
    d.check_views([A, B, C], [0, 4], windows=[(0, h1), (0, h2)])
    assert [e for e, _ in first.events] == ["Committed", "ForwardVoted"]
    assert [e for e, _ in last.events] == ["Committed", "ForwardVoted", "ForwardAccepted"]
    assert m.get_forward_window_of(d.state, 0) == h1
    repost = d.act("postForward", B, 0, w1)  # after acceptance, votes open: tallies unchanged
    assert repost.events == (("ForwardPosted", (0, h1, B, len(w1))),)
    d.check_views([A, B, C], [0, 4], windows=[(0, h1), (0, h2)])
    d.act("postForward", T, 0, w1, at=D.commit_end(4))  # ForwardVoteClosed, a re-post too
    d.act("postForward", T, 0, b"late" * 10)  # ForwardVoteClosed
    assert m.forward_close_of(d.state, 1) < D.commit_end(4)
    d.act("postForward", T, 1, b"late" * 10)  # round 1's posts are open until commitEnd(5)
    d.check_views([T], [1], windows=[(1, dg.sha256(b"late" * 10))])


# ---------------------------------------------------------------- random sequences


class DifferentialMachine(RuleBasedStateMachine):
    """Random sequences of every entry point, on the contract and the machine at once.

    Calls are steered the way the forge handler steers them: a round action first moves time
    to a window where it can succeed (time never goes back), most arguments are valid, and
    results are chosen among a few so that attestations collide and rounds become final —
    while every refusal on the way is compared too."""

    chain: Chain
    base_snapshot: Any
    steps = 0
    seen: dict[tuple[str, str], int] = {}  # noqa: RUF012 - the run's coverage, across examples

    @initialize(seed=st.integers(0, 2**64 - 1))
    def deploy(self, seed: int) -> None:
        chain = type(self).chain
        chain.revert(type(self).base_snapshot)
        type(self).base_snapshot = chain.snapshot()
        # the wallets come from the example's data, so its blob replays it exactly
        gov, third, *nodes = new_wallets(chain, 7, seed=seed)
        rules = m.RulesV2(emission_wei=ETHER // 2, notice_rounds=1, bounty_ppm=100_000)
        self.d, _ = Differential.deploy(
            chain, deployment(chain.latest_timestamp()), rules, [third, *nodes], gov
        )
        self.fed = Federation(self.d)
        self.gov, self.third = gov.address, third.address
        # the last node is a contract wallet that refuses ether while `refuse` says so
        self.nodes = [n.address for n in nodes[:-1]] + [
            self.d.add_contract_wallet(nodes[-1].address)
        ]
        self.updates: dict[tuple[int, str], Update] = {}
        self.results: dict[int, dict[str, tuple[dict[str, m.Leaf], m.Result]]] = {}
        self.d.act("fundPool", self.third, value=3 * ETHER)
        for node in self.nodes[:3]:
            self.d.act("register", node, value=ETHER)

    # ------------------------------------------------------------ time

    @property
    def D(self) -> m.Deployment:
        return self.d.state.deployment

    @property
    def next_ts(self) -> int:
        return self.d.chain.latest_timestamp() + 1

    def window(self, phase: m.Phase, later: bool) -> int | None:
        """A timestamp in `phase` of the current round (or, `later`, of the next one) if
        time has not passed it; else None (the call then runs at the next second)."""
        now = self.next_ts
        round = self.D.round_at(now) + (1 if later else 0)
        start = {
            m.Phase.COMMIT: self.D.start(round),
            m.Phase.REVEAL: self.D.commit_end(round),
            m.Phase.BEACON: self.D.reveal_end(round),
            m.Phase.ATTEST: self.D.attest_open(round),
        }[phase]
        return start + 1 if start + 1 >= now else None

    def warp(self, seconds: int) -> None:
        self.d.chain.set_next_timestamp(self.next_ts + seconds)
        self.d.chain.fund(self.third, ETHER)  # mines the block at that time

    # ------------------------------------------------------------ identity

    def register(self, i: int, extra: int) -> None:
        self.d.act("register", self.nodes[i], value=ETHER + extra - (1 if extra == 1 else 0))

    def add_bond(self, i: int, amount: int) -> None:
        self.d.act("addBond", self.nodes[i], value=amount)

    def request_exit(self, i: int) -> None:
        self.d.act("requestExit", self.nodes[i])

    def withdraw(self, i: int, steer: bool) -> None:
        node = self.d.state.nodes.get(self.nodes[i])
        at = None
        if steer and node is not None and node.status == m.Status.EXITING:
            at = max(self.next_ts, node.withdrawable_at)
        self.d.act("withdraw", self.nodes[i], at=at)

    def fund_pool(self, amount: int) -> None:
        self.d.act("fundPool", self.third, value=amount)

    # ------------------------------------------------------------ a round

    def open_round(self, later: bool, steer: bool) -> None:
        at = self.window(m.Phase.COMMIT, later) if steer else None
        round = self.D.round_at(at or self.next_ts)
        self.d.act("openRound", self.third, round, at=at)

    def commit(self, i: int, kind: str, later: bool, steer: bool) -> None:
        node = self.nodes[i]
        at = self.window(m.Phase.COMMIT, later) if steer else None
        ts = at or self.next_ts
        round = self.D.round_at(ts)
        if m.node_lags(self.d.state, self.d.state.nodes.get(node) or m.NodeState(0), ts):
            self.settle_node(node, node, at)
            at = None
        copied = [u.payload for (r, n), u in self.updates.items() if r < round]
        u = self.fed.update(
            node,
            round,
            roi_bps=90_000 if kind == "abnormal" else 100,
            base=b"\x05" * 32 if kind == "stale" else None,
            payload=copied[-1] if kind == "copy" and copied else None,
            label=kind,
        )
        if kind == "zero":  # below 2**16: not a commitment the contract can store
            self.d.act("commit", node, round, b"\x00" * 31 + b"\x07", at=at)
            return
        self.commit_update(node, round, u, at)

    def commit_update(self, node: str, round: int, u: Update, at: int | None) -> None:
        if self.d.act("commit", node, round, self.fed.commitment(u), at=at).ok:
            self.updates[(round, node)] = u

    def reveal(self, i: int, steer: bool, big: bool) -> None:
        node = self.nodes[i]
        at = self.window(m.Phase.REVEAL, False) if steer else None
        round = self.D.round_at(at or self.next_ts)
        u = self.updates.get((round, node)) or self.fed.update(node, round)
        if big:  # too large for the rules (16 KiB + 1) and not what was committed
            u = Update(
                u.node, u.round, b"\x01" * (m.MAX_PAYLOAD_BYTES + 1), u.base, u.roi_bps, u.salt
            )
        self.d.act("reveal", node, *u.reveal_args(), at=at)

    def post_beacon(self, i: int, steer: bool, valid: bool) -> None:
        at = self.window(m.Phase.BEACON, False) if steer else None
        round = self.D.round_at(at or self.next_ts)
        signature = BEACON.sign(m.beacon_round(self.D, round))
        self.d.act(
            "postBeacon", self.nodes[i], round, signature if valid else signature[:64], at=at
        )

    def candidates(self, round: int) -> dict[str, tuple[dict[str, m.Leaf], m.Result]]:
        """A few results for `round`, fixed once its attest window opens: honest (penalising
        a node whose reveal was accepted, some rounds), rogue and greedy (over budget)."""
        if round not in self.results:
            accepted = self.fed.accepted(round)
            penalised = accepted[:1] if round % 2 else []
            table = self.fed.table_for(round, penalised=penalised)
            self.results[round] = {
                "honest": (table, self.fed.result_of(round, table)),
                "rogue": (self.fed.table_for(round), self.fed.result_of(round, table, "rogue")),
                "greedy": (table, self.fed.result_of(round, table, "greedy", 10 * ETHER)),
            }
        return self.results[round]

    def attest(self, i: int, label: str, steer: bool) -> None:
        node = self.nodes[i]
        at = self.window(m.Phase.ATTEST, False) if steer else None
        ts = at or self.next_ts
        round = self.D.round_at(ts)
        if steer and m.node_lags(self.d.state, self.d.state.nodes.get(node) or m.NodeState(0), ts):
            self.settle_node(node, node, at)
            at = None
        self.d.act("attest", node, round, self.candidates(round)[label][1], at=at)

    def finalize(self, label: str, steer: bool) -> None:
        at = self.window(m.Phase.ATTEST, False) if steer else None
        round = self.D.round_at(at or self.next_ts)
        table, result = self.candidates(round)[label]
        if self.d.act("finalize", self.third, round, result, at=at).ok:
            self.fed.tables[round] = table

    def settle_node(self, node: str, sender: str, at: int | None) -> None:
        latest = self.d.state.latest.round_plus_one
        if latest == 0 or node not in self.fed.tables[latest - 1]:
            return
        self.d.act("settle", sender, *self.fed.proof(node), at=at)

    def settle(self, i: int, by_third: bool) -> None:
        self.settle_node(self.nodes[i], self.third if by_third else self.nodes[i], None)

    def slash_no_reveal(self, i: int, back: int, own: bool) -> None:
        """Mostly a commitment left unrevealed after its reveal window, as the machine has it."""
        now = self.next_ts
        due = [
            (r, n)
            for r, rs in self.d.state.rounds.items()
            for n, slot in rs.slots.items()
            if slot.state == m.CommitState.COMMITTED and now >= self.D.reveal_end(r)
        ]
        round, node = (
            due[i % len(due)]
            if due and back
            else (max(0, self.D.round_at(now) - back), self.nodes[i])
        )
        self.d.act("slashNoReveal", node if own else self.third, round, node)

    def refuse(self, refusing: bool) -> None:
        self.d.set_refusing(self.nodes[-1], refusing)

    def collect(self, i: int) -> None:
        self.d.act("collect", self.nodes[i])

    # ------------------------------------------------------------ governance

    def schedule_rules(self, ahead: int, notice: int, finality: int, by_gov: bool) -> None:
        effective = self.D.effective_round(self.next_ts) + ahead
        rules = m.RulesV2(
            effective_round=effective,
            notice_rounds=notice,
            finality_ppm=finality,
            emission_wei=ETHER // (1 + ahead),
        )
        self.d.act("scheduleRules", self.gov if by_gov else self.third, rules)

    def cancel_rules(self) -> None:
        self.d.act("cancelRules", self.gov)

    def pause(self, duration: int) -> None:
        self.d.act("pause", self.gov, duration)

    def unpause(self) -> None:
        self.d.act("unpause", self.gov)

    def governance(self, accept: bool) -> None:
        if accept:
            self.d.act("acceptGovernance", self.third)
            if self.d.state.governor == self.third:
                self.gov, self.third = self.third, self.gov
        else:
            self.d.act("transferGovernance", self.gov, self.third)

    # ------------------------------------------------------------ the one rule

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """One action, drawn with the weights of ACTIONS, and its arguments."""
        name = data.draw(WEIGHTED, label="action")
        args = {k: data.draw(v, label=k) for k, v in ACTIONS[name][1].items()}
        getattr(self, name)(**args)

    def honest_round(self, voters: int) -> None:
        """The round after this one as an honest federation runs it: whoever lags settles, the
        round opens, every frozen-set node commits and reveals, one posts the beacon, `voters`
        of them attest the honest result and anyone finalizes."""
        round = self.D.round_at(self.next_ts) + 1
        self.d.chain.set_next_timestamp(self.D.start(round) + 1)
        active = [n for n in self.nodes if m.get_stake_of(self.d.state, n, round) > 0]
        for node in active:
            self.settle_node(node, node, None)
        self.d.act("openRound", self.third, round)
        for node in active:
            self.commit_update(node, round, self.fed.update(node, round, label="honest"), None)
        committed = [n for n in active if (round, n) in self.updates]
        for k, node in enumerate(committed):
            at = self.D.commit_end(round) if k == 0 else None
            self.d.act("reveal", node, *self.updates[(round, node)].reveal_args(), at=at)
        if active:
            signature = BEACON.sign(m.beacon_round(self.D, round))
            self.d.act("postBeacon", active[0], round, signature, at=self.D.reveal_end(round))
        result = self.candidates(round)["honest"][1]
        for k, node in enumerate(active[:voters]):
            self.d.act(
                "attest", node, round, result, at=self.D.attest_open(round) if k == 0 else None
            )
        self.finalize("honest", steer=False)

    # ------------------------------------------------------------ views

    @invariant()
    def views_agree(self) -> None:
        """The views each call touched after every step; all of them every few steps."""
        if not hasattr(self, "d"):
            return
        type(self).steps += 1
        if type(self).steps % FULL_SWEEP_EVERY:
            self.d.check_touched()
            return
        self.sweep()

    def teardown(self) -> None:
        if hasattr(self, "d"):
            self.sweep()
            for key, count in self.d.seen.items():
                type(self).seen[key] = type(self).seen.get(key, 0) + count

    def sweep(self) -> None:
        current = self.D.round_at(self.next_ts)
        finals = [
            (r, s.final_result)
            for r, s in self.d.state.rounds.items()
            if s.final_result != dg.ZERO32
        ]
        tallies = [
            (r, res.hash(self.d.chain_id, self.d.state.contract, r))
            for r, by_label in self.results.items()
            for _, res in by_label.values()
        ]
        self.d.check_views(
            [*self.nodes, self.third],
            range(max(0, current - 2), current + 2),
            results=(finals + tallies)[-12:],
        )


NODE = st.integers(0, 4)
#: action → (weight, its arguments' strategies): round actions most, governance least
ACTIONS: dict[str, tuple[int, dict[str, st.SearchStrategy[Any]]]] = {
    "warp": (3, {"seconds": st.sampled_from([1, 7, 100, 450, ROUND, 3 * ROUND])}),
    "register": (3, {"i": NODE, "extra": st.sampled_from([0, 1, ETHER // 2])}),
    "add_bond": (2, {"i": NODE, "amount": st.sampled_from([0, ETHER // 10, ETHER])}),
    "request_exit": (1, {"i": NODE}),  # an exited node never comes back
    "withdraw": (3, {"i": NODE, "steer": st.booleans()}),
    "refuse": (1, {"refusing": st.booleans()}),
    "fund_pool": (2, {"amount": st.sampled_from([0, ETHER // 3, 2 * ETHER])}),
    "open_round": (3, {"later": st.booleans(), "steer": st.booleans()}),
    "commit": (
        10,
        {
            "i": NODE,
            "kind": st.sampled_from(["good", "good", "good", "abnormal", "stale", "copy", "zero"]),
            "later": st.booleans(),
            "steer": st.just(True) | st.booleans(),
        },
    ),
    "reveal": (9, {"i": NODE, "steer": st.just(True) | st.booleans(), "big": st.booleans()}),
    "post_beacon": (3, {"i": NODE, "steer": st.booleans(), "valid": st.booleans()}),
    "attest": (
        8,
        {
            "i": NODE,
            "label": st.sampled_from(["honest", "honest", "honest", "rogue", "greedy"]),
            "steer": st.just(True) | st.booleans(),
        },
    ),
    "finalize": (
        4,
        {"label": st.sampled_from(["honest", "honest", "rogue", "greedy"]), "steer": st.booleans()},
    ),
    "settle": (5, {"i": NODE, "by_third": st.booleans()}),
    "slash_no_reveal": (3, {"i": NODE, "back": st.integers(0, 3), "own": st.booleans()}),
    "collect": (2, {"i": NODE}),
    "honest_round": (3, {"voters": st.integers(1, 5)}),
    "schedule_rules": (
        3,
        {
            "ahead": st.integers(0, 4),
            "notice": st.integers(1, 3),
            "finality": st.sampled_from([m.DEFAULT_FINALITY_PPM, 800_000, 500_000]),
            "by_gov": st.booleans(),
        },
    ),
    "cancel_rules": (2, {}),
    "pause": (1, {"duration": st.sampled_from([0, 1, ROUND, 2 * ROUND, m.MAX_PAUSE + 1])}),
    "unpause": (1, {}),
    "governance": (1, {"accept": st.booleans()}),
}
WEIGHTED = st.sampled_from([name for name, (w, _) in ACTIONS.items() for _ in range(w)])


def _run_differential(chain: Chain, examples: int, steps: int) -> tuple[int, float]:
    DifferentialMachine.chain = chain
    DifferentialMachine.base_snapshot = chain.snapshot()
    DifferentialMachine.steps = 0
    DifferentialMachine.seen = {}
    started = time.monotonic()
    # a set seed runs other sequences (and wallets), as replayable as the derandomized default
    run_seed = os.environ.get("FLCHAIN_DIFF_SEED")
    test = get_state_machine_test(
        DifferentialMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            derandomize=run_seed is None,
            database=None,
            # no shrinking: on a chain it takes minutes, and the failure names its call already
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )
    if run_seed is not None:
        test = hypothesis_seed(int(run_seed))(test)
    test()
    return DifferentialMachine.steps, time.monotonic() - started


def test_random_sequences_agree(chain: Chain) -> None:
    """`FLCHAIN_DIFF_EXAMPLES` and `FLCHAIN_DIFF_STEPS` make it a long run (and
    `FLCHAIN_DIFF_SEED` a different one: hypothesis's seed, which draws the wallets too)."""
    examples, steps = (6, 50) if isinstance(chain, EmbeddedChain) else (4, 50)
    examples = int(os.environ.get("FLCHAIN_DIFF_EXAMPLES", examples))
    steps = int(os.environ.get("FLCHAIN_DIFF_STEPS", steps))
    done, seconds = _run_differential(chain, examples, steps)
    seen = DifferentialMachine.seen
    print(f"\ndifferential: {done} steps on {type(chain).__name__} in {seconds:.1f} s")
    for function in sorted({f for f, _ in seen}):
        outcomes = {what: n for (f, what), n in seen.items() if f == function}
        print(f"  {function}: " + ", ".join(f"{w} {n}" for w, n in sorted(outcomes.items())))
    assert done >= examples * steps // 2
    # the sequences reach the paths that matter, not only refusals
    for function in ("commit", "reveal", "attest", "finalize", "settle", "slashNoReveal"):
        assert seen.get((function, "ok"), 0) > 0, f"no {function} succeeded"


def test_sequences_agree_while_the_wall_clock_runs_ahead_of_the_chain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """py-evm opens each block at max(wall clock, parent + 1). A slow run reverts to its base
    snapshot while the wall clock moves on, and the harness must still run every call at the
    second it gives the machine (before the fix, a CI run's contract answered a later second
    than the machine). Here the wall clock runs 100 s ahead at every read, on purpose."""
    import itertools

    import eth._utils.headers as headers

    chain = EmbeddedChain()
    real, reads = headers.eth_now, itertools.count()
    monkeypatch.setattr(headers, "eth_now", lambda: real() + 100 * next(reads))
    done, _ = _run_differential(chain, 2, 40)
    assert done >= 40

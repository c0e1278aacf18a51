"""A FLChainV2 deployment driven through `LedgerV2` and the reference machine in lockstep.

`Twin.deploy(backend)` deploys the committed v2 artifact with `LedgerV2.deploy` and initialises
`flchain.protocol.machine` with the same deployment, rules, sender, chain id, address and block
timestamp. `twin.send(ledger, "reveal", *args)` sends the call through the ledger, then runs the
machine's `process_*` with `Tx(sender, block timestamp, value)` and requires the same events, in
order, field by field; `twin.refuse(ledger, name, ...)` requires a `ContractRevert` by name and
the machine's `ProtocolError` of the same name. `twin.expected_record(r)` is the machine's view
of round r as a `RoundRecordV2` — the machine's state at S(r) and its events, placed where the
chain logged them — to hold against `LedgerV2.round_record_v2(r)`.

Updates are real: the base model is a small `ModelConfig`'s initial weights, each node's update
a seeded perturbation of it (canonical safetensors, a few KB), its ROI claim the exact ROI the
merge recomputes on the shared benchmark.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from flchain.audit.judge_v2 import chain_doc, machine_doc
from flchain.backtest import roi_bps
from flchain.hashing import sha256_hex
from flchain.ledger import Backend, ContractRevert, LedgerV2, TxResult
from flchain.ledger.events import ChainEvent
from flchain.market.benchmark import Benchmark
from flchain.market.synthetic import synthetic_bars
from flchain.model import (
    ModelConfig,
    config_to_metadata,
    init_weights,
    perturb_weights,
    reference_positions,
)
from flchain.protocol import digests as dg
from flchain.protocol import machine as m
from flchain.protocol.beacon import DevnetBeacon
from flchain.protocol.record import RoundRecordV2
from flchain.protocol.types import (
    AttestationV2,
    BaseModelV2,
    BeaconParams,
    BeaconPost,
    FinalizedV2,
    RegisteredNode,
    RevealV2,
)
from flchain.storage.weights import encode_weights

ROUND, COMMIT, REVEAL, BEACON_WINDOW = 1_000, 400, 300, 100
ETHER = 10**18
BEACON = DevnetBeacon(b"flchain tests/ledger/v2")
FEE_PPM = 1_000
BASE_CONFIG = ModelConfig(hidden=8)

#: LedgerV2 method → (machine process, whether its first argument is the value sent)
PROCESS: dict[str, tuple[Callable[..., list[m.Event]], bool]] = {
    "register": (m.process_register, True),
    "add_bond": (m.process_add_bond, True),
    "fund_pool": (m.process_fund_pool, True),
    "request_exit": (m.process_request_exit, False),
    "withdraw": (m.process_withdraw, False),
    "collect": (m.process_collect, False),
    "open_round": (m.process_open_round, False),
    "commit": (m.process_commit, False),
    "reveal": (m.process_reveal, False),
    "post_beacon": (m.process_post_beacon, False),
    "attest": (m.process_attest, False),
    "finalize": (m.process_finalize, False),
    "settle": (m.process_settle, False),
    "slash_no_reveal": (m.process_slash_no_reveal, False),
    "schedule_rules": (m.process_schedule_rules, False),
    "cancel_rules": (m.process_cancel_rules, False),
    "transfer_governance": (m.process_transfer_governance, False),
    "accept_governance": (m.process_accept_governance, False),
    "pause": (m.process_pause, False),
    "unpause": (m.process_unpause, False),
    "commit_with_forward": (m.process_commit_with_forward, False),
    "post_forward": (m.process_post_forward, False),
}


# ---------------------------------------------------------------- model, market, updates


@cache
def base_weights() -> bytes:
    return encode_weights(init_weights(BASE_CONFIG), config_to_metadata(BASE_CONFIG))


@cache
def benchmark() -> Benchmark:
    return Benchmark.from_bars(synthetic_bars(420, seed=11), name="ledger-v2-tests")


def rules(**changes: Any) -> m.RulesV2:
    values: dict[str, Any] = {
        "fee_ppm": FEE_PPM,
        "similarity_threshold_ppm": 990_000,
        "emission_wei": ETHER,
        "notice_rounds": 1,
    }
    values.update(changes)
    return m.RulesV2(**values)


def deployment(now: int, **changes: Any) -> m.Deployment:
    """Round 0 starts `lead` (default 300) s after `now`."""
    lead = changes.pop("lead", 300)
    t0 = now + lead
    digest = dg.sha256(base_weights())
    values: dict[str, Any] = dict(
        t0=t0,
        round_length=ROUND,
        commit_window=COMMIT,
        reveal_window=REVEAL,
        beacon_window=BEACON_WINDOW,
        exit_delay=2 * ROUND,
        min_notice_rounds=1,
        min_bond=ETHER,
        genesis_digest=digest,
        genesis_cid=dg.raw_leaf_cid(digest),
        beacon_genesis=t0 - 100,
        beacon_period=3,
        beacon_delay=10,
        beacon_public_key=BEACON.public_key,
    )
    values.update(changes)
    return m.Deployment(**values)


@dataclass(frozen=True)
class Update:
    """One node's update for one round: the payload and what commit and reveal need."""

    round: int
    payload: bytes
    base_digest: bytes
    roi_bps: int
    salt: bytes

    @property
    def digest(self) -> bytes:
        return dg.sha256(self.payload)

    def reveal_args(self) -> tuple[int, bytes, bytes, int, bytes]:
        return self.round, self.payload, self.base_digest, self.roi_bps, self.salt


def make_update(
    round: int, seed: int, base: bytes | None = None, claim_offset: int = 0, *, node: str
) -> Update:
    """`node`'s seeded perturbation of `base` (default: the genesis model) for `round`, its
    metadata naming that reveal, with its exact ROI."""
    from flchain.protocol.binding import compute_binding_metadata
    from flchain.storage.weights import decode_weights

    base = base if base is not None else base_weights()
    tensors, _ = decode_weights(base)
    update = perturb_weights(tensors, seed, 200_000)
    config = BASE_CONFIG.model_copy(update={"base_digest": sha256_hex(base)})
    metadata = config_to_metadata(config) | compute_binding_metadata(node, round)
    payload = encode_weights(update, metadata)
    bench = benchmark()
    claim = roi_bps(
        bench.exec_prices, reference_positions(update, BASE_CONFIG, bench.bars), FEE_PPM
    )
    return Update(round, payload, dg.sha256(base), claim + claim_offset, secrets.token_bytes(32))


# ---------------------------------------------------------------- the twin


@dataclass
class Logged:
    """A machine event with the chain position of the log that matched it."""

    event: m.Event
    block_number: int
    log_index: int


@dataclass
class Twin:
    backend: Backend
    gov: LedgerV2
    state: m.State
    #: machine events by round argument, with where the chain logged them
    logged: list[Logged] = field(default_factory=list)
    #: (round, node) → the payload its reveal carried (None: sent so that it is unreadable)
    payloads: dict[tuple[int, str], bytes | None] = field(default_factory=dict)
    #: the machine's node list and latest model when each round started
    at_start: dict[int, tuple[list[str], m.Latest]] = field(default_factory=dict)

    @classmethod
    def deploy(
        cls,
        backend: Backend,
        rules_v2: m.RulesV2 | None = None,
        **deployment_changes: Any,
    ) -> Twin:
        gov_account = wallet(backend, 10**22)
        d = deployment(backend.latest_timestamp(), **deployment_changes)
        r = rules_v2 or rules()
        gov = LedgerV2.deploy(backend, gov_account, d, r)
        block = backend.w3.eth.get_block(gov.from_block)
        state, events = m.initialize_state(
            d, r, m.Tx(gov_account.address, int(block["timestamp"])), gov.chain_id, gov.address
        )
        twin = cls(backend, gov, state)
        logged = gov.events(to_block=gov.from_block)
        assert [chain_doc(e) for e in logged] == [machine_doc(e) for e in events]
        twin._log(events, logged)
        return twin

    @property
    def d(self) -> m.Deployment:
        return self.state.deployment

    def node(self, bond: int = ETHER, wei: int = 10**21) -> LedgerV2:
        """A funded wallet's ledger, registered with `bond` (0: not registered)."""
        ledger = self.gov.with_account(wallet(self.backend, wei))
        if bond:
            self.send(ledger, "register", bond)
        return ledger

    def stranger(self) -> LedgerV2:
        return self.node(bond=0)

    # ------------------------------------------------------------ calls

    def send(self, ledger: LedgerV2, method: str, *args: Any) -> TxResult:
        """Send `method(*args)` through `ledger` and the machine; the same events or fail."""
        process, takes_value = PROCESS[method]
        answer = getattr(ledger, method)(*args)
        tx: TxResult = answer[0] if isinstance(answer, tuple) else answer
        ts = ledger.block_timestamp(tx.block_number)
        value, rest = (args[0], args[1:]) if takes_value else (0, args)
        assert ledger.account is not None
        events = process(self.state, m.Tx(ledger.account.address, ts, value), *rest)
        assert [chain_doc(e) for e in tx.events] == [machine_doc(e) for e in events], method
        self._log(events, tx.events)
        return tx

    def refuse(self, ledger: LedgerV2, method: str, *args: Any, error: str) -> ContractRevert:
        """`method(*args)` is refused with custom error `error` by the contract and the
        machine alike (the machine's state is left as it was)."""
        process, takes_value = PROCESS[method]
        try:
            getattr(ledger, method)(*args)
        except ContractRevert as exc:
            refusal = exc
        else:
            raise AssertionError(f"{method} was not refused (expected {error})")
        assert refusal.error_name == error, (refusal.error_name, refusal.error_args)
        value, rest = (args[0], args[1:]) if takes_value else (0, args)
        assert ledger.account is not None
        tx = m.Tx(ledger.account.address, ledger.now() + 1, value)
        try:
            process(self.state, tx, *rest)
        except m.ProtocolError as err:
            assert err.name == error, (err.name, err.arguments)
        else:
            raise AssertionError(f"the machine accepted {method} the contract refused")
        return refusal

    def goto(self, round: int, phase: m.Phase, offset: int = 5) -> None:
        self.gov.goto(round, phase, offset)
        if phase == m.Phase.COMMIT:
            self.at_start.setdefault(round, (list(self.state.node_at), self.state.latest))

    def _log(self, events: list[m.Event], chain: tuple[ChainEvent, ...] | list[ChainEvent]) -> None:
        for e, c in zip(events, chain, strict=True):
            self.logged.append(Logged(e, c.block_number, c.log_index))

    # ------------------------------------------------------------ the machine's record

    def of_round(self, name: str, round: int) -> list[Logged]:
        return [x for x in self.logged if x.event.name == name and x.event["round"] == round]

    def expected_record(self, round: int) -> RoundRecordV2:
        """Round `round` as the machine saw it (call `goto(round, COMMIT)` at its start)."""
        nodes, latest = self.at_start[round]
        d = self.d
        base = BaseModelV2(
            round=latest.round_plus_one - 1,
            digest=latest.merged_digest,
            cid=latest.merged_cid,
            manifest_cid=latest.manifest_cid if latest.round_plus_one else None,
            settlement_root=latest.settlement_root,
        )
        rs = self.state.rounds.get(round) or m.RoundState()
        finals = self.of_round("Finalized", round)
        return RoundRecordV2(
            round=round,
            chain_id=self.state.chain_id,
            contract=self.state.contract,
            start=d.start(round),
            commit_end=d.commit_end(round),
            reveal_end=d.reveal_end(round),
            attest_open=d.attest_open(round),
            deadline=d.deadline(round),
            rules=m.get_rules_for_round(self.state, round),
            beacon=BeaconParams(
                genesis=d.beacon_genesis,
                period=d.beacon_period,
                delay=d.beacon_delay,
                public_key=d.beacon_public_key,
            ),
            reserved=rs.reserved,
            nodes=tuple(RegisteredNode(address=n, index=i) for i, n in enumerate(nodes)),
            base=base,
            reveals=tuple(
                RevealV2(
                    node=x.event["node"],
                    update_digest=x.event["updateDigest"],
                    base_digest=x.event["baseDigest"],
                    roi_bps=x.event["roiBps"],
                    salt=x.event["salt"],
                    outcome=x.event["outcome"],
                    block_number=x.block_number,
                    log_index=x.log_index,
                    payload=self.payloads.get((round, x.event["node"])),
                )
                for x in self.of_round("Revealed", round)
            ),
            beacon_posts=tuple(
                BeaconPost(
                    node=x.event["node"],
                    beacon_round=x.event["beaconRound"],
                    signature=x.event["signature"],
                    block_number=x.block_number,
                    log_index=x.log_index,
                )
                for x in self.of_round("BeaconPosted", round)
            ),
            attestations=tuple(
                AttestationV2(
                    node=x.event["node"],
                    result_hash=x.event["resultHash"],
                    weight=x.event["weight"],
                    result=m.Result(
                        x.event["mergedDigest"],
                        x.event["mergedCid"],
                        x.event["manifestCid"],
                        x.event["settlementRoot"],
                        x.event["roundEarned"],
                    ),
                    block_number=x.block_number,
                    log_index=x.log_index,
                )
                for x in self.of_round("Attested", round)
            ),
            committed=tuple(x.event["node"] for x in self.of_round("Committed", round)),
            forward_window=self.state.forward_window.get(round),
            finalized=None
            if not finals
            else FinalizedV2(
                result_hash=finals[0].event["resultHash"],
                tally=finals[0].event["tally"],
                total_stake=finals[0].event["totalStake"],
                block_number=finals[0].block_number,
                log_index=finals[0].log_index,
            ),
        )

    # ------------------------------------------------------------ a round's steps

    def commit(self, ledger: LedgerV2, update: Update) -> TxResult:
        c = ledger.commitment(
            update.round, update.digest, update.base_digest, update.roi_bps, update.salt
        )
        return self.send(ledger, "commit", update.round, c)

    def reveal(self, ledger: LedgerV2, update: Update) -> m.RevealOutcome:
        tx = self.send(ledger, "reveal", *update.reveal_args())
        assert ledger.account is not None
        self.payloads[(update.round, ledger.account.address)] = update.payload
        outcome = tx.events[-1].outcome  # type: ignore[attr-defined]
        assert isinstance(outcome, m.RevealOutcome)
        return outcome

    def check_views(self, nodes: list[str], rounds: list[int]) -> None:
        """Every view the contract answers equals the machine's (at the latest block)."""
        g, s = self.gov, self.state
        now = g.now()
        assert g.deployment() == m.get_deployment(s)
        assert g.protocol_version() == m.get_protocol_version(s)
        assert g.current_phase() == m.get_current_phase(s, now)
        assert g.phase_at(now + 7) == m.get_phase_at(s, now + 7)
        assert g.latest() == m.get_latest(s)
        assert g.accounts() == m.get_accounts(s)
        assert g.governor() == m.get_governor(s)
        assert g.pending_governor() == m.get_pending_governor(s)
        assert g.pause_window() == m.get_pause_window(s)
        assert g.node_count() == m.get_node_count(s)
        count = g.rules_version_count()
        assert count == m.get_rules_version_count(s)
        assert [g.rules_version(v) for v in range(count)] == s.rules
        for i in range(m.get_node_count(s) + 1):
            assert g.node_at(i) == m.get_node_at(s, i)
        current = s.deployment.round_at(now)
        for node in nodes:
            assert g.node_view(node) == m.get_node_view(s, node, now), node
            assert g.is_eligible(node, current) == m.get_is_eligible(s, node, current)
            for r in (current, current + 1):
                assert g.stake_of(node, r) == m.get_stake_of(s, node, r)
            for r in rounds:
                assert g.commitment_of(r, node) == m.get_commitment_of(s, r, node)
                assert g.has_posted_beacon(r, node) == m.get_has_posted_beacon(s, r, node)
        for r in rounds:
            assert g.round_view(r) == m.get_round_view(s, r), r
            assert g.rules_for_round(r) == m.get_rules_for_round(s, r)
            assert g.beacon_round(r) == m.get_beacon_round(s, r)
            for result_hash in (s.rounds.get(r) or m.RoundState()).tallies:
                assert g.tally_of(r, result_hash) == m.get_tally_of(s, r, result_hash)


def wallet(backend: Backend, wei: int = 10**21) -> LocalAccount:
    account: LocalAccount = Account.create()
    backend.fund(account.address, wei)
    return account

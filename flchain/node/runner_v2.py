"""The protocol-v2 node cycle: one idempotent `step()` that reads the chain and does what is due.

The daemon (`flchain node run`, a loop around `step` when `connect_ledger` answers a
`LedgerV2`), the round driver of tests and the simulation run this code; there is no second
implementation of protocol v2. At the chain's (round r, phase) a step runs, in this order
(docs/protocol.md §12):

    settle         this node's own leaf, from the latest final round's manifest, when its
                   settlement lags that round (a lagging node can neither commit nor attest)
                   or the leaf records something new (commit and attest windows)
    collect        `collect()` the settled rewards not collected yet, once every
                   `COLLECT_EVERY_ROUNDS` rounds and every round once the node is exiting,
                   after settling (commit and attest windows; settle pays nothing, §8)
    open           `openRound(r)` when nobody has (commit and reveal windows)
    forward        with forward scoring on (docs/protocol.md §15), round w = r − lag's window
                   built from the node's own bars of the rules' market (`market_bars`) and
                   posted unless a readable post of those bytes is on-chain (commit window)
    commit         train on the base (the latest final model), validate the directive the base
                   manifest assigned, sit out a claim outside the ROI band, an ineligible node
                   or a payload over `maxPayloadBytes`; store the update, commit with a
                   persisted random salt (`SaltStore`) — carrying a vote for the window
                   the node built itself, when it built one and it is posted
    reveal         rebuild the committed update, check it against the on-chain commitment,
                   reveal with the payload in calldata
    beacon         post the signature of D(r) from the `BeaconSource` when no valid post is
                   on-chain yet (beacon window)
    attest         merge via `flchain.replay.v2`, publish, attest (attest window)
    finalize       once the tally of the result this node computed reaches q of r's stake
    slash          `slashNoReveal` for every committed-but-unrevealed node of the latest round
                   whose reveal window closed and the `SLASH_LOOKBACK_ROUNDS` before it

Isolation: every action runs on its own. An exception in one is caught, classified
(`flchain.node.logs.classify_failure`), logged and listed in the report, and the next action
still runs — a failed attestation never stops the next round's commit and reveal. Refusals
that mean another node did the work first (`RoundAlreadyOpen`, `AlreadyFinal`, `NotSlashable`…)
are not failures.

Reorgs. Each step first checks that the heads earlier steps saw are still on the chain
(`HeadWatch`); after a reorg the runner forgets what it kept between steps and reads the chain
again, so a commit, reveal or vote the reorg removed is sent again while its window is open
(at the lost transaction's nonce: the transaction layer's), and nothing is sent twice.

Restart safety. The runner keeps nothing the chain does not say except the commit salts
(`SaltStore`, written before the commit): whether it committed, revealed, posted, attested or
settled is read from the contract on every step, and the committed update is re-derived by
deterministic training from the same base, directive, bars, seed and salt, and checked against
the on-chain commitment before it is revealed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Final, Protocol, TypeVar

from eth_account.signers.local import LocalAccount

from flchain.ledger import ContractRevert, DeadlineMissed, LedgerV2, TxResult
from flchain.ledger.events_v2 import BeaconPosted, Collected, Committed, Revealed, Slashed
from flchain.market import OHLCV, Benchmark
from flchain.market.errors import ForwardWindowError
from flchain.market.forward import build_window
from flchain.merge.settlement import find_settlement_proof
from flchain.merge.v2 import PriorRound
from flchain.model import config_from_metadata, directive_menu, validate_directive
from flchain.node.behaviour import HONEST, Behaviour
from flchain.node.errors import (
    CommitmentLost,
    NodeError,
    NodeWithdrawn,
    NotRegistered,
    StoreWriteError,
)
from flchain.node.heads import HeadWatch
from flchain.node.logs import Failure, classify_failure
from flchain.node.salt import SaltStore, training_seed
from flchain.node.update import SealedUpdateV2, UpdateInputs, seal_v2
from flchain.protocol import Directive, GlobalModel
from flchain.protocol import digests as dg
from flchain.protocol import forward as fw
from flchain.protocol.beacon import DevnetBeacon
from flchain.protocol.beacon import beacon_round as get_beacon_round
from flchain.protocol.machine import (
    CommitState,
    Fault,
    Latest,
    Leaf,
    NodeView,
    Phase,
    RulesV2,
    Status,
    compute_lags,
    finality_needed,
)
from flchain.protocol.types import BaseModelV2
from flchain.replay import MergeMemo
from flchain.replay.inputs import MAX_MANIFEST_BYTES
from flchain.replay.v2 import (
    ReplayResultV2,
    cid_text,
    fetch_bounded,
    get_base_weights_v2,
    get_benchmark_v2,
    get_forward_round,
    get_forward_window,
    get_prior,
    publish_and_attest_v2,
    replay_round_v2,
)
from flchain.storage import ContentStore
from flchain.storage.weights import decode_weights

__all__ = [
    "ALREADY_DONE",
    "SLASH_LOOKBACK_ROUNDS",
    "BeaconSource",
    "DevnetBeaconSource",
    "MarketBars",
    "NodeRunnerV2",
    "StepReportV2",
]

log = logging.getLogger("flchain.node")

_T = TypeVar("_T")

#: Rounds before the current one scanned for unrevealed commitments to slash: a withholder is
#: slashable forever, but honest nodes slash it at once, so a short look back finds every one
#: a restart or an outage left over.
SLASH_LOOKBACK_ROUNDS: Final = 2

#: How often the daemon collects its settled rewards. A collect costs ~43 000 gas whatever it
#: pays, so collecting after every settlement would cost more than the old paying settle
#: (~67 000); once a week of 24 h rounds it adds ~6 000 a round to a ~54 000 settle.
COLLECT_EVERY_ROUNDS: Final = 7

#: Refusals that mean what the action set out to do is done already: by another node, or by
#: this one in a transaction an earlier (killed) process sent.
ALREADY_DONE: Final = frozenset(
    {
        "RoundAlreadyOpen",
        "AlreadyFinal",
        "NotSlashable",
        "AlreadySettled",
        "AlreadyAttested",
        "AlreadyCommitted",
        "AlreadyRevealed",
        "BeaconAlreadyPosted",
    }
)

#: Refusals that mean the action's window has closed at the pending block.
WINDOW_CLOSED: Final = frozenset(
    {
        "NotInCommitWindow",
        "NotInRevealWindow",
        "NotInBeaconWindow",
        "NotInAttestWindow",
        "ForwardVoteClosed",
    }
)

#: The bars a node holds of one market, by (exchange, symbol): every closed 15-minute bar it
#: has seen, or None when it follows no such market. A node builds its forward windows from
#: these (never from what another node posted).
MarketBars = Callable[[str, str], OHLCV | None]


class BeaconSource(Protocol):
    """Where a node gets the randomness-beacon signature of a beacon round (docs/protocol.md
    §6). A source answers only signatures that verify under its `public_key` (a drand client
    checks what it downloads); the runner posts only for a source whose key is the
    deployment's. `DevnetBeaconSource` is a devnet's; `flchain.node.drand.DrandHttpSource`
    reads a drand HTTP relay."""

    @property
    def public_key(self) -> bytes:
        """The beacon's 48-byte BLS public key."""
        ...

    def signature(self, beacon_round: int) -> bytes | None:
        """The beacon's signature of `beacon_round`, or None while it is not produced yet."""
        ...


@dataclass(frozen=True)
class DevnetBeaconSource:
    """The devnet's local beacon key (`DevnetBeacon`): every round is available at once, and
    valid by construction. Signing is a pure-Python BLS operation of most of a second, so
    each round's signature is kept (share one source among the nodes of a process)."""

    beacon: DevnetBeacon
    _signed: dict[int, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def public_key(self) -> bytes:
        return self.beacon.public_key

    def signature(self, beacon_round: int) -> bytes | None:
        if beacon_round not in self._signed:
            self._signed[beacon_round] = self.beacon.sign(beacon_round)
        return self._signed[beacon_round]


@dataclass
class StepReportV2:
    """What one step saw and did: log lines, the rounds each action acted on, and the
    failures it caught (each classified, one line)."""

    round: int
    phase: Phase
    actions: list[str] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)  # the final round settled against
    collected: list[int] = field(default_factory=list)  # the round it collected rewards in
    opened: list[int] = field(default_factory=list)
    committed: list[int] = field(default_factory=list)
    posted: list[int] = field(default_factory=list)  # the rounds whose forward window it posted
    voted: list[int] = field(default_factory=list)  # the rounds whose window its commit voted
    revealed: list[int] = field(default_factory=list)
    beacons: list[int] = field(default_factory=list)
    attested: list[int] = field(default_factory=list)
    finalized: list[int] = field(default_factory=list)
    slashed: list[tuple[int, str]] = field(default_factory=list)
    sat_out: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    reorged: list[int] = field(default_factory=list)  # the round a step noticed a reorg in
    failures: list[Failure] = field(default_factory=list)

    @property
    def sent_any(self) -> bool:
        """Whether this step sent a transaction of its own."""
        return any(
            (self.settled, self.collected, self.opened, self.committed, self.posted, self.revealed,
             self.beacons, self.attested, self.finalized, self.slashed)
        )  # fmt: skip


def _same_record(leaf: Leaf, view: NodeView) -> bool:
    """Whether applying `leaf` would change nothing of the node's settled record."""
    fields = ("cum_earned", "cum_penalties", "merged_rounds", "last_penalty_round", "score_bps")
    return all(getattr(leaf, f) == getattr(view, f) for f in fields)


class _Skip(Exception):  # control flow inside one action: never escapes `run_action`
    """Ends an action early with a reason (logged as an action, not a failure)."""


class NodeRunnerV2:
    """One node (one wallet) of a protocol-v2 federation.

    @param ledger the FLChainV2 contract; the runner signs with `account`
    @param account the node's unlocked wallet (kept in memory only)
    @param store the content store (the base model and manifests by CID; updates archived)
    @param bars_for the node's private training bars, by training identity (an address)
    @param salts the node's persisted commit salts (`SaltStore.for_node`; memory-only if None)
    @param beacon where beacon signatures come from (None: this node never posts one)
    @param behaviour honest unless the simulation injects an adversary
    @param merge_memo the simulation's in-process memo of the pure merge (a daemon has none)
    @param market_bars the node's own bars of the rules' market, for forward windows (None:
        it builds none, and commits without a vote)
    """

    def __init__(
        self,
        ledger: LedgerV2,
        account: LocalAccount,
        store: ContentStore,
        bars_for: Callable[[str], OHLCV],
        *,
        salts: SaltStore | None = None,
        beacon: BeaconSource | None = None,
        behaviour: Behaviour = HONEST,
        merge_memo: MergeMemo | None = None,
        market_bars: MarketBars | None = None,
        collect_every_rounds: int = COLLECT_EVERY_ROUNDS,
    ) -> None:
        if collect_every_rounds < 1:
            raise ValueError(f"collect_every_rounds must be ≥ 1, got {collect_every_rounds}")
        self.collect_every_rounds = collect_every_rounds
        self._collected_in: int | None = None  # the round of its last collect attempt (memory)
        self.account = account
        self.address = account.address
        self.ledger = ledger if ledger.account is account else ledger.with_account(account)
        self.store = store
        self.bars_for = bars_for
        self.salts = salts or SaltStore(None)
        self.beacon = beacon
        self.behaviour = behaviour
        self.merge_memo = merge_memo
        self.market_bars = market_bars
        self._windows: dict[int, bytes] = {}  # forward windows built (the latest only; a cache)
        self._window_round: dict[int, int | None] = {}  # get_forward_round (past rules: fixed)
        self._readable: tuple[int, bytes] | None = None  # a window found readable (a cache)
        self.sat_out: set[int] = set()
        self.missed: set[tuple[int, str]] = set()  # (round, action) past its window
        self._sealed: dict[int, SealedUpdateV2] = {}  # a cache; never required
        self._merged: dict[int, ReplayResultV2] = {}  # this node's replay per round (a cache)
        self._no_withholders: set[int] = set()  # closed rounds with nothing left to slash
        self._stake: dict[int, int] = {}  # this node's weight in the round in progress
        self._opened = -1  # the latest round seen open
        self._nothing_to_settle: bytes | None = None  # the final manifest with no leaf to apply
        self.heads = HeadWatch(self.ledger.backend, self.ledger.from_block)

    # ------------------------------------------------------------------ chain reads

    def view(self) -> NodeView:
        return self.ledger.node_view(self.address)

    def commit_state(self, round: int) -> CommitState:
        return self.ledger.commitment_of(round, self.address)[1]

    def revealed_in(self, round: int) -> bool:
        """Whether this node's commitment of `round` was revealed (the daemon's missed count)."""
        return self.commit_state(round) == CommitState.REVEALED

    def in_frozen_set(self, round: int) -> bool:
        """Whether this node has weight in `round` (constant within the round: read once)."""
        if round not in self._stake:
            self._stake = {round: self.ledger.stake_of(self.address, round)}
        return self._stake[round] > 0

    # ------------------------------------------------------------------ the step

    def step(self) -> StepReportV2:
        """Do whatever is due at the chain's current time; safe to call any number of times.

        @raises NotRegistered when the wallet never registered (NodeWithdrawn: it has withdrawn)
        @raises ChainUnavailable (and other read errors) when the phase cannot be read at all
        """
        rewound = self.heads.notice()
        round, phase = self.ledger.phase()
        report = StepReportV2(round, phase)
        if rewound is not None:
            self._forget_after_reorg(rewound, report)
        if phase == Phase.NOT_STARTED:
            report.actions.append("waiting for round 0")
            return report
        view = self.view()  # one read for the step: settling changes none of what attest reads
        status = view.status
        if status == Status.WITHDRAWN:
            raise NodeWithdrawn(f"{self.address} withdrew its bond from {self.ledger.address}")
        if status == Status.NONE:
            raise NotRegistered(
                f"{self.address} is not a node of {self.ledger.address} (status {status.name})"
            )
        if phase == Phase.COMMIT:  # a lag would block the commit
            self.run_action("settle", report, lambda: self.ensure_settled(report, view))
            after = None if report.sent_any else view
            self.run_action("collect", report, lambda: self.ensure_collected(round, report, after))
        elif phase == Phase.ATTEST:  # only a lag would block the vote: the rest waits for it
            self.run_action(
                "settle", report, lambda: self.ensure_settled(report, view, lagging_for=round)
            )
        if phase in (Phase.COMMIT, Phase.REVEAL):
            self.run_action("open", report, lambda: self.ensure_opened(round, report))
        if phase == Phase.COMMIT:
            self.run_action("forward", report, lambda: self.ensure_forward_posted(round, report))
            self.run_action("commit", report, lambda: self.ensure_committed(round, report))
        elif phase == Phase.REVEAL:
            self.run_action("reveal", report, lambda: self.ensure_revealed(round, report))
        elif phase == Phase.BEACON:
            self.run_action("beacon", report, lambda: self.ensure_beacon(round, report))
        elif phase == Phase.ATTEST:
            self.run_action("attest", report, lambda: self.ensure_attested(round, report, view))
            self.run_action("finalize", report, lambda: self.ensure_finalized(round, report))
            # Settling after the vote: when the round is final by now, the settlement clears
            # the vote too. Settled before it, the vote would stay pending and the next commit
            # would clear it (two more cold reads: 59 249 gas, the one commit over 55 000,
            # security.md §8).
            # the step's view still holds unless this step sent something that changed it
            after = None if report.sent_any else view
            self.run_action("settle", report, lambda: self.ensure_settled(report, after))
            after = None if report.sent_any else view
            self.run_action("collect", report, lambda: self.ensure_collected(round, report, after))
        last_closed = round if phase in (Phase.BEACON, Phase.ATTEST) else round - 1
        for r in range(max(0, last_closed - SLASH_LOOKBACK_ROUNDS), last_closed + 1):
            self.run_action("slash", report, partial(self.ensure_slashed, r, report))
        if report.sent_any:
            self.heads.remember()  # so a reorg of this node's blocks is noticed
        return report

    def _forget_after_reorg(self, rewound: int, report: StepReportV2) -> None:
        """A reorg replaced blocks from `rewound` on: drop what those blocks said (cached
        timestamps, and what this runner keeps between steps); the actions then read the
        chain again and re-send, at the lost transactions' nonces, what is still due."""
        self.ledger.backend.forget_blocks_from(rewound)
        self.missed.clear()  # a window may be open again on the new chain
        self._opened = -1
        self._nothing_to_settle = None
        self._stake.clear()
        self._no_withholders.clear()
        self._merged.clear()
        self._windows.clear()
        self._window_round.clear()
        self._readable = None
        report.reorged.append(report.round)
        report.actions.append(
            f"reorg: blocks from {rewound} were replaced; the chain is read again"
        )

    def run_action(self, name: str, report: StepReportV2, action: Callable[[], object]) -> bool:
        """Run one action in isolation: a failure is classified, logged and reported, and
        never stops the actions after it. Returns whether it completed."""
        try:
            action()
            return True
        except _Skip as skip:
            report.actions.append(str(skip))
            return True
        except NotRegistered:
            raise
        except ContractRevert as exc:
            if exc.error_name in ALREADY_DONE:
                report.actions.append(f"{name}: already done ({exc.error_name})")
                return True
            failure = classify_failure(name, exc)
        except Exception as exc:  # isolation: whatever one action raises, the next one runs
            failure = classify_failure(name, exc)
        report.failures.append(failure)
        log.log(
            failure.level,
            "round %d %s: %s failed: %s",
            report.round,
            report.phase.name.lower(),
            name,
            failure.line,
            exc_info=failure.kind == "bug",
        )
        return False

    def _in_window(
        self, round: int, what: str, send: Callable[[], _T], report: StepReportV2
    ) -> _T | None:
        """`send()` a windowed transaction; None (reported missed once, not retried) when it
        can no longer be mined in its window."""
        if (round, what) in self.missed:
            return None
        try:
            return send()
        except DeadlineMissed as exc:
            why = exc.message
        except ContractRevert as exc:
            if exc.error_name not in WINDOW_CLOSED:
                raise
            why = str(exc)
        self.missed.add((round, what))
        report.missed.append(round)
        report.actions.append(f"missed the {what} of round {round}: {why}")
        return None

    # ------------------------------------------------------------------ settle

    def _own_leaf(self, latest: Latest) -> tuple[Leaf, tuple[bytes, ...]] | None:
        """This node's leaf and proof in the latest final round's manifest (None: the node
        registered after that round started, so the table has no row for it)."""
        cid = cid_text(latest.manifest_cid)
        manifest = fetch_bounded(
            self.store, cid, f"manifest of round {latest.round_plus_one - 1}", MAX_MANIFEST_BYTES
        )
        return find_settlement_proof(manifest, self.address)

    def ensure_settled(
        self, report: StepReportV2, view: NodeView | None = None, *, lagging_for: int | None = None
    ) -> None:
        """Apply this node's leaf of the latest final round when the node lags (it took part in
        a final round it has not settled: it could neither commit nor attest) or the leaf pays
        or records something its settled record lacks. With `lagging_for`, only when the node
        lags for an action in that round (the contract's rule: the round in progress does not
        count)."""
        latest = self.ledger.latest()
        view = view or self.view()
        if latest.round_plus_one == 0 or view.settled_round >= latest.round_plus_one:
            return
        if lagging_for is not None and not compute_lags(
            view.last_participated_round, view.settled_round, latest.round_plus_one, lagging_for
        ):
            return
        if latest.manifest_cid == self._nothing_to_settle:
            return
        found = self._own_leaf(latest)
        lags = view.settled_round < view.last_participated_round <= latest.round_plus_one
        if found is None or (not lags and _same_record(found[0], view)):
            # nothing to apply until another round is final (taking part again is checked
            # against a newer final round, so no lag can arise against this one)
            self._nothing_to_settle = bytes(latest.manifest_cid)
            return
        leaf, proof = found
        tx = self.ledger.settle(leaf, proof)
        final = latest.round_plus_one - 1
        report.settled.append(final)
        report.actions.append(
            f"settled against round {final}: earned {leaf.cum_earned} wei in all, "
            f"{leaf.cum_penalties} penalties (tx {tx.tx_hash[:12]}…)"
        )

    # ------------------------------------------------------------------ collect

    def ensure_collected(
        self, round: int, report: StepReportV2, view: NodeView | None = None, *, force: bool = False
    ) -> None:
        """`collect()` what this node earned and has not collected (cumEarned − claimed of its
        settled record), at most once every `collect_every_rounds` rounds; every round once
        it is exiting, so that nothing is left behind when it withdraws. One attempt a round:
        a refusal (an empty budget) or a lost RPC is tried again a schedule later, and the
        rewards wait on-chain meanwhile. A restart may collect early: the schedule is kept in
        memory only, and an early collect loses nothing. `force`: now, whatever the schedule."""
        last = self._collected_in
        if last == round and not force:
            return
        view = view or self.view()
        every = 1 if view.status == Status.EXITING else self.collect_every_rounds
        if last is not None and round - last < every and not force:
            return
        if view.cum_earned - view.claimed <= 0:
            return
        self._collected_in = round
        tx = self.ledger.collect()
        paid = sum(e.amount for e in tx.events if isinstance(e, Collected))
        report.collected.append(round)
        report.actions.append(f"collected {paid} wei of settled rewards (tx {tx.tx_hash[:12]}…)")

    # ------------------------------------------------------------------ open

    def ensure_opened(self, round: int, report: StepReportV2) -> None:
        if round == self._opened or self.ledger.round_view(round).opened:
            self._opened = round  # opened once, open for good
            return
        self.ledger.open_round(round)
        self._opened = round
        report.opened.append(round)
        report.actions.append(f"opened round {round}")

    # ------------------------------------------------------------------ commit

    def base_for(self, round: int) -> BaseModelV2:
        """The base of `round`: the latest final model at S(round) (the contract's state)."""
        return self.ledger.base_for_round(round)

    def directive_for(self, prior: PriorRound, base_weights: bytes) -> Directive | None:
        """The directive the base manifest assigned to this node, validated against the
        menu of the base model's config. @raises _Skip with the reason when it is not on it."""
        mine = [d for d in prior.directives if d.node.lower() == self.address.lower()]
        if not mine:
            return None
        directive = mine[0]
        _, metadata = decode_weights(base_weights)
        try:
            validate_directive(directive, directive_menu(config_from_metadata(metadata)))
        except Exception as exc:  # ModelError, or a pydantic error from a hostile manifest
            raise _Skip(
                f"refusing the directive of round {prior.round}'s manifest: "
                f"{str(exc).splitlines()[0]}; sitting out (an update that ignores an "
                "assigned directive is penalised)"
            ) from None
        return directive

    def inputs(self, round: int, rules: RulesV2, benchmark: Benchmark) -> UpdateInputs:
        base = self.base_for(round)
        base_weights = get_base_weights_v2(self.store, base)
        prior = get_prior(self.store, base)
        identity = self.behaviour.training_identity(self.address)
        chain_id, contract = self.ledger.chain_id, self.ledger.address
        digest = "0x" + base.digest.hex()
        model = GlobalModel(
            round=base.round,
            digest=digest,
            cid=cid_text(base.cid),
            manifest_cid=None if base.manifest_cid is None else cid_text(base.manifest_cid),
        )
        return UpdateInputs(
            chain_id=chain_id,
            contract=contract,
            round=round,
            node=self.address,
            base=model,
            base_weights=base_weights,
            directive=self.directive_for(prior, base_weights),
            bars=self.bars_for(identity),
            rules=rules,
            benchmark=benchmark,
            seed=training_seed(chain_id, contract, round, identity, digest),
        )

    def build(self, round: int, salt: bytes) -> tuple[SealedUpdateV2, int, RulesV2]:
        """Train, claim, alter (adversaries only) and seal this round's update; returns it,
        the honest claim (before any adversary's change) and the round's rules."""
        rules = self.ledger.rules_for_round(round)
        inputs = self.inputs(round, rules, get_benchmark_v2(rules, round, self.store))
        honest = self.behaviour.prepare(inputs)
        update = self.behaviour.alter(honest, inputs)
        return seal_v2(inputs, update, salt), honest.roi_bps, rules

    def _check_can_take_part(self, round: int, claim: int, payload: int, rules: RulesV2) -> None:
        """Sit the round out (raise _Skip) when a reveal could only be rejected: an honest claim
        outside the ROI band, an ineligible node, a payload over the rule's bound."""
        reason = None
        if not rules.roi_min_bps <= claim <= rules.roi_max_bps:
            reason = (
                f"its claim {claim} bps is outside the round's ROI band "
                f"[{rules.roi_min_bps}, {rules.roi_max_bps}] bps"
            )
        elif payload > rules.max_payload_bytes:
            reason = (
                f"its update of {payload} bytes exceeds maxPayloadBytes {rules.max_payload_bytes}"
            )
        elif not self.ledger.is_eligible(self.address, round):
            reason = "this node is not eligible (penalty cooldown or score below the minimum)"
        if reason is not None:
            raise _Skip(f"sitting out round {round}: {reason}; nothing committed")

    def ensure_committed(self, round: int, report: StepReportV2) -> None:
        if round in self.sat_out or (round, "commit") in self.missed:
            return
        if self.commit_state(round) != CommitState.NONE:
            return
        if not self.in_frozen_set(round):
            return  # registered or topped up during this round: from the next one
        salt = self.salts.salt(round)
        try:
            sealed, honest_claim, rules = self.build(round, salt)
            self._check_can_take_part(round, honest_claim, len(sealed.payload), rules)
        except _Skip:
            self.sat_out.add(round)  # decided once a round: not rebuilt at every step
            report.sat_out.append(round)
            raise
        self.put_update(sealed)
        vote = self.forward_vote(round)

        def send() -> TxResult:
            if vote is None:
                return self.ledger.commit(round, sealed.commitment)
            return self.ledger.commit_with_forward(round, sealed.commitment, *vote)

        tx = self._in_window(round, "commit", send, report)
        if tx is None:
            return
        self._sealed[round] = sealed
        report.committed.append(round)
        voted = ""
        if vote is not None:
            report.voted.append(vote[0])
            voted = f", voting 0x{vote[1].hex()[:12]}… as round {vote[0]}'s forward window"
        report.actions.append(
            f"committed round {round}: update {sealed.cid[:16]}… claim {sealed.roi_bps} bps "
            f"on base 0x{sealed.base_digest.hex()[:12]}…{voted}"
        )

    def put_update(self, sealed: SealedUpdateV2) -> None:
        """Archive the update in the store (pinned); the chain carries it, so this is for
        the archive only, but a store that answers another CID is a fault worth knowing."""
        try:
            cid = self.store.put(sealed.payload)
        except OSError as exc:
            raise StoreWriteError(
                f"cannot write the update of round {sealed.round} to the store: "
                f"{exc.strerror or exc}"
            ) from None
        if cid != sealed.cid:
            raise StoreWriteError(f"the store returned CID {cid}, expected {sealed.cid}")

    # ------------------------------------------------------------------ forward windows

    def forward_window(self, window_round: int) -> bytes:
        """Round `window_round`'s forward window file, built from this node's own bars of its
        rules' market (§15.2; cached for the latest round asked).
        @raises _Skip when the node has no bars of that market covering the window"""
        if window_round in self._windows:
            return self._windows[window_round]
        rules = self.ledger.rules_for_round(window_round)
        file = get_benchmark_v2(rules, window_round, self.store).file
        if file is None:
            raise _Skip(f"round {window_round}'s benchmark names no market: no forward window")
        bars = None if self.market_bars is None else self.market_bars(file.exchange, file.symbol)
        if bars is None:
            raise _Skip(f"no bars of {file.exchange}:{file.symbol}: no forward window to vote")
        reveal_end = self.ledger.deployment().reveal_end(window_round)
        start = fw.forward_start(reveal_end, rules.forward_margin_seconds)
        try:
            window = build_window(bars, file.exchange, file.symbol, start, rules.forward_bars)
        except ForwardWindowError as exc:
            raise _Skip(
                f"cannot build round {window_round}'s forward window from this node's bars: "
                f"{exc.message}; committing without a vote"
            ) from None
        self._windows = {window_round: window.data}
        return window.data

    def window_round(self, round: int) -> int | None:
        """The round whose window the commits of `round` vote on (read once a round)."""
        if round not in self._window_round:
            self._window_round = {round: get_forward_round(self.ledger, round)}
        return self._window_round[round]

    def ensure_forward_posted(self, round: int, report: StepReportV2) -> None:
        """Post the window the commits of `round` vote on, as this node built it, unless a
        readable post of those bytes is on-chain (by anyone: equal bars make equal bytes).
        A post forwarded by another contract marks the window posted but leaves its bytes in
        no transaction's input (§15.2): the node then posts them again itself, or the
        accepted window would be unreadable and the round's scores missing."""
        w = self.window_round(round)
        if w is None or (w, "forward") in self.missed:
            return
        window = self.forward_window(w)
        digest = dg.sha256(window)
        if self._readable == (w, digest):
            return
        posted = self.ledger.is_forward_posted(w, digest)  # one view call while nobody posted
        if posted and get_forward_window(self.ledger, w, digest) is not None:
            self._readable = (w, digest)
            return
        if self._in_window(w, "forward", lambda: self.ledger.post_forward(w, window), report):
            self._readable = (w, digest)
            report.posted.append(w)
            report.actions.append(
                f"posted round {w}'s forward window 0x{digest.hex()[:12]}… ({len(window)} bytes)"
                + (", again: no transaction's input carried the bytes posted" if posted else "")
            )

    def forward_vote(self, round: int) -> tuple[int, bytes] | None:
        """(w, hash) for the commit of `round` to carry: the window of w this node built
        itself, once it is posted; None (a plain commit) otherwise."""
        w = self.window_round(round)
        if w is None:
            return None
        try:
            window = self.forward_window(w)
        except _Skip:
            return None  # said once by the forward action of the same step
        digest = dg.sha256(window)
        return (w, digest) if self.ledger.is_forward_posted(w, digest) else None

    # ------------------------------------------------------------------ reveal

    def rebuild(self, round: int, commitment: bytes) -> SealedUpdateV2:
        """The update behind this node's on-chain `commitment`, re-derived with its salt."""
        cached = self._sealed.get(round)
        if cached is not None and cached.commitment == commitment:
            return cached
        salt = self.salts.get(round)
        if salt is None:
            raise CommitmentLost(
                f"the salt of round {round} is not in {self.salts.directory}: the commitment "
                "cannot be revealed (it will be slashed as not revealed)"
            )
        sealed = self.build(round, salt)[0]
        if sealed.commitment != commitment:
            raise CommitmentLost(
                f"cannot rebuild the update committed for round {round}: training data or "
                "code changed since the commit"
            )
        return sealed

    def ensure_revealed(self, round: int, report: StepReportV2) -> None:
        commitment, state, _ = self.ledger.commitment_of(round, self.address)
        if state != CommitState.COMMITTED or not self.behaviour.reveals:
            return
        sealed = self.rebuild(round, commitment)
        sent = self._in_window(
            round,
            "reveal",
            lambda: self.ledger.reveal(
                round, sealed.payload, sealed.base_digest, sealed.roi_bps, sealed.salt
            ),
            report,
        )
        if sent is None:
            return
        _, outcome = sent
        self._sealed.pop(round, None)
        report.revealed.append(round)
        report.actions.append(
            f"revealed round {round}: {len(sealed.payload)} bytes, claim {sealed.roi_bps} bps, "
            f"on-chain outcome {outcome.name}"
        )

    # ------------------------------------------------------------------ beacon

    def valid_post_exists(self, round: int, signature: bytes) -> bool:
        """Whether a post of `signature` — the source's signature of D(round) — is on-chain.
        BLS signatures are unique (one per key and message), so a post is valid exactly when
        its bytes are these: no pairing check is needed."""
        return any(bytes(p.signature) == signature for p in self.ledger.events(BeaconPosted, round))

    def ensure_beacon(self, round: int, report: StepReportV2) -> None:
        if self.beacon is None or not self.in_frozen_set(round):
            return
        deployment = self.ledger.deployment()
        if bytes(self.beacon.public_key) != bytes(deployment.beacon_public_key):
            raise NodeError(
                "the beacon source's public key is not the deployment's beaconPublicKey: "
                "check the beacon configuration (its posts would not seed the merge)"
            )
        beacon_round = get_beacon_round(deployment, round)  # D(r), from the immutables
        signature = self.beacon.signature(beacon_round)
        if signature is None:
            raise _Skip(f"beacon round {beacon_round} is not produced yet")
        if self.valid_post_exists(round, signature):
            return
        if self._in_window(
            round, "beacon", lambda: self.ledger.post_beacon(round, signature), report
        ):
            report.beacons.append(round)
            report.actions.append(f"posted beacon round {beacon_round} for round {round}")

    # ------------------------------------------------------------------ attest, finalize

    def replay(self, round: int) -> ReplayResultV2:
        """This node's merge of `round` (computed once per process; only the latest kept)."""
        cached = self._merged.get(round)
        if cached is None:
            cached = replay_round_v2(self.ledger, self.store, round, memo=self.merge_memo)
            self._merged = {round: cached}
        return cached

    def ensure_attested(
        self, round: int, report: StepReportV2, view: NodeView | None = None
    ) -> None:
        if (view or self.view()).last_attested_round >= round + 1:
            return
        if not self.in_frozen_set(round):
            return
        replay, result, sent = publish_and_attest_v2(
            self.ledger, self.store, round, tamper=self.behaviour.tamper_v2, memo=self.merge_memo
        )
        self._merged = {round: replay}
        if not sent:
            return
        report.attested.append(round)
        report.actions.append(
            f"attested round {round}: merged {result.merged_digest[:12]}… manifest "
            f"{result.manifest_cid[:16]}… penalised {len(result.penalised)}, "
            f"earned {result.settlement.round_earned} wei"
        )

    def ensure_finalized(self, round: int, report: StepReportV2) -> None:
        view = self.ledger.round_view(round)
        if view.final_result != bytes(32):
            return
        replay = self.replay(round)
        result = replay.result
        tally = self.ledger.tally_of(round, result.result_hash)
        needed = finality_needed(view.total_stake, replay.record.rules.finality_ppm)
        if tally < needed:
            return
        tx: TxResult = self.ledger.finalize(round, result.result)
        report.finalized.append(round)
        report.actions.append(
            f"finalized round {round}: tally {tally} of {view.total_stake} wei "
            f"(needed {needed}; tx {tx.tx_hash[:12]}…)"
        )

    # ------------------------------------------------------------------ slash

    def unrevealed(self, round: int) -> list[str]:
        """Nodes whose commitment of `round` is still unrevealed and unslashed: the events
        name the candidates, the contract's slot of each decides."""
        committed = {e.node for e in self.ledger.events(Committed, round)}
        resolved = {e.node for e in self.ledger.events(Revealed, round)} | {
            e.node for e in self.ledger.events(Slashed, round) if e.fault == Fault.NO_REVEAL
        }
        return sorted(
            n
            for n in committed - resolved
            if self.ledger.commitment_of(round, n)[1] == CommitState.COMMITTED
        )

    def ensure_slashed(self, round: int, report: StepReportV2) -> None:
        """Slash every withholder of closed `round` (a bounty pays for it), itself excepted.
        Once a round's reveal window has closed its commitments only go from committed to
        slashed, so a round found with none left is not read again."""
        if round in self._no_withholders:
            return
        withholders = [n for n in self.unrevealed(round) if n.lower() != self.address.lower()]
        for node in withholders:  # its own is left to a third party, who earns the bounty
            self.ledger.slash_no_reveal(round, node)
            report.slashed.append((round, node))
            report.actions.append(f"slashed {node} for not revealing round {round}")
        if not withholders:
            self._no_withholders.add(round)

    # ------------------------------------------------------------------ wallet actions (CLI)

    def register(self, bond: int | None = None) -> TxResult:
        """Register this wallet with `bond` wei (default: the deployment's `minBond`)."""
        return self.ledger.register(self.ledger.deployment().min_bond if bond is None else bond)

    def add_bond(self, amount: int) -> TxResult:
        return self.ledger.add_bond(amount)

    def request_exit(self) -> TxResult:
        return self.ledger.request_exit()

    def withdraw(self) -> TxResult:
        """Withdraw the bond (after the exit delay, settled, nothing unrevealed)."""
        return self.ledger.withdraw()

    def collect(self) -> TxResult:
        """Collect the settled rewards not collected yet (cumEarned − claimed)."""
        return self.ledger.collect()

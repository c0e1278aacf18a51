"""The per-round node cycle: one idempotent `step()` that looks at the chain and does what is due.

Both the daemon (`flchain node run`, a loop around `step`) and the simulation (which moves
chain time and calls `step` on every node once per phase) run this code; there is no second
implementation of the protocol.

What a step does, from the chain's (round, phase) at the latest block:

* the most recent closed round not yet attested by this wallet → replay its merge, publish
  the merged weights and manifest, attest (`flchain.replay.publish_and_attest`);
* commit window → if this wallet has no commitment for the round: wait (until half the window
  has passed) for the previous round to be finalized, fetch the latest finalized global model
  by CID and verify it, train on the node's own bars (following the directive the base model's
  manifest assigned to it), compute the ROI claim on the rules' benchmark, put the weights in
  the store, commit;
* reveal window → if committed and not revealed: reveal.

Restart safety (SIGKILL at any point). The node writes nothing of its own: the chain says
whether it committed, revealed and attested (`commitmentOf`, `Revealed`, `nodeRecord`), the
salt is re-derived from the keystore (`flchain.node.salt`), and the update is re-derived by
deterministic training from the same base, directive, bars and seed. Before revealing, the
rebuilt update's commitment is compared with the one on-chain; a reveal is sent only when they
match, so a restart can neither double-commit (the contract refuses, and the node checks first)
nor reveal something else. If the base changed between commit and restart (a late
finalization), the earlier finalized models are tried as bases, newest first.

Deadlines and reorgs. A commit or reveal that can no longer be mined in its window
(`DeadlineMissed`, or the contract's own NotInCommitWindow / NotInRevealWindow at the pending
block) is reported once as missed and not retried. Each step first checks that the head the
previous steps saw is still on the chain; if a reorg replaced it, every block from the fork on
is forgotten (cached timestamps; the event index notices on its own), and the rounds whose
commit, reveal or attestation this node had in a replaced block are rebuilt from what the chain
says now: the same step re-sends what the reorg removed while its window is open (the
transaction layer sends it at the lost transaction's nonce, so a copy of it a node's pool still
holds cannot be mined as well), and the contract's checks mean nothing is committed twice.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from eth_account.signers.local import LocalAccount

from flchain.errors import FlchainError
from flchain.ledger import (
    Attested,
    CommitState,
    ContractRevert,
    DeadlineMissed,
    Ledger,
    NodeStatus,
    Phase,
)
from flchain.market import OHLCV, Benchmark
from flchain.node.behaviour import HONEST, Behaviour
from flchain.node.errors import CommitmentLost, NotRegistered, StoreWriteError
from flchain.node.salt import derive_salt, training_seed
from flchain.node.update import SealedUpdate, UpdateInputs, seal
from flchain.protocol import Directive, GlobalModel, Rules
from flchain.replay import (
    MergeMemo,
    benchmark_for_rules,
    directives_from_manifest,
    fetch_base_weights,
    publish_and_attest,
)
from flchain.storage import ContentStore

log = logging.getLogger("flchain.node")

_Sent = TypeVar("_Sent")

#: Heads of previous steps kept to find where a reorg forked (one per step that saw a new head).
REMEMBERED_HEADS = 64

#: The contract's refusals that mean a window has closed (the pending block is past it).
WINDOW_CLOSED = ("NotInCommitWindow", "NotInRevealWindow")

#: Seconds of the commit window a node spends waiting for the previous round's finalization
#: before it trains on the latest finalized model it has (as a fraction of the window: 1/2).
FINALIZATION_WAIT_DIVISOR = 2


@dataclass
class StepReport:
    """What one step saw and did (for logs, metrics, status and the simulation's table).

    `actions` are the log lines; the lists name the rounds this step committed, revealed,
    attested, sat out (a claim outside the round's ROI band), missed (a commit or reveal that
    could no longer be mined in its window) or rebuilt after a reorg removed this node's
    transaction of that round."""

    round: int
    phase: Phase
    actions: list[str] = field(default_factory=list)
    committed: list[int] = field(default_factory=list)
    revealed: list[int] = field(default_factory=list)
    attested: list[int] = field(default_factory=list)
    sat_out: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    reorged: list[int] = field(default_factory=list)


class NodeRunner:
    """One node (one wallet) taking part in the federation.

    @param ledger the contract (any backend); the runner signs with `account`
    @param account the node's unlocked wallet (kept in memory only)
    @param store the content store (local blockstore or an IPFS daemon)
    @param bars_for the node's private training bars, by training identity (an address)
    @param behaviour honest unless the simulation injects an adversary
    @param merge_memo the simulation's in-process memo of the pure merge, shared by its nodes
        (`flchain.replay.MergeMemo`); a daemon has none and computes every merge itself
    """

    def __init__(
        self,
        ledger: Ledger,
        account: LocalAccount,
        store: ContentStore,
        bars_for: Callable[[str], OHLCV],
        behaviour: Behaviour = HONEST,
        merge_memo: MergeMemo | None = None,
    ) -> None:
        self.account = account
        self.address = account.address
        self.ledger = ledger.with_account(account)
        self.store = store
        self.bars_for = bars_for
        self.behaviour = behaviour
        self.merge_memo = merge_memo
        self._sealed: dict[int, SealedUpdate] = {}  # in-memory cache only; never required
        self.sat_out: set[int] = set()  # rounds skipped for a claim outside the ROI band
        self.missed: set[tuple[int, str]] = set()  # (round, "commit"/"reveal") past its window
        # (block, what) of this node's transactions by round, and the heads steps saw: what a
        # reorg can take away
        self._acted: dict[int, list[tuple[int, str]]] = {}
        self._heads: deque[tuple[int, bytes]] = deque(maxlen=REMEMBERED_HEADS)

    # ------------------------------------------------------------------ chain reads

    def commit_state(self, round: int) -> CommitState:
        """This wallet's commitment in `round` as the contract stores it (ChainUnavailable when
        the chain cannot be reached)."""
        return self.ledger.commitment_of(round, self.address)

    def status(self) -> NodeStatus:
        return self.ledger.node_record(self.address).status

    def revealed_in(self, round: int) -> bool:
        """Whether this wallet revealed in `round` (the daemon's missed count)."""
        return self.commit_state(round).revealed

    # ------------------------------------------------------------------ the step

    def step(self) -> StepReport:
        """Do whatever is due at the chain's current time; safe to call any number of times."""
        rewound = self.notice_reorg()
        round, phase = self.ledger.phase()
        report = StepReport(round, phase)
        if rewound is not None:
            self._rebuild_after_reorg(rewound, report)
        if phase == Phase.NOT_STARTED:
            report.actions.append("waiting for round 0")
            return report
        closed = round if phase == Phase.CLOSED else round - 1
        if closed >= 0:
            self.ensure_attested(closed, report)
        if phase == Phase.COMMIT:
            self.ensure_committed(round, report)
        elif phase == Phase.REVEAL:
            self.ensure_revealed(round, report)
        if report.committed or report.revealed or report.attested:
            self._remember(self.ledger.backend.head())  # so a reorg of our blocks is noticed
        return report

    # ------------------------------------------------------------------ reorgs

    def notice_reorg(self) -> int | None:
        """The first block a reorg replaced since the previous step (None: no reorg): a head an
        earlier step saw is no longer on the chain. Remembers the current head."""
        backend = self.ledger.backend
        head = backend.head()
        if self._heads and self._heads[-1] == head:
            return None
        rewound: int | None = None
        while self._heads:
            number, block_hash = self._heads[-1]
            if backend.block_hash(number) == block_hash:
                break
            self._heads.pop()
            rewound = number
        if rewound is not None:  # from just after the newest head still on the chain
            rewound = self._heads[-1][0] + 1 if self._heads else self.ledger.from_block
        self._remember(head)
        return rewound

    def _remember(self, head: tuple[int, bytes]) -> None:
        if not self._heads or self._heads[-1] != head:
            self._heads.append(head)

    def _rebuild_after_reorg(self, rewound: int, report: StepReport) -> None:
        """Forget what the blocks from `rewound` on said; the step then reads the rounds again."""
        self.ledger.backend.forget_blocks_from(rewound)
        self.missed.clear()  # a window may be open again on the new chain
        lost = sorted(
            (r, what) for r, acts in self._acted.items() for block, what in acts if block >= rewound
        )
        for r in {r for r, _ in lost}:
            self._acted[r] = [(b, w) for b, w in self._acted[r] if b < rewound]
            self._sealed.pop(r, None)
            report.reorged.append(r)
        undone = ", ".join(f"{what} of round {r}" for r, what in lost) or "none of this node's"
        report.actions.append(
            f"reorg: blocks from {rewound} were replaced ({undone} transactions with them); "
            "the rounds are read again from the chain"
        )

    def _acted_in(self, round: int, what: str, block_number: int) -> None:
        self._acted.setdefault(round, []).append((block_number, what))

    def _in_window(
        self, round: int, what: str, send: Callable[[], _Sent], report: StepReport
    ) -> _Sent | None:
        """`send()` the round's commit or reveal; None when it can no longer be mined in its
        window (`DeadlineMissed`, or the contract's own refusal at the pending block): the
        round's `what` is then reported missed, once, and not retried."""
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

    # ------------------------------------------------------------------ attest

    def ensure_attested(self, round: int, report: StepReport) -> None:
        """Attest the merge of closed `round` unless this wallet already did (or cannot)."""
        record = self.ledger.node_record(self.address)
        if record.status != NodeStatus.ACTIVE:
            return
        if record.last_attested_round is not None and record.last_attested_round >= round:
            return
        try:
            result = publish_and_attest(
                self.ledger,
                self.account,
                self.store,
                round,
                tamper=self.behaviour.tamper,
                memo=self.merge_memo,
            )
        except ContractRevert as exc:
            if exc.error_name in ("AlreadyAttested", "AttestationOutOfOrder"):
                return
            raise
        mine = [a for a in self.ledger.events(Attested, round) if a.attester == self.address]
        if mine:
            self._acted_in(round, "attestation", mine[-1].block_number)
        report.attested.append(round)
        report.actions.append(
            f"attested round {round}: merged {result.merged_digest[:12]}… manifest {result.manifest_cid[:16]}… "
            f"penalised {len(result.penalised)}"
        )

    # ------------------------------------------------------------------ commit

    def _waiting_for_finalization(self, round: int) -> bool:
        if round == 0 or self.ledger.finalized(round - 1) is not None:
            return False
        schedule = self.ledger.schedule
        patience = schedule.commit_window // FINALIZATION_WAIT_DIVISOR
        return self.ledger.now() < schedule.start(round) + patience

    def ensure_committed(self, round: int, report: StepReport) -> None:
        if round in self.sat_out or (round, "commit") in self.missed:
            return
        state = self.commit_state(round)
        if state.commitment is not None or state.revealed:
            return
        if self.status() != NodeStatus.ACTIVE:
            raise NotRegistered(
                f"{self.address} is not an active node of {self.ledger.address}: cannot commit"
            )
        if self._waiting_for_finalization(round):
            report.actions.append(f"waiting for round {round - 1} to be finalized")
            return
        sealed, honest_claim, rules = self._build(round, self.ledger.latest_global())
        if not self._in_band(round, honest_claim, rules, report):
            return
        self.put_weights(sealed)
        tx = self._in_window(
            round, "commit", lambda: self.ledger.commit(round, sealed.commitment), report
        )
        if tx is None:
            return
        self._acted_in(round, "commit", tx.block_number)
        self._sealed[round] = sealed
        report.committed.append(round)
        report.actions.append(
            f"committed round {round}: update {sealed.cid[:16]}… claim {sealed.roi_bps} bps on base {sealed.base_digest[:12]}…"
        )

    def _in_band(self, round: int, claim: int, rules: Rules, report: StepReport) -> bool:
        """Whether this node's own (honest) claim lies in the ROI band of the round's frozen
        rules; if not, it sits the round out: the contract would reject the reveal as abnormal,
        and a commitment it cannot usefully reveal only costs gas. An adversary's altered claim
        is not checked here (the contract must catch it)."""
        if rules.roi_min_bps <= claim <= rules.roi_max_bps:
            return True
        self.sat_out.add(round)
        report.sat_out.append(round)
        report.actions.append(
            f"sitting out round {round}: this node's claim {claim} bps is outside the "
            f"round's ROI band [{rules.roi_min_bps}, {rules.roi_max_bps}] bps, which the contract"
            " rejects as abnormal; nothing committed"
        )
        return False

    def directive_for(self, base: GlobalModel) -> Directive | None:
        """The exploration directive the base model's manifest assigned to this node, if any."""
        if base.round < 0 or not base.manifest_cid:
            return None
        for directive in directives_from_manifest(self.store.get(base.manifest_cid)):
            if directive.node.lower() == self.address.lower():
                return directive
        return None

    def inputs(
        self, round: int, base: GlobalModel, rules: Rules, benchmark: Benchmark
    ) -> UpdateInputs:
        identity = self.behaviour.training_identity(self.address)
        chain_id, contract = self.ledger.chain_id, self.ledger.address
        return UpdateInputs(
            chain_id=chain_id,
            contract=contract,
            round=round,
            node=self.address,
            base=base,
            base_weights=fetch_base_weights(self.store, base),
            directive=self.directive_for(base),
            bars=self.bars_for(identity),
            rules=rules,
            benchmark=benchmark,
            seed=training_seed(chain_id, contract, round, identity, base.digest),
        )

    def build(self, round: int, base: GlobalModel) -> SealedUpdate:
        """Train, claim, alter (adversaries only) and seal this round's update on `base`."""
        return self._build(round, base)[0]

    def _build(self, round: int, base: GlobalModel) -> tuple[SealedUpdate, int, Rules]:
        """`build`, plus the honest claim (before any adversary's change) and the rules."""
        rules = self.ledger.rules_for_round(round)
        inputs = self.inputs(round, base, rules, benchmark_for_rules(rules, round, self.store))
        honest = self.behaviour.prepare(inputs)
        update = self.behaviour.alter(honest, inputs)
        salt = derive_salt(self.account, self.ledger.chain_id, self.ledger.address, round)
        return seal(inputs, update, salt), honest.roi_bps, rules

    def put_weights(self, sealed: SealedUpdate) -> None:
        """Store the update (pinned) before committing to it; a failed write commits nothing."""
        try:
            cid = self.store.put(sealed.payload)
        except OSError as exc:
            raise StoreWriteError(
                f"cannot write the update of round {sealed.round} to the store: {exc.strerror or exc}"
            ) from None
        if cid != sealed.cid:
            raise StoreWriteError(f"the store returned CID {cid}, expected {sealed.cid}")

    # ------------------------------------------------------------------ reveal

    def candidate_bases(self, round: int) -> list[GlobalModel]:
        """Bases the committed update may have been trained on, most likely first."""
        bases = [self.ledger.latest_global()]
        for r in range(bases[0].round - 1, -1, -1):
            model = self.ledger.finalized(r)
            if model is not None:
                bases.append(model)
            if len(bases) >= 3:
                break
        if bases[-1].round >= 0:
            bases.append(self.ledger.genesis())
        return bases

    def rebuild(self, round: int, commitment: str) -> SealedUpdate:
        """The update behind this node's on-chain `commitment`, re-derived (never stored)."""
        cached = self._sealed.get(round)
        if cached is not None and cached.commitment == commitment:
            return cached
        for base in self.candidate_bases(round):
            sealed = self.build(round, base)
            if sealed.commitment == commitment:
                return sealed
        raise CommitmentLost(
            f"cannot rebuild the update committed for round {round}: training data or code changed since the commit"
        )

    def ensure_revealed(self, round: int, report: StepReport) -> None:
        if (round, "reveal") in self.missed:
            return
        state = self.commit_state(round)
        if state.revealed or state.commitment is None or not self.behaviour.reveals:
            return
        sealed = self.rebuild(round, state.commitment)
        if not self.store.has(sealed.cid):  # lost with a wiped store: the bytes are re-derived
            self.put_weights(sealed)
        sent = self._in_window(
            round,
            "reveal",
            lambda: self.ledger.reveal(
                round, sealed.digest, sealed.cid, sealed.base_digest, sealed.roi_bps, sealed.salt
            ),
            report,
        )
        if sent is None:
            return
        tx, outcome = sent
        self._acted_in(round, "reveal", tx.block_number)
        self._sealed.pop(round, None)
        report.revealed.append(round)
        report.actions.append(
            f"revealed round {round}: claim {sealed.roi_bps} bps, on-chain outcome {outcome.name}"
        )


def describe_error(exc: FlchainError) -> str:
    """One log line for an error the daemon survives."""
    return f"{type(exc).__name__}: {exc.message}"

"""A round driver: a federation of real `NodeRunner`s played round by round, with opt-in faults.

For tests and benchmarks (nothing in the product imports `flchain.testing`). The driver holds
no protocol of its own: each node is `flchain.node.runner.NodeRunner` — the daemon's code — on
its own wallet, and every commitment, salt, reveal and attestation is the runner's
(`ensure_committed`, `ensure_revealed`, `ensure_attested`). The driver only

* deploys through `flchain.devnet.federation` (short rounds, a funded wallet per node),
* moves chain time through each phase and chooses who takes part in it (`RoundPlan.skip`,
  `RoundPlan.attesters`),
* plugs each round's faults into the runner's documented extension points: a `Behaviour`
  stack (`InflatedRoi` for a false claim, `Tampering` for a merger publishing another result)
  and, for content that is announced but never stored, the store it hands the runner
  (`WithholdingStore`). Every fault is named in `RoundPlan` and comes from the one module of
  deliberate faults, `flchain.simulate.adversaries`.

Updates come from `PerturbedUpdates` by default (valid, ~1000× faster than training); pass
`updates=HONEST` for real torch training.

`RoundDriverV2` does the same for protocol v2 on `NodeRunnerV2`: it deploys FLChainV2 itself
(the devnet beacon key, a funded pool, bonded wallets), and each phase of a round is one
`step()` of every playing node's long-lived runner — settle, open, commit, reveal, beacon,
attest, finalize and slash are the runner's; `RoundPlanV2` names who is offline, who withholds
its reveal (`NoReveal`) and who inflates its claim (`InflatedRoi`).

On anvil the v2 driver owns the clock: block timestamps move only when it moves time
(`AnvilControl.freeze_time`), so a phase that takes longer than its window in wall time is not
lost. With `workers > 1` (anvil only) the steps of one phase run at once while the driver
mines, through `flchain.simulate.phases.step_phase` — the same stepping `flchain simulate
--chain anvil` uses. What the merge reads is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from eth_account.signers.local import LocalAccount

from flchain.audit.source import SnapshotLedger
from flchain.devnet.anvil import AnvilControl
from flchain.devnet.federation import (
    deploy,
    deterministic_account,
    fund_and_register,
    genesis_model,
)
from flchain.ledger import Backend, Ledger, LedgerV2, Phase
from flchain.ledger.sending import TxPolicy
from flchain.market import OHLCV
from flchain.market.benchmark import Benchmark, benchmark_for_round
from flchain.node.behaviour import Behaviour
from flchain.node.context import bars_source
from flchain.node.logs import Failure
from flchain.node.runner import FINALIZATION_WAIT_DIVISOR, NodeRunner, StepReport
from flchain.node.runner_v2 import DevnetBeaconSource, MarketBars, NodeRunnerV2, StepReportV2
from flchain.node.salt import SaltStore
from flchain.protocol import Address, Attestation, Reveal, Rules
from flchain.protocol import digests as dg
from flchain.protocol.beacon import DevnetBeacon
from flchain.protocol.machine import Deployment, RulesV2
from flchain.protocol.machine import Phase as PhaseV2
from flchain.protocol.record import RoundRecordV2
from flchain.replay import MergeMemo, Tamper
from flchain.simulate import phases
from flchain.simulate.adversaries import InflatedRoi, NoReveal, Tampering, WithholdingStore
from flchain.simulate.phases import (
    CONCURRENT_POLL_S,
    PhaseProgress,
    PhaseTracker,
    ProgressCallback,
    SeededSalts,
    SharedBeaconSource,
    SharedMemo,
    anvil_control,
    check_workers,
)
from flchain.storage import ContentStore
from flchain.testing.updates import PERTURBED

__all__ = [
    "COMMIT_WINDOW",
    "REVEAL_WINDOW",
    "ROUND_LENGTH",
    "PhaseProgress",
    "RoundDriver",
    "RoundDriverV2",
    "RoundOutcomeV2",
    "RoundPlan",
    "RoundPlanV2",
]

#: Devnet round timing (seconds): long enough for a dozen transactions per window.
ROUND_LENGTH = 1_000
COMMIT_WINDOW = 400
REVEAL_WINDOW = 300


@dataclass
class RoundPlan:
    """Who plays one round and which deliberate faults it carries (all empty = honest).

    @param claim_offsets node -> bps added to its true ROI claim (`InflatedRoi`: a false claim,
        kept inside the rules' band so the merge, not the contract, has to catch it)
    @param withheld nodes whose payload is announced but never stored (`WithholdingStore`)
    @param attesters who attests (default: every node), in order
    @param tampers attester -> what it publishes instead of the honest replay (`Tampering`)
    @param skip nodes that sit the round out (no commit, no reveal)
    """

    claim_offsets: Mapping[Address, int] = field(default_factory=dict)
    withheld: Sequence[Address] = ()
    attesters: Sequence[Address] | None = None
    tampers: Mapping[Address, Tamper] = field(default_factory=dict)
    skip: Sequence[Address] = ()


def _lowered(nodes: Sequence[Address] | Mapping[Address, object]) -> set[str]:
    return {n.lower() for n in nodes}


@dataclass
class RoundDriver:
    """A deployment with one funded wallet per node, played round by round by `NodeRunner`s.

    @param gov the deployer's ledger (governor: schedules rules, moves devnet time)
    @param updates the update source every node's behaviour stack starts from
    """

    backend: Backend
    store: ContentStore
    gov: Ledger
    nodes: list[LocalAccount]
    updates: Behaviour = PERTURBED
    memo: MergeMemo = field(default_factory=MergeMemo)
    seed: int = 0
    bars_for: Callable[[str], OHLCV] = field(init=False)

    def __post_init__(self) -> None:
        self.bars_for = bars_source(f"partition:{self.seed}")  # each node's shipped partition

    @classmethod
    def deploy(
        cls,
        backend: Backend,
        store: ContentStore,
        n_nodes: int,
        *,
        rules: Rules | None = None,
        seed: int = 0,
        benchmark: Benchmark | None = None,
        updates: Behaviour = PERTURBED,
    ) -> RoundDriver:
        """Deploy with a genesis model in `store` and register `n_nodes` funded wallets.

        @param rules default: any ROI claim from −100 % is in band, no probation
        @param benchmark names the rules' benchmark (default: shipped window 0)
        """
        bench = benchmark or benchmark_for_round(0)
        base_rules = rules or Rules(roi_min_bps=-10_000, probation_rounds=0)
        gov, _ = deploy(
            backend,
            deterministic_account("deployer", seed),
            store,
            t0=backend.latest_timestamp() + 100,
            rules=base_rules.model_copy(update={"benchmark_id": bench.id}),
            round_length=ROUND_LENGTH,
            commit_window=COMMIT_WINDOW,
            reveal_window=REVEAL_WINDOW,
            genesis=genesis_model(seed),
        )
        nodes = [deterministic_account(f"node-{i}", seed) for i in range(n_nodes)]
        fund_and_register(gov, nodes)
        return cls(backend=backend, store=store, gov=gov, nodes=nodes, updates=updates, seed=seed)

    # -------------------------------------------------------------- reads

    @property
    def addresses(self) -> list[Address]:
        return [str(a.address) for a in self.nodes]

    def account(self, node: Address) -> LocalAccount:
        return next(a for a in self.nodes if a.address.lower() == node.lower())

    def reader(self) -> SnapshotLedger:
        """A fresh read-only view with the event log read once (fast on the embedded chain)."""
        return SnapshotLedger(self.backend, self.gov.address, from_block=self.gov.from_block)

    def reveals(self, round: int) -> tuple[Reveal, ...]:
        """The round's reveals as the chain recorded them, in reveal (= node) order."""
        return self.reader().round_record(round).reveals

    def attestation(self, round: int, node: Address) -> Attestation:
        """What `node` attested for `round`, as the chain recorded it."""
        record = self.reader().round_record(round)
        return next(a for a in record.attestations if a.attester.lower() == node.lower())

    # -------------------------------------------------------------- a round

    def runner(
        self, node: Address, behaviour: Behaviour | None = None, store: ContentStore | None = None
    ) -> NodeRunner:
        """The daemon's runner for `node` (a fresh one keeps nothing the chain does not)."""
        return NodeRunner(
            self.gov,
            self.account(node),
            store or self.store,
            self.bars_for,
            behaviour or self.updates,
            merge_memo=self.memo,
        )

    def play_round(self, round: int, plan: RoundPlan | None = None) -> dict[Address, Attestation]:
        """Commit, reveal and attest `round` with the faults in `plan`; returns each attester's
        attestation as recorded. Chain time ends inside the round's closed phase."""
        plan = plan or RoundPlan()
        skip, withheld = _lowered(plan.skip), _lowered(plan.withheld)
        offsets = {k.lower(): v for k, v in plan.claim_offsets.items()}
        players: list[NodeRunner] = []
        for node in self.addresses:
            if node.lower() in skip:
                continue
            behaviour = self.updates
            if node.lower() in offsets:
                behaviour = InflatedRoi(offsets[node.lower()], inner=behaviour)
            store = WithholdingStore(self.store) if node.lower() in withheld else self.store
            players.append(self.runner(node, behaviour, store))

        self.gov.backend.goto(self.gov.schedule, round, Phase.COMMIT)
        if round > 0 and self.gov.finalized(round - 1) is None:
            # a runner waits this long for the previous round's finalization before training
            wait = self.gov.schedule.commit_window // FINALIZATION_WAIT_DIVISOR
            self.gov.backend.goto(self.gov.schedule, round, Phase.COMMIT, offset=wait)
        for runner in players:
            runner.ensure_committed(round, StepReport(round, Phase.COMMIT))
        self.gov.backend.goto(self.gov.schedule, round, Phase.REVEAL)
        for runner in players:
            runner.ensure_revealed(round, StepReport(round, Phase.REVEAL))
        self.gov.backend.goto(self.gov.schedule, round, Phase.CLOSED)

        attesters = list(plan.attesters) if plan.attesters is not None else self.addresses
        tampers = {k.lower(): v for k, v in plan.tampers.items()}
        for node in attesters:
            tamper = tampers.get(node.lower())
            behaviour = Tampering(tamper, inner=self.updates) if tamper else self.updates
            self.runner(node, behaviour).ensure_attested(round, StepReport(round, Phase.CLOSED))
        chosen = _lowered(attesters)
        record = self.reader().round_record(round)
        return {a.attester: a for a in record.attestations if a.attester.lower() in chosen}


# ==================================================================== protocol v2

#: Devnet timing of a v2 round (seconds): commit, reveal, beacon windows and the attest window
#: (the rest of the round), each long enough for a dozen transactions.
V2_BEACON_WINDOW = 100
V2_EXIT_DELAY = 2 * ROUND_LENGTH
#: The devnet beacon's seed: a stand-in for drand that anyone who reads this can forge (§6).
V2_BEACON_SEED = b"flchain.testing devnet beacon"
ETHER = 10**18


def v2_deployment(t0: int, genesis: bytes, beacon: DevnetBeacon, min_bond: int) -> Deployment:
    """A devnet `Deployment` with round 0 at `t0` (the driver's timing, the beacon's key)."""
    digest = dg.sha256(genesis)
    return Deployment(
        t0=t0,
        round_length=ROUND_LENGTH,
        commit_window=COMMIT_WINDOW,
        reveal_window=REVEAL_WINDOW,
        beacon_window=V2_BEACON_WINDOW,
        exit_delay=V2_EXIT_DELAY,
        min_notice_rounds=1,
        min_bond=min_bond,
        genesis_digest=digest,
        genesis_cid=dg.raw_leaf_cid(digest),
        beacon_genesis=t0 - V2_BEACON_WINDOW,
        beacon_period=3,
        beacon_delay=10,
        beacon_public_key=beacon.public_key,
    )


@dataclass
class RoundPlanV2:
    """Who plays one v2 round and which deliberate faults it carries (all empty = honest).

    @param skip nodes that take no step at all in the round (offline)
    @param withheld nodes that commit and never reveal (`NoReveal`)
    @param attesters who steps in the attest window (default: every node not skipped), in order
    @param claim_offsets node -> bps added to its true ROI claim (`InflatedRoi`)
    """

    skip: Sequence[Address] = ()
    withheld: Sequence[Address] = ()
    attesters: Sequence[Address] | None = None
    claim_offsets: Mapping[Address, int] = field(default_factory=dict)


@dataclass
class RoundOutcomeV2:
    """What one played round left: each node's step reports, in phase order, and the record."""

    round: int
    reports: dict[Address, list[StepReportV2]]
    record: RoundRecordV2

    @property
    def failures(self) -> list[Failure]:
        return [f for reps in self.reports.values() for r in reps for f in r.failures]


@dataclass
class RoundDriverV2:
    """A FLChainV2 deployment with one funded, bonded wallet per node, played round by round by
    `NodeRunnerV2.step()` — the daemon's code; the driver only moves devnet time through each
    phase and chooses who steps (and with which fault from `flchain.simulate.adversaries`).

    @param salts_dir where each node's `SaltStore` persists (None: in memory)
    @param salt_seed draw every node's salts from this seed (`SeededSalts`) instead of the OS
    @param workers nodes stepped at once in a phase (1: one after another; more needs anvil)
    @param progress told after each node's step of a phase (`PhaseProgress`)
    @param market_bars every node's bars of the rules' market, for forward windows (None: no
        node builds one, so none votes)
    """

    backend: Backend
    store: ContentStore
    gov: LedgerV2
    nodes: list[LocalAccount]
    beacon: DevnetBeacon
    updates: Behaviour = PERTURBED
    memo: MergeMemo = field(default_factory=SharedMemo)
    seed: int = 0
    salts_dir: Path | None = None
    salt_seed: bytes | None = None
    workers: int = 1
    progress: ProgressCallback | None = None
    market_bars: MarketBars | None = None
    bars_for: Callable[[str], OHLCV] = field(init=False)
    _runners: dict[str, NodeRunnerV2] = field(init=False, default_factory=dict)
    beacon_source: DevnetBeaconSource = field(init=False)
    control: AnvilControl | None = field(init=False)

    def __post_init__(self) -> None:
        self.bars_for = bars_source(f"partition:{self.seed}")
        self.beacon_source = SharedBeaconSource(self.beacon)  # one signature a round for all
        self.control = anvil_control(self.backend)
        check_workers(self.backend, self.workers)
        if self.control is not None:
            self.control.freeze_time()  # the driver's goto is the only clock

    @classmethod
    def deploy(
        cls,
        backend: Backend,
        store: ContentStore,
        n_nodes: int,
        *,
        rules: RulesV2 | None = None,
        seed: int = 0,
        benchmark: Benchmark | None = None,
        updates: Behaviour = PERTURBED,
        bond: int = ETHER,
        pool: int = 10 * ETHER,
        salts_dir: Path | None = None,
        salt_seed: bytes | None = None,
        workers: int = 1,
        progress: ProgressCallback | None = None,
    ) -> RoundDriverV2:
        """Deploy FLChainV2 with a genesis model in `store`, fund the pool with `pool` wei and
        register `n_nodes` wallets with `bond` wei each (they take part from round 0).

        @param rules default: any ROI claim from −100 % is in band, no probation, an emission
            of 1 ETH a round; its benchmark id is replaced by `benchmark`'s
        @param benchmark default: shipped window 0
        @param workers see the class (registrations are sent one by one all the same: their
            order numbers the nodes, and the settlement table is in that order)
        """
        check_workers(backend, workers)
        control = anvil_control(backend)
        if control is not None:
            control.freeze_time()
        bench = benchmark or benchmark_for_round(0)
        base = rules or RulesV2(
            roi_min_bps=-10_000, probation_rounds=0, emission_wei=ETHER, notice_rounds=1
        )
        base = replace(base, benchmark_id=bytes.fromhex(bench.id.removeprefix("0x")))
        genesis = genesis_model(seed).payload
        store.put(genesis)
        beacon = DevnetBeacon(V2_BEACON_SEED + seed.to_bytes(8, "big"))
        deployer = deterministic_account("deployer-v2", seed)
        backend.fund(deployer.address, 100 * ETHER + pool)
        lead = 4 * ROUND_LENGTH  # round 0 starts after every registration is mined
        d = v2_deployment(backend.latest_timestamp() + lead, genesis, beacon, min(bond, ETHER))
        policy = TxPolicy(poll_s=CONCURRENT_POLL_S) if workers > 1 else None
        gov = LedgerV2.deploy(backend, deployer, d, base, policy)
        gov.fund_pool(pool)
        nodes = [deterministic_account(f"node-v2-{i}", seed) for i in range(n_nodes)]
        for account in nodes:  # in order: registration order is each node's index
            backend.fund(account.address, 100 * ETHER + bond)
            gov.with_account(account).register(bond)
        return cls(
            backend=backend, store=store, gov=gov, nodes=nodes, beacon=beacon,
            updates=updates, seed=seed, salts_dir=salts_dir, salt_seed=salt_seed,
            workers=workers, progress=progress,
        )  # fmt: skip

    # -------------------------------------------------------------- reads

    @property
    def addresses(self) -> list[Address]:
        return [str(a.address) for a in self.nodes]

    def account(self, node: Address) -> LocalAccount:
        return next(a for a in self.nodes if a.address.lower() == node.lower())

    def record(self, round: int) -> RoundRecordV2:
        return self.gov.round_record_v2(round)

    # -------------------------------------------------------------- runners

    def salts(self, node: Address) -> SaltStore:
        if self.salt_seed is not None:
            return SeededSalts(self.salt_seed, node)
        if self.salts_dir is None:
            return SaltStore(None)
        gov = self.gov
        return SaltStore.for_node(self.salts_dir, gov.chain_id, gov.address, node)

    def new_runner(
        self,
        node: Address,
        behaviour: Behaviour | None = None,
        store: ContentStore | None = None,
        market_bars: MarketBars | None = None,
    ) -> NodeRunnerV2:
        """A fresh runner for `node`, as a restarted daemon builds it (its salts on disk when
        the driver has a `salts_dir`); `market_bars` replaces the driver's for this node."""
        return NodeRunnerV2(
            self.gov,
            self.account(node),
            store or self.store,
            self.bars_for,
            salts=self.salts(node),
            beacon=self.beacon_source,
            behaviour=behaviour or self.updates,
            merge_memo=self.memo,
            market_bars=market_bars or self.market_bars,
        )

    def runner(self, node: Address) -> NodeRunnerV2:
        """`node`'s long-lived runner (what one daemon keeps between steps)."""
        key = node.lower()
        if key not in self._runners:
            self._runners[key] = self.new_runner(node)
        return self._runners[key]

    def set_runner(self, node: Address, runner: NodeRunnerV2) -> None:
        """Replace `node`'s runner (a restart, or a runner with a fault or another store)."""
        self._runners[node.lower()] = runner

    # -------------------------------------------------------------- a round

    def goto(self, round: int, phase: PhaseV2, offset: int = 5) -> None:
        """Move devnet time `offset` s into `phase` of `round`, unless it is there already."""
        if self.gov.phase() != (round, phase):
            self.gov.goto(round, phase, offset)

    def play_round(
        self,
        round: int,
        plan: RoundPlanV2 | None = None,
        step: Callable[[NodeRunnerV2], StepReportV2] | None = None,
    ) -> RoundOutcomeV2:
        """Step every playing node once in each phase of `round` (commit, reveal, beacon,
        attest; `step_phase`); chain time ends inside the attest window, after every
        attester's step."""
        plan = plan or RoundPlanV2()
        skip, withheld = _lowered(plan.skip), _lowered(plan.withheld)
        offsets = {k.lower(): v for k, v in plan.claim_offsets.items()}
        players = [n for n in self.addresses if n.lower() not in skip]
        for node in players:  # each round's faults, on the node's long-lived runner
            behaviour = self.updates
            if node.lower() in offsets:
                behaviour = InflatedRoi(offsets[node.lower()], inner=behaviour)
            if node.lower() in withheld:
                behaviour = NoReveal(inner=behaviour)
            self.runner(node).behaviour = behaviour
        reports: dict[Address, list[StepReportV2]] = {n: [] for n in players}
        attesters = list(plan.attesters) if plan.attesters is not None else players
        for phase, who in (
            (PhaseV2.COMMIT, players),
            (PhaseV2.REVEAL, players),
            (PhaseV2.BEACON, players),
            (PhaseV2.ATTEST, attesters),
        ):
            for node, report in self.step_phase(round, phase, who, step).items():
                reports.setdefault(node, []).append(report)
        return RoundOutcomeV2(round, reports, self.record(round))

    def step_phase(
        self,
        round: int,
        phase: PhaseV2,
        nodes: Sequence[Address] | None = None,
        step: Callable[[NodeRunnerV2], StepReportV2] | None = None,
    ) -> dict[Address, StepReportV2]:
        """Move devnet time into `phase` of `round` and step each of `nodes` (default: all)
        once through `step` (default: `runner.step()`; a test passes the daemon's loop): in
        order, or `workers` at a time while the driver mines. Reports come in `nodes` order."""
        self.goto(round, phase)
        who = list(self.addresses if nodes is None else nodes)
        reports = phases.step_phase(
            round, phase, [self.runner(n) for n in who], step=step, control=self.control,
            workers=self.workers, tracker=PhaseTracker(round, phase, len(who), self.progress),
        )  # fmt: skip
        return dict(zip(who, reports, strict=True))

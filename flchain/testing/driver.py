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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount

from flchain.audit.source import SnapshotLedger
from flchain.devnet.federation import (
    deploy,
    deterministic_account,
    fund_and_register,
    genesis_model,
)
from flchain.ledger import Backend, Ledger, Phase
from flchain.market import OHLCV
from flchain.market.benchmark import Benchmark, benchmark_for_round
from flchain.node.behaviour import Behaviour
from flchain.node.context import bars_source
from flchain.node.runner import FINALIZATION_WAIT_DIVISOR, NodeRunner, StepReport
from flchain.protocol import Address, Attestation, Reveal, Rules
from flchain.replay import MergeMemo, Tamper
from flchain.simulate.adversaries import InflatedRoi, Tampering, WithholdingStore
from flchain.storage import ContentStore
from flchain.testing.updates import PERTURBED

__all__ = ["COMMIT_WINDOW", "REVEAL_WINDOW", "ROUND_LENGTH", "RoundDriver", "RoundPlan"]

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

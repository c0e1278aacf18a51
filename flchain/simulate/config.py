"""What a simulation run is and what it records: the shape of its `summary.json`.

`SimulationConfig` (every knob, validated), the roles it assigns (honest first, adversaries in
the last slots), and the result models the run, the table and the plot share.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field, model_validator

from flchain.devnet.federation import deterministic_account
from flchain.devnet.profile import StoreBackend
from flchain.errors import ConfigError
from flchain.simulate.adversaries import ADVERSARY_KINDS, OPT_IN_KINDS, V2_ADVERSARIES

__all__ = [
    "COPYCAT_CLUSTER",
    "HONEST_SHARE_PPM",
    "MAX_PLANTED_DAYS",
    "SIM_T0",
    "AdversaryReport",
    "ChainKind",
    "MarketKind",
    "NodeBalance",
    "NodeRanking",
    "NodeRole",
    "RoundSummary",
    "SimulationConfig",
    "SimulationError",
    "SimulationResult",
    "StakeSplit",
    "StoreKind",
    "adversary_slots",
    "assign_roles",
    "parse_adversaries",
]

#: A fixed future genesis time: blocks are stamped from travelled time only, so a journal
#: replays to the same timestamps on any day.
SIM_T0 = 2_000_000_000
#: How many nodes copy one strategy in the copycat cluster.
COPYCAT_CLUSTER = 3
ChainKind = Literal["embedded", "anvil"]
StoreKind = StoreBackend
ProtocolVersion = Literal[1, 2]
#: real: the shipped BTC-USD partitions and benchmark; planted: the planted-signal market
#: (`flchain.market.planted`) on the simulated chain clock (`flchain.simulate.market`)
MarketKind = Literal["real", "planted"]
#: The planted world has 7 000 bars (72 days of 15-minute bars) after its claim window: a
#: forward window per day, and a day of slack.
MAX_PLANTED_DAYS = 70
#: The honest share of every round's frozen stake a v2 run is set up with (docs/security.md:
#: the simulation runs each attack with honest stake ≥ 70 %), in ppm.
HONEST_SHARE_PPM = 700_000


class SimulationError(ConfigError):
    """The simulation was asked for something it cannot do (bad node count, unknown adversary,
    existing run folder)."""


class SimulationConfig(BaseModel):
    """Everything a simulation run depends on (all of it goes into summary.json)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nodes: int = Field(10, ge=1, le=1_000)
    days: int = Field(7, ge=1, le=365)
    adversaries: tuple[str, ...] = ()
    chain: ChainKind = "embedded"
    store: StoreKind = "local"
    seed: int = Field(0, ge=0)
    max_bars: int = Field(
        1_500, ge=300, description="most recent bars of each node's partition used to train"
    )
    protocol: ProtocolVersion = 2
    workers: int = Field(
        16,
        ge=1,
        le=256,
        description="v2 on anvil: nodes stepped at once in a phase (1: one after another)",
    )
    processes: int | None = Field(
        None,
        ge=1,
        le=64,
        description=(
            "v2 on anvil with workers > 1: processes in all, the simulation's and N - 1 "
            "training the honest nodes' updates (1, the default: in the nodes' threads)"
        ),
    )
    market: MarketKind = "real"
    #: forward scoring on (docs/protocol.md §15): the planted market's rules with a day's
    #: forward window per round, voted two rounds later; the record ranks, weighs and pays
    forward: bool = False

    @model_validator(mode="after")
    def _processes_fit(self) -> SimulationConfig:
        concurrent = self.chain == "anvil" and self.workers > 1 and self.protocol == 2
        if (self.processes or 1) > 1 and not concurrent:
            raise ValueError(
                "worker processes (--processes) train beside nodes stepped at once: they need "
                "--chain anvil, --workers 2 or more and protocol 2; use --processes 1"
            )
        return self

    @model_validator(mode="after")
    def _market_fits(self) -> SimulationConfig:
        if self.forward and self.market != "planted":
            raise ValueError("forward scoring runs on the planted market (--market planted)")
        if self.market == "planted" and self.protocol != 2:
            raise ValueError("the planted market runs on protocol v2 only")
        if self.market == "planted" and self.days > MAX_PLANTED_DAYS:
            raise ValueError(f"the planted market has bars for {MAX_PLANTED_DAYS} days at most")
        return self

    def run_name(self) -> str:
        adv = (
            "honest"
            if not self.adversaries
            else (
                "all"
                if set(self.adversaries) == set(adversary_kinds(self.protocol))
                else "+".join(self.adversaries)
            )
        )
        version = "" if self.protocol == 2 else "-v1"
        market = "" if self.market == "real" else f"-{self.market}"
        forward = "-fwd" if self.forward else ""
        return (
            f"sim-n{self.nodes}-d{self.days}-{adv}-{self.chain}-{self.store}-s{self.seed}"
            f"{version}{market}{forward}"
        )

    @property
    def node_adversaries(self) -> tuple[str, ...]:
        """The adversaries that take node slots of `--nodes` (the runner faults)."""
        return tuple(k for k in self.adversaries if k in ADVERSARY_KINDS + OPT_IN_KINDS)

    @property
    def wallet_adversaries(self) -> tuple[str, ...]:
        """Protocol v2's adversaries, which bring wallets of their own beyond `--nodes`."""
        return tuple(k for k in self.adversaries if k in V2_ADVERSARIES)


class NodeRole(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    address: str
    behaviour: str


class RoundSummary(BaseModel):
    """One row of the table."""

    model_config = ConfigDict(frozen=True)

    round: int
    commits: int
    reveals: int
    accepted: int
    rejected: dict[str, int]
    clusters: list[int]  # sizes of clusters with more than one member
    directives: int
    directives_in_force: int
    attestations: int
    conflicting_results: int
    finalized: bool
    global_roi_bps: int | None
    manifest_cid: str | None
    penalised: list[str]
    #: protocol v2: "final" or "skipped" (v1 runs: "final" or "open")
    finality: str = "final"
    #: protocol v2: the honest share of the round's frozen stake, ppm (None on v1)
    honest_stake_ppm: int | None = None


class NodeBalance(BaseModel):
    """A wallet's bond and rewards over the run, read from the chain at its end (v2)."""

    model_config = ConfigDict(frozen=True)

    name: str
    address: str
    behaviour: str
    bond_start: int  # wei, as registered
    bond_end: int  # wei, the contract's record at the end (0 after a withdrawal)
    added: int  # top-ups (BondAdded)
    earned: int  # rewards paid or credited (Settled.paid)
    slashed: int  # every Slashed amount
    withdrawn: int  # Withdrawn.amount


class AdversaryReport(BaseModel):
    """One v2 adversary: what it tried, what stopped it, what it cost (the table's lines)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    wallets: int
    tried: str
    rule: str
    answers: dict[str, int]  # what the chain answered, and how often
    slashed: int  # wei, over all its wallets
    earned: int


class NodeRanking(BaseModel):
    """What ranked, weighed and paid one node over the final rounds (v2): its claims, its
    forward record (forward scoring on), the rounds it was merged in and its merge weight."""

    model_config = ConfigDict(frozen=True)

    name: str
    address: str
    behaviour: str
    mean_claim_bps: int | None  # over its reveals
    record_score_bps: int | None  # the last final round's record score (forward scoring on)
    scored_rounds: int  # rounds its record was scored in
    merged_rounds: int  # final rounds it was merged in
    weight_ppm: int  # its share of the merge weights, summed over the final merged rounds
    earned: int  # wei paid or credited (Settled)


class StakeSplit(BaseModel):
    """The frozen stake a v2 run starts with: honest and adversarial, wei."""

    model_config = ConfigDict(frozen=True)

    honest: int
    adversarial: int
    honest_bond: int
    min_honest_ppm: int  # the smallest honest share of any round's frozen stake

    @property
    def honest_ppm(self) -> int:
        total = self.honest + self.adversarial
        return self.honest * 1_000_000 // total if total else 1_000_000


class SimulationResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    config: SimulationConfig
    run_dir: Path
    contract: str
    chain_id: int
    roles: list[NodeRole]
    rounds: list[RoundSummary]
    outcomes: dict[str, list[str]]  # address -> outcome per round
    genesis_roi_bps: int
    wall_seconds: float
    peak_memory_mib: float | None = None
    protocol: ProtocolVersion = 1
    stake: StakeSplit | None = None
    balances: list[NodeBalance] = Field(default_factory=list)
    adversary_reports: list[AdversaryReport] = Field(default_factory=list)
    ranking: list[NodeRanking] = Field(default_factory=list)  # planted-market runs


def adversary_kinds(protocol: int) -> tuple[str, ...]:
    """Every adversary name of a protocol, in the order `--adversaries all` assigns them:
    v1's runner faults, then (v2) the attacks of docs/security.md."""
    return ADVERSARY_KINDS + (tuple(V2_ADVERSARIES) if protocol == 2 else ())


def parse_adversaries(text: str | None, protocol: int = 2) -> tuple[str, ...]:
    """`all`, `none`, or a comma list of adversary kinds, in the canonical kind order."""
    known = adversary_kinds(protocol) + OPT_IN_KINDS
    if text is None or text.strip() in ("", "none"):
        return ()
    if text.strip() == "all":
        return adversary_kinds(protocol)
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in known]
    if unknown:
        hint = " (a protocol v2 attack)" if unknown[0] in V2_ADVERSARIES else ""
        raise SimulationError(
            f"unknown adversary {unknown[0]!r}{hint} for protocol v{protocol}; known: "
            f"{', '.join(known)} (or all)"
        )
    return tuple(k for k in known if k in kinds)


def adversary_slots(adversaries: Sequence[str]) -> list[str]:
    """One behaviour kind per adversarial node (the copycat kind takes a whole cluster)."""
    slots: list[str] = []
    for kind in adversaries:
        slots.extend([kind] * (COPYCAT_CLUSTER if kind == "copycat" else 1))
    return slots


def assign_roles(config: SimulationConfig) -> list[tuple[str, LocalAccount, str]]:
    """(name, account, behaviour kind) per node: honest first, adversaries in the last slots.

    At least two honest-merging nodes beyond the adversaries are required so that the honest
    attesters outnumber the wrong one and reach the majority quorum.
    """
    slots = adversary_slots(config.node_adversaries)
    if config.nodes < len(slots) + 2:
        raise SimulationError(
            f"{len(slots)} adversarial nodes need at least {len(slots) + 2} nodes (got --nodes {config.nodes})"
        )
    kinds = ["honest"] * (config.nodes - len(slots)) + slots
    return [
        (f"node-{i:03d}", deterministic_account(f"node-{i:03d}", config.seed), kind)
        for i, kind in enumerate(kinds)
    ]

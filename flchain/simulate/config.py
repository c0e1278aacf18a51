"""What a simulation run is and what it records: the shape of its `summary.json`.

`SimulationConfig` (every knob, validated), the roles it assigns (honest first, adversaries in
the last slots), and the result models the run, the table and the plot share.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field

from flchain.devnet.federation import deterministic_account
from flchain.devnet.profile import StoreBackend
from flchain.errors import ConfigError
from flchain.simulate.adversaries import ADVERSARY_KINDS

__all__ = [
    "COPYCAT_CLUSTER",
    "SIM_T0",
    "ChainKind",
    "NodeRole",
    "RoundSummary",
    "SimulationConfig",
    "SimulationError",
    "SimulationResult",
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

    def run_name(self) -> str:
        adv = (
            "honest"
            if not self.adversaries
            else (
                "all"
                if set(self.adversaries) == set(ADVERSARY_KINDS)
                else "+".join(self.adversaries)
            )
        )
        return f"sim-n{self.nodes}-d{self.days}-{adv}-{self.chain}-{self.store}-s{self.seed}"


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


def parse_adversaries(text: str | None) -> tuple[str, ...]:
    """`all`, `none`, or a comma list of adversary kinds, in the canonical kind order."""
    if text is None or text.strip() in ("", "none"):
        return ()
    if text.strip() == "all":
        return ADVERSARY_KINDS
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ADVERSARY_KINDS]
    if unknown:
        raise SimulationError(
            f"unknown adversary {unknown[0]!r}; known: {', '.join(ADVERSARY_KINDS)} (or all)"
        )
    return tuple(k for k in ADVERSARY_KINDS if k in kinds)


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
    slots = adversary_slots(config.adversaries)
    if config.nodes < len(slots) + 2:
        raise SimulationError(
            f"{len(slots)} adversarial nodes need at least {len(slots) + 2} nodes (got --nodes {config.nodes})"
        )
    kinds = ["honest"] * (config.nodes - len(slots)) + slots
    return [
        (f"node-{i:03d}", deterministic_account(f"node-{i:03d}", config.seed), kind)
        for i, kind in enumerate(kinds)
    ]

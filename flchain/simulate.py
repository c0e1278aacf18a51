"""`flchain simulate`: a whole federation — chain, store, N nodes, D days — in one command.

The simulation deploys the contract with devnet rules, registers N deterministic devnet
wallets, and then, for each simulated day, moves chain time into the commit window, the reveal
window and past it, calling `NodeRunner.step()` on every node at each stop — the very code the
daemon runs — so each node commits, reveals and attests on its own. Misbehaving nodes are the
same runner with a `Behaviour` that alters one documented point (see `flchain.node.behaviour`).

At the end it writes a run folder that is enough to audit the run afterwards:

    summary.json      configuration, roles, per-round table, per-node outcomes, timings
    profile.json      a DevnetProfile naming the chain, the contract and the store below
    chain.jsonl       embedded chain: journal of every signed transaction and time step
                      (`flchain.devnet.journal.replay_journal` rebuilds the chain from it)
    anvil-state.json  anvil chain: `anvil_dumpState` (start anvil with `--load-state` on it)
    events.json       every contract event, decoded, with block timestamps
    store/            local blockstore with genesis, every update, merged model and manifest
    manifests/        each round's manifest, pretty-printed for reading
    table.txt         the per-round table as printed
    plot.png          global model benchmark ROI by round, and each node's outcome per round
"""

from __future__ import annotations

import json
import shutil
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field
from rich import box
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flchain.config import DevnetProfile, ProfileWallet, save_profile
from flchain.devnet.federation import (
    Genesis,
    deploy,
    deterministic_account,
    devnet_rules,
    fund_and_register,
)
from flchain.devnet.journal import JournaledEmbeddedBackend, save_journal
from flchain.errors import ConfigError
from flchain.ledger import Backend, Ledger, Phase
from flchain.market import OHLCV
from flchain.market.partition import node_partition
from flchain.merge.reasons import REASON_LABELS, reason_label  # shared with the audit report
from flchain.model import config_from_metadata
from flchain.node.behaviour import ADVERSARY_KINDS, HONEST, behaviour_for
from flchain.node.runner import NodeRunner
from flchain.node.update import claim_roi_bps
from flchain.protocol import RevealOutcome, RoundRecord
from flchain.replay import MergeMemo, benchmark_for_rules, parse_manifest
from flchain.storage import ContentStore, LocalStore
from flchain.storage.weights import decode_weights

__all__ = [
    "COPYCAT_CLUSTER",
    "REASON_LABELS",
    "NodeRole",
    "RoundSummary",
    "SimulationConfig",
    "SimulationError",
    "SimulationResult",
    "assign_roles",
    "parse_adversaries",
    "print_report",
    "reason_label",
    "rejection_legend",
    "report_renderables",
    "round_table",
    "run_simulation",
    "write_plot",
]

#: A fixed future genesis time: blocks are stamped from travelled time only, so a journal
#: replays to the same timestamps on any day.
SIM_T0 = 2_000_000_000
#: How many nodes copy one strategy in the copycat cluster.
COPYCAT_CLUSTER = 3
ChainKind = Literal["embedded", "anvil"]
StoreKind = Literal["local", "ipfs"]


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


# ------------------------------------------------------------------------------ environment


@contextmanager
def _environment(
    config: SimulationConfig, work: Path
) -> Iterator[tuple[Backend, ContentStore, dict[str, Any]]]:
    """Chain backend and content store for the run (started here, stopped on exit)."""
    info: dict[str, Any] = {}
    with ExitStack() as stack:
        backend: Backend
        if config.chain == "embedded":
            backend = JournaledEmbeddedBackend()
            backend.set_time(SIM_T0 - 3_600)
        else:
            from flchain.devnet.anvil import AnvilProcess
            from flchain.ledger import RpcBackend

            anvil = stack.enter_context(AnvilProcess())
            backend = RpcBackend(anvil.url, kind="anvil")
            info["anvil_url"] = anvil.url
        store: ContentStore
        if config.store == "local":
            store = LocalStore(work / "store", fsync=False)
        else:
            from flchain.devnet.ipfsd import IpfsDaemon
            from flchain.storage import IpfsClient

            daemon = stack.enter_context(IpfsDaemon())
            store = IpfsClient(daemon.url)
            info["ipfs_url"] = daemon.url
        yield backend, store, info


def _bars_source(config: SimulationConfig) -> Callable[[str], OHLCV]:
    cache: dict[str, OHLCV] = {}

    def bars_for(identity: str) -> OHLCV:
        if identity not in cache:
            bars, _ = node_partition(identity, seed=config.seed)
            cache[identity] = bars.slice(max(0, len(bars) - config.max_bars), len(bars))
        return cache[identity]

    return bars_for


# ------------------------------------------------------------------------------ per round


def _outcome_of(record: RoundRecord, manifest: dict[str, Any] | None, address: str) -> str:
    committed = any(c.node.lower() == address.lower() for c in record.commitments)
    reveal = next((r for r in record.reveals if r.node.lower() == address.lower()), None)
    if not committed:
        return "no_commit"
    if reveal is None:
        return "no_reveal"
    if reveal.outcome != RevealOutcome.ACCEPTED:
        return {
            RevealOutcome.REJECTED_ABNORMAL_ROI: "rejected_on_chain_abnormal_roi",
            RevealOutcome.REJECTED_INELIGIBLE: "rejected_on_chain_ineligible",
        }[reveal.outcome]
    if manifest is None:
        return "not_merged"
    entry = next(
        (i for i in manifest.get("inputs", []) if str(i["node"]).lower() == address.lower()), None
    )
    return str(entry["reason"]) if entry else "not_merged"


def summarise_round(
    ledger: Ledger, store: ContentStore, round: int, roles: Sequence[NodeRole]
) -> tuple[RoundSummary, dict[str, str], dict[str, Any] | None]:
    """The table row, each node's outcome and the manifest of `round` (from chain + store)."""
    record = ledger.round_record(round)
    manifest: dict[str, Any] | None = None
    global_roi: int | None = None
    if record.finalized is not None and record.finalized.manifest_cid:
        manifest = parse_manifest(store.get(record.finalized.manifest_cid))
        merged = store.get(record.finalized.cid)
        config = config_from_metadata(decode_weights(merged)[1])
        global_roi = claim_roi_bps(
            merged, config, benchmark_for_rules(record.rules, round), record.rules
        )
    outcomes = {role.address: _outcome_of(record, manifest, role.address) for role in roles}
    counted = Counter(o for o in outcomes.values() if o not in ("accepted", "no_commit"))
    results = {a.result_hash for a in record.attestations}
    clusters = [len(c) for c in (manifest or {}).get("clusters", []) if len(c) > 1]
    row = RoundSummary(
        round=round,
        commits=len(record.commitments),
        reveals=len(record.reveals),
        accepted=sum(1 for o in outcomes.values() if o == "accepted"),
        rejected=dict(sorted(counted.items())),
        clusters=clusters,
        directives=len((manifest or {}).get("directives", [])),
        directives_in_force=len((manifest or {}).get("directives_in_force", [])),
        attestations=len(record.attestations),
        conflicting_results=max(0, len(results) - 1),
        finalized=record.finalized is not None,
        global_roi_bps=global_roi,
        manifest_cid=record.finalized.manifest_cid if record.finalized else None,
        penalised=list((manifest or {}).get("penalised", [])),
    )
    return row, outcomes, manifest


# ------------------------------------------------------------------------------ the run


def run_simulation(
    config: SimulationConfig,
    out: Path | None = None,
    *,
    force: bool = False,
    console: Console | None = None,
    progress: bool = True,
    measure_memory: bool = False,
) -> SimulationResult:
    """Run the federation and write its run folder (atomically: a temp folder renamed at the end).

    @param out run folder (default `runs/<config.run_name()>`)
    @param force replace an existing run folder
    @raises SimulationError on bad configuration or an existing folder without `force`
    """
    console = console or Console(stderr=True)
    run_dir = Path(out) if out is not None else Path("runs") / config.run_name()
    if run_dir.exists() and any(run_dir.iterdir()) and not force:
        raise SimulationError(
            f"run folder {run_dir} already exists; pass --force to replace it or --out elsewhere"
        )
    roles_spec = assign_roles(config)
    work = run_dir.parent / f".{run_dir.name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    if measure_memory:
        tracemalloc.start()
    try:
        result = _run(config, roles_spec, work, run_dir, console, progress, started)
        peak = None
        if measure_memory:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
        result = result.model_copy(update={"peak_memory_mib": peak})
        (work / "summary.json").write_text(result.model_dump_json(indent=2) + "\n")
        if run_dir.exists():
            shutil.rmtree(run_dir)
        work.rename(run_dir)
        return result
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if measure_memory:
            tracemalloc.stop()


def _run(
    config: SimulationConfig,
    roles_spec: list[tuple[str, LocalAccount, str]],
    work: Path,
    run_dir: Path,
    console: Console,
    show_progress: bool,
    started: float,
) -> SimulationResult:
    with _environment(config, work) as (backend, store, info):
        deployer = deterministic_account("deployer", config.seed)
        rules = devnet_rules(config.nodes)
        ledger, genesis = deploy(backend, deployer, store, t0=SIM_T0, rules=rules)
        accounts = [acct for _, acct, _ in roles_spec]
        fund_and_register(ledger, accounts)
        roles = [NodeRole(name=n, address=a.address, behaviour=k) for n, a, k in roles_spec]
        bars_for = _bars_source(config)
        leader = next((a.address for _, a, k in roles_spec if k == "copycat"), None)
        # One memo of the pure merge for the whole federation: each node still replays the
        # round from events and fetches every input itself, only the arithmetic is shared.
        memo = MergeMemo()
        runners = [
            NodeRunner(
                ledger,
                acct,
                store,
                bars_for,
                HONEST if kind == "honest" else behaviour_for(kind, leader),
                merge_memo=memo,
            )
            for _, acct, kind in roles_spec
        ]
        rows: list[RoundSummary] = []
        outcomes: dict[str, list[str]] = {r.address: [] for r in roles}
        manifests: dict[int, dict[str, Any]] = {}
        phases = (Phase.COMMIT, Phase.REVEAL, Phase.CLOSED)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not show_progress,
            transient=False,
        ) as bar:
            task = bar.add_task("simulating", total=config.days * len(phases) * len(runners))
            for day in range(config.days):
                for phase in phases:
                    ledger.backend.goto(ledger.schedule, day, phase, offset=1)
                    for runner in runners:
                        bar.update(
                            task,
                            description=f"day {day} {phase.name.lower():6s} {runner.address[:10]}…",
                        )
                        runner.step()
                        bar.advance(task)
                row, per_node, manifest = summarise_round(ledger, store, day, roles)
                rows.append(row)
                if manifest is not None:
                    manifests[day] = manifest
                for address, outcome in per_node.items():
                    outcomes[address].append(outcome)
        genesis_roi = _genesis_roi(genesis, ledger)
        _write_run_folder(
            work, run_dir, config, backend, store, ledger, genesis, roles, manifests, info
        )
        result = SimulationResult(
            config=config,
            run_dir=run_dir,
            contract=ledger.address,
            chain_id=ledger.chain_id,
            roles=roles,
            rounds=rows,
            outcomes=outcomes,
            genesis_roi_bps=genesis_roi,
            wall_seconds=round(time.perf_counter() - started, 3),
        )
        with (work / "table.txt").open("w") as fh:
            text = Console(file=fh, width=100, color_system=None)
            for renderable in report_renderables(result):
                text.print(renderable)
        write_plot(result, work / "plot.png")
        return result


def _genesis_roi(genesis: Genesis, ledger: Ledger) -> int:
    rules = ledger.rules_for_round(0)
    config = config_from_metadata(decode_weights(genesis.payload)[1])
    return claim_roi_bps(genesis.payload, config, benchmark_for_rules(rules, 0), rules)


def _write_run_folder(
    work: Path,
    run_dir: Path,
    config: SimulationConfig,
    backend: Backend,
    store: ContentStore,
    ledger: Ledger,
    genesis: Genesis,
    roles: Sequence[NodeRole],
    manifests: dict[int, dict[str, Any]],
    info: dict[str, Any],
) -> None:
    events = ledger.events()
    times = {e.block_number: ledger.block_timestamp(e.block_number) for e in events}
    (work / "events.json").write_text(
        json.dumps(
            [{**e.log_record(), "timestamp": times[e.block_number]} for e in events], indent=1
        )
        + "\n"
    )
    mdir = work / "manifests"
    mdir.mkdir()
    for day, manifest in manifests.items():
        (mdir / f"round-{day:04d}.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        )
    if isinstance(backend, JournaledEmbeddedBackend):
        save_journal(backend, work / "chain.jsonl")
    else:
        state = backend.w3.provider.make_request("anvil_dumpState", [])  # type: ignore[arg-type]
        (work / "anvil-state.json").write_text(
            json.dumps({"anvil_url": info.get("anvil_url"), "state": state.get("result")}) + "\n"
        )
    if not isinstance(store, LocalStore):  # copy everything the audit needs into a local store
        local = LocalStore(work / "store", fsync=False)
        for cid in _referenced_cids(ledger, genesis):
            if store.has(cid):
                local.put(store.get(cid))
    profile = DevnetProfile(
        chain="embedded" if config.chain == "embedded" else "anvil",
        rpc_url=None if config.chain == "embedded" else info.get("anvil_url"),
        state_dir=Path(".") if config.chain == "embedded" else None,  # relative to the profile
        chain_id=ledger.chain_id,
        contract=ledger.address,
        deployment_block=ledger.from_block,
        store="local",
        store_dir=Path("store"),
        keystore_dir=Path("keystores"),
        wallets=tuple(ProfileWallet(name=r.name, address=r.address) for r in roles),
        genesis_cid=genesis.cid,
        genesis_digest=genesis.digest,
    )
    save_profile(profile, work / "profile.json")


def _referenced_cids(ledger: Ledger, genesis: Genesis) -> list[str]:
    cids = [genesis.cid]
    for e in ledger.events():
        cids.extend(e.cids())
    return list(dict.fromkeys(cids))


# ------------------------------------------------------------------------------ reporting


#: What the columns with a number in brackets hold (printed in the legend under the table).
COLUMN_NOTES: dict[str, str] = {
    "directives": "issued by this round's merge (in force this round)",
    "attests": "attestations (with a result other than the finalized one)",
    "global ROI": "the finalized global model's benchmark ROI",
}


def rejections_cell(rejected: dict[str, int]) -> str:
    """`label×count` items, space-separated so a narrow column wraps between items."""
    return " ".join(f"{reason_label(k)}×{v}" for k, v in rejected.items()) or "-"


def rejection_legend(result: SimulationResult) -> list[tuple[str, str]]:
    """(label, reason) for every rejection reason the table shows, in the table's order."""
    seen = dict.fromkeys(k for r in result.rounds for k in r.rejected)
    return [(reason_label(k), k) for k in seen]


def legend_grid(result: SimulationResult) -> Table:
    """Two columns under the table: each short label or column, and what it means."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, reason in rejection_legend(result):
        grid.add_row(label, f"rejected: {reason}")
    for column, note in COLUMN_NOTES.items():
        grid.add_row(column, note)
    grid.add_row("genesis", f"the genesis model's benchmark ROI: {result.genesis_roi_bps} bps")
    grid.add_row("contract", f"{result.contract} (chain id {result.chain_id})")
    return grid


def round_table(result: SimulationResult) -> Table:
    """The per-round table (rich): short headers and reason labels, readable at 80 columns."""
    cfg = result.config
    table = Table(
        title=f"flchain simulation: {cfg.nodes} nodes × {cfg.days} days",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    numeric = {"justify": "right", "no_wrap": True}
    table.add_column("round", **numeric)  # type: ignore[arg-type]
    table.add_column("com-\nmits", **numeric)  # type: ignore[arg-type]
    table.add_column("re-\nveals", **numeric)  # type: ignore[arg-type]
    table.add_column("acc-\nepted", **numeric)  # type: ignore[arg-type]
    table.add_column("rejected\n(label×n)", justify="left", overflow="fold", min_width=9)
    table.add_column("clus-\nters", justify="right", overflow="fold")
    table.add_column("direc-\ntives", **numeric)  # type: ignore[arg-type]
    table.add_column("att-\nests", **numeric)  # type: ignore[arg-type]
    table.add_column("final", **numeric)  # type: ignore[arg-type]
    table.add_column("global\nROI bps", **numeric)  # type: ignore[arg-type]
    for r in result.rounds:
        table.add_row(
            str(r.round),
            str(r.commits),
            str(r.reveals),
            str(r.accepted),
            rejections_cell(r.rejected),
            ",".join(str(c) for c in r.clusters) or "-",
            f"{r.directives} ({r.directives_in_force})",
            f"{r.attestations} ({r.conflicting_results})",
            "yes" if r.finalized else "NO",
            "-" if r.global_roi_bps is None else str(r.global_roi_bps),
        )
    return table


def report_renderables(result: SimulationResult) -> list[RenderableType]:
    """What the terminal and `table.txt` show: the per-round table and its legend."""
    return [round_table(result), legend_grid(result)]


OUTCOME_COLOURS: dict[str, str] = {
    "accepted": "#2ca02c",
    "no_commit": "#ffffff",
    "no_reveal": "#7f7f7f",
    "rejected_on_chain_abnormal_roi": "#d62728",
    "rejected_on_chain_ineligible": "#8c564b",
    "roi_not_reproduced": "#ff7f0e",
    "non_finite": "#9467bd",
    "ignored_directive": "#e377c2",
    "stale_base": "#bcbd22",
    "beyond_participant_cap": "#17becf",
}


def write_plot(result: SimulationResult, path: Path) -> Path:
    """PNG: global model benchmark ROI by round (top) and each node's outcome by round (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    rounds = [r.round for r in result.rounds]
    rois = [
        float("nan") if r.global_roi_bps is None else r.global_roi_bps / 100 for r in result.rounds
    ]
    categories = list(OUTCOME_COLOURS)
    other = "#000000"
    seen = sorted(
        {o for outs in result.outcomes.values() for o in outs},
        key=lambda o: categories.index(o) if o in categories else 99,
    )
    index = {o: i for i, o in enumerate(seen)}
    grid = [[index[o] for o in result.outcomes[role.address]] for role in result.roles]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 4 + 0.25 * len(result.roles)), height_ratios=[1, 2]
    )
    top.plot(rounds, rois, marker="o")
    top.axhline(result.genesis_roi_bps / 100, color="grey", linestyle="--", label="genesis model")
    top.set_ylabel("benchmark ROI (%)")
    top.set_title("global model after each round")
    top.legend(loc="best")
    cmap = ListedColormap([OUTCOME_COLOURS.get(o, other) for o in seen] or ["#ffffff"])
    bottom.imshow(
        grid,
        aspect="auto",
        cmap=cmap,
        vmin=-0.5,
        vmax=max(len(seen), 1) - 0.5,
        interpolation="nearest",
    )
    bottom.set_yticks(range(len(result.roles)))
    bottom.set_yticklabels([f"{r.name} ({r.behaviour})" for r in result.roles], fontsize=7)
    bottom.set_xticks(range(len(rounds)))
    bottom.set_xlabel("round")
    bottom.legend(
        handles=[Patch(color=OUTCOME_COLOURS.get(o, other), label=o) for o in seen],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def print_report(result: SimulationResult, console: Console) -> None:
    for renderable in report_renderables(result):
        console.print(renderable)
    console.print(
        f"run folder: {result.run_dir}  (summary.json, manifests/, plot.png, store/, "
        f"{'chain.jsonl' if result.config.chain == 'embedded' else 'anvil-state.json'})  "
        f"wall time {result.wall_seconds:.1f} s"
    )

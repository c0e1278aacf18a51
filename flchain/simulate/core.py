"""The run: chain and store up, the federation played — protocol v2 by `flchain.simulate.v2`,
v1 here (every node's `NodeRunner.step()` at each phase of each simulated day) — one table row
per round, the run folder written atomically."""

from __future__ import annotations

import shutil
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flchain.devnet.federation import (
    Genesis,
    deploy,
    deterministic_account,
    devnet_rules,
    fund_and_register,
)
from flchain.devnet.journal import JournaledEmbeddedBackend
from flchain.ledger import Backend, Ledger, Phase
from flchain.model import config_from_metadata
from flchain.node.behaviour import HONEST
from flchain.node.context import bars_source
from flchain.node.runner import NodeRunner
from flchain.node.update import claim_roi_bps
from flchain.protocol import RevealOutcome, RoundRecord
from flchain.replay import MergeMemo, benchmark_for_rules, parse_manifest
from flchain.simulate.adversaries import behaviour_for
from flchain.simulate.config import (
    SIM_T0,
    NodeRole,
    RoundSummary,
    SimulationConfig,
    SimulationError,
    SimulationResult,
    assign_roles,
)
from flchain.simulate.plot import PlotWorker, write_plot
from flchain.simulate.report import report_renderables
from flchain.simulate.run_folder import write_run_folder
from flchain.simulate.v2 import run_v2
from flchain.storage import ContentStore, LocalStore
from flchain.storage.weights import decode_weights

__all__ = ["run_simulation", "summarise_round"]


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
            merged, config, benchmark_for_rules(record.rules, round, store), record.rules
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
        finality="final" if record.finalized is not None else "open",
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
    # The plot's worker imports matplotlib on the other core while the run goes on; it draws
    # while the run folder is written (`flchain.simulate.plot`).
    with PlotWorker() as plotter, _environment(config, work) as (backend, store, info):
        if config.protocol == 2:
            result, fed, manifests = run_v2(
                config, roles_spec, backend, store, console, show_progress, started, run_dir
            )
            plot = plotter.start(result, work / "plot.png")
            write_run_folder(
                work, run_dir, config, backend, store, fed.gov, fed.genesis, fed.roles,
                manifests, info,
            )  # fmt: skip
        else:
            result, ledger, genesis, manifests = _run_v1(
                config, roles_spec, backend, store, console, show_progress, started, run_dir
            )
            plot = plotter.start(result, work / "plot.png")
            write_run_folder(
                work, run_dir, config, backend, store, ledger, genesis, result.roles, manifests,
                info,
            )  # fmt: skip
        with (work / "table.txt").open("w") as fh:
            text = Console(file=fh, width=100, color_system=None)
            for renderable in report_renderables(result):
                text.print(renderable)
        if not plotter.finish(plot):
            write_plot(result, work / "plot.png")
        return result


def _run_v1(
    config: SimulationConfig,
    roles_spec: list[tuple[str, LocalAccount, str]],
    backend: Backend,
    store: ContentStore,
    console: Console,
    show_progress: bool,
    started: float,
    run_dir: Path,
) -> tuple[SimulationResult, Ledger, Genesis, dict[int, dict[str, Any]]]:
    """Protocol v1 (`--protocol 1`): FLChain with head-count quorum, `NodeRunner.step()` at
    commit, reveal and closed."""
    deployer = deterministic_account("deployer", config.seed)
    rules = devnet_rules(config.nodes)
    ledger, genesis = deploy(backend, deployer, store, t0=SIM_T0, rules=rules)
    accounts = [acct for _, acct, _ in roles_spec]
    fund_and_register(ledger, accounts)
    roles = [NodeRole(name=n, address=a.address, behaviour=k) for n, a, k in roles_spec]
    bars_for = bars_source(f"partition:{config.seed}", config.max_bars)
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
    result = SimulationResult(
        config=config,
        run_dir=run_dir,
        contract=ledger.address,
        chain_id=ledger.chain_id,
        roles=roles,
        rounds=rows,
        outcomes=outcomes,
        genesis_roi_bps=_genesis_roi(genesis, ledger),
        wall_seconds=round(time.perf_counter() - started, 3),
    )
    return result, ledger, genesis, manifests


def _genesis_roi(genesis: Genesis, ledger: Ledger) -> int:
    rules = ledger.rules_for_round(0)
    config = config_from_metadata(decode_weights(genesis.payload)[1])
    return claim_roi_bps(genesis.payload, config, benchmark_for_rules(rules, 0), rules)

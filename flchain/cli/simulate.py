"""`flchain simulate`: a whole federation with honest and misbehaving nodes in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from flchain.cli.config import StartedStoreOption
from flchain.devnet.process import interrupt_behind, interrupting_signal, stopped_by_signal
from flchain.simulate import SimulationConfig, parse_adversaries, print_report, run_simulation
from flchain.simulate.config import ChainKind, MarketKind, SimulationError


def simulate(
    nodes: Annotated[
        int, typer.Option("--nodes", min=1, max=1000, help="Number of nodes (wallets).")
    ] = 10,
    days: Annotated[
        int, typer.Option("--days", min=1, max=365, help="Simulated days (rounds).")
    ] = 7,
    adversaries: Annotated[
        str,
        typer.Option(
            "--adversaries",
            help="all, none, or a comma list of: inflated-roi, abnormal-roi, copycat, "
            "nan-weights, no-reveal, wrong-attestation; protocol v2 also: sybil, flooder, "
            "seed-grinder, exit-before-penalty, oversized-payload, dag-pb, copier, "
            "timed-finalizer, rushing-governor; named only (not in all): overfitter.",
        ),
    ] = "none",
    chain: Annotated[
        ChainKind, typer.Option("--chain", help="embedded (in-process) or anvil.")
    ] = "embedded",
    store: StartedStoreOption = "local",
    out: Annotated[
        Path | None, typer.Option("--out", help="Run folder (default runs/<run name>).")
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed of wallets and data partitions.")
    ] = 0,
    protocol: Annotated[
        int,
        typer.Option(
            "--protocol", min=1, max=2, help="2: FLChainV2, bonded stake (default); 1: v1."
        ),
    ] = 2,
    market: Annotated[
        MarketKind | None,
        typer.Option(
            "--market",
            help="real (shipped BTC-USD partitions; the default) or planted (the planted-signal "
            "market on the simulated clock; the default with --forward).",
        ),
    ] = None,
    forward: Annotated[
        bool,
        typer.Option(
            "--forward",
            help="Forward scoring on (planted market): each round scored on the next day's "
            "bars, voted two rounds later; the record ranks, weighs and pays.",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Protocol v2 on anvil: nodes stepped at once in a phase (1: one after another).",
        ),
    ] = 16,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            min=1,
            max=64,
            help="Protocol v2 on anvil with --workers > 1: processes in all, this one and N - 1 "
            "workers training the honest nodes' updates beside the nodes' threads (default 1: "
            "in the threads; more may help on a machine with idle cores). The run is the same "
            "bit for bit.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing run folder.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Run N nodes for D simulated days on a devnet and report what the rules caught.

    Ctrl-C or SIGTERM stops the anvil and js-ipfs daemon it started (one line each on stderr) and writes no run folder; they also die if the simulation is killed outright, and so do its training processes (--processes).
    """
    version = 2 if protocol == 2 else 1
    try:
        config = SimulationConfig(
            nodes=nodes,
            days=days,
            protocol=version,
            adversaries=parse_adversaries(adversaries, version),
            chain=chain,
            store=store,
            seed=seed,
            market=market or ("planted" if forward else "real"),
            forward=forward,
            workers=workers,
            processes=processes,
        )
    except ValidationError as exc:
        why = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise SimulationError(f"{why}; see flchain simulate --help") from None
    try:
        result = run_simulation(
            config, out, force=force, console=Console(stderr=True), progress=not quiet
        )
    except (KeyboardInterrupt, Exception) as exc:
        interrupt = interrupt_behind(exc)
        sig = interrupting_signal(interrupt) if interrupt is not None else stopped_by_signal()
        if sig is None:
            raise
        typer.echo(f"simulation interrupted by {sig.name}: no run folder written", err=True)
        raise typer.Exit(128 + sig) from None
    print_report(result, Console())


def register_commands(app: typer.Typer) -> None:
    """Add the top-level `flchain simulate` command."""
    app.command("simulate")(simulate)

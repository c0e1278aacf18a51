"""`flchain simulate`: a whole federation with honest and misbehaving nodes in one command."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from flchain.simulate import SimulationConfig, parse_adversaries, print_report, run_simulation


def simulate(
    nodes: int = typer.Option(10, "--nodes", min=1, max=1000, help="Number of nodes (wallets)."),
    days: int = typer.Option(7, "--days", min=1, max=365, help="Simulated days (rounds)."),
    adversaries: str = typer.Option(
        "none",
        "--adversaries",
        help="all, none, or a comma list of: inflated-roi, abnormal-roi, copycat, nan-weights, "
        "no-reveal, wrong-attestation.",
    ),
    chain: str = typer.Option("embedded", "--chain", help="embedded (in-process) or anvil."),
    store: str = typer.Option(
        "local", "--store", help="local (blockstore folder) or ipfs (js-ipfs daemon)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default runs/<run name>)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of wallets and data partitions."),
    force: bool = typer.Option(False, "--force", help="Replace an existing run folder."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Run N nodes for D simulated days on a devnet and report what the rules caught."""
    if chain not in ("embedded", "anvil"):
        raise typer.BadParameter("--chain must be embedded or anvil")
    if store not in ("local", "ipfs"):
        raise typer.BadParameter("--store must be local or ipfs")
    config = SimulationConfig(
        nodes=nodes,
        days=days,
        adversaries=parse_adversaries(adversaries),
        chain=chain,  # type: ignore[arg-type]
        store=store,  # type: ignore[arg-type]
        seed=seed,
    )
    result = run_simulation(
        config, out, force=force, console=Console(stderr=True), progress=not quiet
    )
    print_report(result, Console())


def register(app: typer.Typer) -> None:
    """Add the top-level `flchain simulate` command."""
    app.command("simulate")(simulate)

"""`flchain node run|register|status|exit|withdraw`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from flchain.cli.errors import WrongNodeStatus
from flchain.config import Settings, load_settings
from flchain.ledger import NodeRecord, NodeStatus
from flchain.node.context import NodeContext, node_context, open_ledger
from flchain.node.daemon import Daemon, wallet_lock
from flchain.node.errors import NotRegistered, RoundNotFound
from flchain.node.runner import NodeRunner
from flchain.node.status import node_status

app = typer.Typer(help="Take part in the federation as a node.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Config file (TOML).")]
WalletOpt = Annotated[str | None, typer.Option("--wallet", help="Wallet name or address.")]
ProfileOpt = Annotated[Path | None, typer.Option("--profile", help="Devnet profile file.")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="flchain data folder.")]


def _settings(config: Path | None, **flags: Any) -> Settings:
    return load_settings(flags, config_file=config).settings


def _refuse_unless(ctx: NodeContext, wanted: NodeStatus, command: str) -> NodeRecord:
    """The wallet's node record if its status is `wanted`; else a friendly one-line refusal.

    Checked before sending so the user reads what to do next rather than the contract's raw
    revert (`NotActive(node=…)`), and no transaction is attempted.
    """
    address, contract = ctx.account.address, ctx.ledger.address
    rec = ctx.ledger.node_record(address)
    if rec.status == wanted:
        return rec
    if rec.status == NodeStatus.NONE:
        raise NotRegistered(
            f"wallet {address} is not a registered node of {contract}: nothing to {command}"
            " (`flchain node register` joins)"
        )
    if rec.status == NodeStatus.WITHDRAWN:
        raise NotRegistered(f"wallet {address} already left {contract} and withdrew its bond")
    if rec.status == NodeStatus.EXITING:
        raise WrongNodeStatus(
            f"wallet {address} already requested its exit from {contract}: the bond is"
            f" withdrawable at chain time {rec.withdrawable_at} (`flchain node withdraw`)"
        )
    raise WrongNodeStatus(
        f"wallet {address} is still an active node of {contract}: run `flchain node exit`"
        " first, then withdraw after the exit delay"
    )


@app.command()
def run(
    config: ConfigOpt = None,
    wallet: WalletOpt = None,
    profile: ProfileOpt = None,
    data_dir: DataDirOpt = None,
    data_source: Annotated[
        str | None, typer.Option("--data-source", help="partition[:SEED] or a CSV file.")
    ] = None,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between steps.")] = 2.0,
) -> None:
    """Run the node daemon: commit, reveal and attest every round until SIGINT/SIGTERM."""
    settings = _settings(
        config, wallet=wallet, profile=profile, data_dir=data_dir, data_source=data_source
    )
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx = node_context(settings)
    with wallet_lock(settings.data_dir, ctx.account.address):
        if ctx.ledger.node_record(ctx.account.address).status != NodeStatus.ACTIVE:
            raise NotRegistered(
                f"wallet {ctx.account.address} is not an active node of {ctx.ledger.address}: run `flchain node register`"
            )
        from flchain.node.daemon import Backoff

        daemon = Daemon(
            NodeRunner(ctx.ledger, ctx.account, ctx.store, ctx.bars_for),
            poll_s=poll,
            backoff=Backoff(settings.retry_backoff_initial_s, settings.retry_backoff_max_s),
        )
        daemon.install_signal_handlers()
        daemon.run()


@app.command("register")
def register_node(
    config: ConfigOpt = None,
    wallet: WalletOpt = None,
    profile: ProfileOpt = None,
    data_dir: DataDirOpt = None,
    bond: Annotated[
        int, typer.Option("--bond", min=0, help="Bond in wei (at least the contract's minBond).")
    ] = 0,
) -> None:
    """Register the wallet as a node, bonding --bond wei."""
    ctx = node_context(_settings(config, wallet=wallet, profile=profile, data_dir=data_dir))
    tx = ctx.ledger.register(bond)
    typer.echo(
        f"registered {ctx.account.address} with bond {bond} wei (tx {tx.tx_hash}, block {tx.block_number})"
    )


@app.command()
def status(
    config: ConfigOpt = None,
    wallet: WalletOpt = None,
    profile: ProfileOpt = None,
    data_dir: DataDirOpt = None,
    round: Annotated[
        int | None, typer.Option("--round", help="Round to describe (default: current).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The node's on-chain record, this round's phase, and what it did in the round."""
    settings = _settings(config, wallet=wallet, profile=profile, data_dir=data_dir)
    from flchain.ledger.keystore import Keystore

    address = Keystore(settings.keystore_dir).find(settings.require("wallet")).address
    ledger = open_ledger(settings)
    current = ledger.current_round()
    if round is not None and not 0 <= round <= current:
        raise RoundNotFound(f"round {round} does not exist yet (the current round is {current})")
    report = node_status(ledger, address, current if round is None else round)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    for key, value in report.items():
        console.print(f"[bold]{key}[/]: {value}", highlight=False)


@app.command("exit")
def exit_(
    config: ConfigOpt = None,
    wallet: WalletOpt = None,
    profile: ProfileOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Ask to leave; the bond becomes withdrawable after the exit delay."""
    ctx = node_context(_settings(config, wallet=wallet, profile=profile, data_dir=data_dir))
    _refuse_unless(ctx, NodeStatus.ACTIVE, "exit")
    tx = ctx.ledger.request_exit()
    rec = ctx.ledger.node_record(ctx.account.address)
    typer.echo(
        f"exit requested (tx {tx.tx_hash}); withdrawable at chain time {rec.withdrawable_at}"
    )


@app.command()
def withdraw(
    config: ConfigOpt = None,
    wallet: WalletOpt = None,
    profile: ProfileOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Withdraw the bond after the exit delay."""
    ctx = node_context(_settings(config, wallet=wallet, profile=profile, data_dir=data_dir))
    _refuse_unless(ctx, NodeStatus.EXITING, "withdraw")
    tx = ctx.ledger.withdraw()
    typer.echo(f"bond withdrawn (tx {tx.tx_hash})")

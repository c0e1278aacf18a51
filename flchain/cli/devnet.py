"""`flchain devnet up|down|status`: a local federation every other command picks up.

The devnet lives in ``<data_dir>/devnet/`` (data dir: ``--data-dir``, else ``FLCHAIN_DATA_DIR``
or the config file, else ``~/.flchain``); see `flchain.devnet.manager` for what is in it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from flchain.cli.config import ConfigFileOption, DataDirOption, JsonOption, StartedStoreOption
from flchain.config import load_settings
from flchain.devnet.errors import DevnetUnhealthy
from flchain.devnet.manager import (
    DevnetStatus,
    UpChain,
    UpOptions,
    devnet_down,
    devnet_status,
    devnet_up,
)
from flchain.devnet.process import interrupting_signal

app = typer.Typer(
    help="A local devnet: chain, content store, contract, wallets.", no_args_is_help=True
)


def _data_dir_and_password_env(config: Path | None, data_dir: Path | None) -> tuple[Path, str]:
    # use_profile=False: these commands manage the profile, a damaged one must not stop them.
    settings = load_settings(
        {"data_dir": data_dir, "use_profile": False}, config_file=config
    ).settings
    return settings.data_dir, settings.password_env


@app.command()
def up(
    chain: Annotated[
        UpChain, typer.Option("--chain", help="anvil, hardhat (embedded: use `flchain simulate`).")
    ] = "anvil",
    store: StartedStoreOption = "local",
    nodes: Annotated[int, typer.Option("--nodes", min=1, max=64, help="Node wallets.")] = 4,
    block_time: Annotated[
        int, typer.Option("--block-time", min=1, help="Seconds between blocks while idle.")
    ] = 1,
    round_length: Annotated[
        int, typer.Option("--round-length", min=4, help="Seconds per round (commit ½, reveal ¼).")
    ] = 86_400,
    protocol: Annotated[
        int,
        typer.Option(
            "--protocol",
            min=1,
            max=2,
            help="2: FLChainV2, wallets bonded and registered, reward pool funded; "
            "1: the v1 contract (register with `flchain node register`).",
        ),
    ] = 2,
    data_dir: DataDirOption = None,
    config: ConfigFileOption = None,
) -> None:
    """Start a chain (and a js-ipfs daemon with --store ipfs), deploy, fund wallets, write the profile.

    Once `up` has finished, the devnet keeps running, detached from this command and the terminal, until `flchain devnet down`.

    Ctrl-C or SIGTERM while it starts stops what it started (one line each on stderr) and removes the folder.
    """
    folder, password_env = _data_dir_and_password_env(config, data_dir)
    options = UpOptions(
        chain=chain,
        store=store,
        nodes=nodes,
        data_dir=folder,
        block_time=block_time,
        round_length=round_length,
        password_env=password_env,
        protocol=2 if protocol == 2 else 1,
    )
    try:
        result = devnet_up(options, progress=lambda line: typer.echo(f"… {line}", err=True))
    except KeyboardInterrupt as exc:
        sig = interrupting_signal(exc)
        typer.echo(f"devnet up interrupted by {sig.name}: nothing left running", err=True)
        raise typer.Exit(128 + sig) from None
    p = result.profile
    chain_proc = p.processes[0]
    typer.echo(f"devnet up in {result.seconds:.1f} s")
    typer.echo(f"chain     {p.chain} at {p.rpc_url} (chain id {p.chain_id}, pid {chain_proc.pid})")
    if p.store == "ipfs":
        typer.echo(f"store     js-ipfs at {p.ipfs_url} (pid {p.processes[1].pid})")
    else:
        typer.echo(f"store     local blockstore {result.profile_path.parent / 'store'}")
    typer.echo(
        f"contract  {'FLChainV2' if p.protocol == 2 else 'FLChain (v1)'} {p.contract} "
        f"(block {p.deployment_block}), genesis {p.genesis_cid}"
    )
    typer.echo(f"rounds    {round_length} s; round 0's commit window is open")
    if p.protocol == 2:
        from flchain.devnet.federation import DEVNET_MIN_BOND_WEI
        from flchain.devnet.manager import POOL_ROUNDS

        typer.echo(
            f"stake     every node-N registered with a {DEVNET_MIN_BOND_WEI / 10**18:g} ETH bond; "
            f"reward pool funded for {POOL_ROUNDS} rounds"
        )
        typer.echo(
            f"beacon    DevnetBeacon seed in {result.profile_path.parent / 'beacon-seed'} (0600)"
        )
    keystores = result.profile_path.parent / "keystores"
    typer.echo(f"wallets   in {keystores}:")
    for w in p.wallets:
        typer.echo(f"  {w.name:<10} {w.address}")
    if result.password_file is not None:
        typer.echo(
            f"password  written to {result.password_file} (mode 0600); for the node commands: "
            f'export {password_env}="$(cat {result.password_file})"'
        )
    else:
        typer.echo(f"password  the one in ${password_env}")
    typer.echo(f"profile   {result.profile_path}")
    if p.protocol == 1:
        typer.echo(f"next      flchain node register --wallet node-1 --data-dir {folder}")
    else:
        typer.echo(f"next      flchain node run --wallet node-1 --data-dir {folder}")
    typer.echo(f"stop      flchain devnet down --data-dir {folder}")


@app.command()
def down(data_dir: DataDirOption = None, config: ConfigFileOption = None) -> None:
    """Stop every process the devnet started and remove its folder."""
    folder, _ = _data_dir_and_password_env(config, data_dir)
    result = devnet_down(folder)
    for process, outcome in result.outcomes:
        typer.echo(f"{process.name:<8} pid {process.pid}: {outcome}")
    typer.echo(f"removed {result.removed}")


def _render(status: DevnetStatus) -> None:
    from flchain.ledger.sending import WEI_PER_ETH

    typer.echo(f"profile   {status.profile}")
    for p in status.processes:
        port = f" port {p.port}" if p.port else ""
        typer.echo(
            f"process   {p.name:<8} pid {p.pid}{port}: {'running' if p.running else 'NOT RUNNING'}"
        )
    if status.rpc_ok:
        typer.echo(
            f"chain     {status.chain} at {status.rpc_url}: block {status.block_number} "
            f"(time {status.block_timestamp})"
        )
    else:
        typer.echo(f"chain     {status.chain} at {status.rpc_url}: NOT ANSWERING")
    if status.store == "ipfs":
        answer = f"js-ipfs {status.ipfs_version}" if status.ipfs_version else "NOT ANSWERING"
        typer.echo(f"store     ipfs at {status.store_location}: {answer}")
    else:
        typer.echo(f"store     local {status.store_location}")
    version = "" if status.protocol is None else f", protocol v{status.protocol}"
    typer.echo(f"contract  {status.contract} (block {status.deployment_block}{version})")
    if status.round is not None:
        typer.echo(f"round     {status.round}, phase {status.phase}")
    for w in status.wallets:
        balance = "?" if w.balance_wei is None else f"{w.balance_wei / WEI_PER_ETH:.4f} ETH"
        bond = "" if w.bond_wei is None else f" bond {w.bond_wei / WEI_PER_ETH:.4f} ETH"
        typer.echo(
            f"wallet    {w.name:<10} {w.address} {balance} node {w.node_status or '?'}{bond}"
        )


@app.command()
def status(
    data_dir: DataDirOption = None,
    config: ConfigFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """What runs (pids, RPC, IPFS), the contract, the current round and phase, the wallets.

    Exit code 2 when a process is gone or an endpoint does not answer.
    """
    folder, _ = _data_dir_and_password_env(config, data_dir)
    report = devnet_status(folder)
    if as_json:
        data = report.model_dump(mode="json")
        data["healthy"] = report.healthy
        typer.echo(json.dumps(data, indent=2))
    else:
        _render(report)
    if not report.healthy:
        raise DevnetUnhealthy("devnet degraded: " + "; ".join(report.problems))

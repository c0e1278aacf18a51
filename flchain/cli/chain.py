"""`flchain chain deploy|info`: put the FLChain contract on a JSON-RPC chain and look at it.

Both read the usual settings (flags > environment > config file > devnet profile): `rpc_url`,
`chain_id`, `contract`, `wallet`, `password_env`. The embedded chain lives inside one process,
so these commands need a JSON-RPC endpoint (anvil, hardhat node, any URL).
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from flchain.cli.config import ConfigFileOption
from flchain.cli.config import settings_from_options as _settings
from flchain.config import Settings
from flchain.errors import ConfigError
from flchain.ledger import DeployConfig, Ledger, RpcBackend
from flchain.protocol import MAX_QUORUM, MIN_QUORUM, Rules

app = typer.Typer(help="The FLChain contract on a JSON-RPC chain.", no_args_is_help=True)

RpcOption = Annotated[str | None, typer.Option("--rpc", help="JSON-RPC URL (setting rpc_url).")]
ContractOption = Annotated[str | None, typer.Option("--contract", help="Contract address.")]
WalletOption = Annotated[str | None, typer.Option("--wallet", help="Wallet name or address.")]


def _backend(settings: Settings) -> RpcBackend:
    if not settings.rpc_url:
        raise ConfigError("no RPC endpoint: pass --rpc URL or set rpc_url")
    kind = settings.chain if settings.chain != "embedded" else "rpc"
    return RpcBackend(
        settings.rpc_url,
        kind=kind,
        expected_chain_id=settings.chain_id,
        timeout=settings.rpc_timeout_s,
    )


@app.command()
def deploy(
    genesis_digest: Annotated[str, typer.Option(help="sha256 of the genesis model (0x…).")],
    genesis_cid: Annotated[str, typer.Option(help="CIDv1 of the genesis model.")],
    t0: Annotated[
        int | None, typer.Option(help="Genesis time (unix s); default: next minute.")
    ] = None,
    round_length: Annotated[int, typer.Option(min=1)] = 86_400,
    commit_window: Annotated[int, typer.Option(min=1)] = 43_200,
    reveal_window: Annotated[int, typer.Option(min=1)] = 21_600,
    min_bond: Annotated[int, typer.Option(min=0, help="wei")] = 0,
    exit_delay: Annotated[int, typer.Option(min=0, help="seconds")] = 7 * 86_400,
    quorum: Annotated[int, typer.Option(min=MIN_QUORUM, max=MAX_QUORUM)] = 1,
    rpc: RpcOption = None,
    wallet: WalletOption = None,
    config: ConfigFileOption = None,
) -> None:
    """Deploy FLChain with default rules (quorum settable); the wallet becomes the governor."""
    from flchain.ledger.keystore import unlock_from_settings

    settings = _settings(config, None, rpc_url=rpc, wallet=wallet).settings
    backend = _backend(settings)
    account = unlock_from_settings(settings)
    start = t0 if t0 is not None else (int(time.time()) // 60 + 1) * 60
    cfg = DeployConfig(
        t0=start,
        round_length=round_length,
        commit_window=commit_window,
        reveal_window=reveal_window,
        min_bond=min_bond,
        exit_delay=exit_delay,
        genesis_digest=genesis_digest,
        genesis_cid=genesis_cid,
        rules=Rules(quorum=quorum),
    )
    ledger = Ledger.deploy(backend, account, cfg)
    typer.echo(f"contract {ledger.address} (chain {ledger.chain_id}, block {ledger.from_block})")


@app.command()
def info(
    round: Annotated[int | None, typer.Option(help="Round to show (default: current).")] = None,
    rpc: RpcOption = None,
    contract: ContractOption = None,
    config: ConfigFileOption = None,
) -> None:
    """Show the current round and phase, the rules of a round and its finalized model."""
    settings = _settings(config, None, rpc_url=rpc, contract=contract).settings
    if not settings.contract:
        raise ConfigError("no contract: pass --contract ADDRESS or set contract")
    ledger = Ledger.connect(
        _backend(settings), settings.contract, from_block=settings.deployment_block
    )
    current, phase = ledger.phase()
    shown = current if round is None else round
    s = ledger.schedule
    typer.echo(f"contract   {ledger.address} on chain {ledger.chain_id}")
    typer.echo(
        f"now        round {current}, phase {phase.name.lower()} (block time {ledger.now()})"
    )
    typer.echo(
        f"round {shown}    start {s.start(shown)}, commit until {s.commit_end(shown)}, reveal until {s.reveal_end(shown)}"
    )
    for key, value in ledger.rules_for_round(shown).model_dump().items():
        typer.echo(f"  {key:<26} {int(value) if not isinstance(value, str) else value}")
    final = ledger.finalized(shown)
    typer.echo(f"finalized  {final.cid + ' ' + final.digest if final else 'no'}")
    g = ledger.latest_global()
    typer.echo(f"latest     round {g.round}: {g.cid}")

"""`flchain node run|register|status|exit|withdraw`.

Each command checks its arguments and the wallet's state on the chain (address only, no
password) before it unlocks the keystore: a wallet that cannot do what it asks (not registered,
already left, too poor to pay the gas) is told so in one line and nothing is sent.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from flchain.cli import _common as common
from flchain.cli import _node_v2 as node_v2
from flchain.cli.config import (
    ConfigFileOption,
    DataDirOption,
    JsonOption,
    LogLevelOption,
    OptionGroup,
    ProfileOption,
    WalletOption,
    settings_from_options,
    with_options,
)
from flchain.cli.errors import WrongNodeStatus
from flchain.cli.store import STORE_OPTIONS
from flchain.config import LoadedSettings
from flchain.errors import ConfigError
from flchain.ledger import Ledger, LedgerV2, NodeRecord, NodeStatus
from flchain.ledger.keystore import WalletInfo
from flchain.node.errors import NotRegistered, RoundNotFound
from flchain.protocol.machine import Status

app = typer.Typer(help="Take part in the federation as a node.", no_args_is_help=True)

#: What every node command takes to find its settings, wallet and contract.
NODE_OPTIONS: OptionGroup = {
    "config_file": (ConfigFileOption, None),
    "wallet": (WalletOption, None),
    "profile": (ProfileOption, None),
    "data_dir": (DataDirOption, None),
}


def _wallet_and_ledger(**flags: Any) -> tuple[LoadedSettings, WalletInfo, Ledger | LedgerV2]:
    """Settings, the wallet (found, not unlocked) and the contract, v1 or v2 (read-only)."""
    loaded = settings_from_options(**flags)
    loaded.require("wallet")
    info = common.wallet_info(loaded)
    if loaded.settings.chain == "embedded" and loaded.settings.rpc_url is None:
        from flchain.node.context import open_ledger

        open_ledger(loaded.settings)  # refuses, saying why
    return loaded, info, common.any_ledger(loaded)


def _wallet_and_any_ledger(**flags: Any) -> tuple[LoadedSettings, WalletInfo, Ledger | LedgerV2]:
    """Settings, the wallet (found, not unlocked) and the contract, v1 or v2 (read-only)."""
    loaded = settings_from_options(**flags)
    loaded.require("wallet")
    info = common.wallet_info(loaded)
    return loaded, info, common.any_ledger(loaded)


def _v2_wallet(command: str, **flags: Any) -> tuple[LoadedSettings, WalletInfo, LedgerV2]:
    from flchain.cli.errors import WrongProtocolVersion

    loaded, info, ledger = _wallet_and_any_ledger(**flags)
    if not isinstance(ledger, LedgerV2):
        raise WrongProtocolVersion(
            f"{ledger.address} is a protocol v1 contract (FLChain): `flchain node {command}` "
            "is a protocol v2 action (FLChainV2)"
        )
    return loaded, info, ledger


def _refuse_unless(
    ledger: Ledger, info: WalletInfo, wanted: NodeStatus, command: str
) -> NodeRecord:
    """The wallet's node record if its status is `wanted`; else a friendly one-line refusal.

    Checked before sending so the user reads what to do next rather than the contract's raw
    revert (`NotActive(node=…)`), and no transaction is attempted.
    """
    address, contract = info.address, ledger.address
    rec = ledger.node_record(address)
    if rec.status == wanted:
        return rec
    if rec.status == NodeStatus.NONE:
        raise NotRegistered(
            f"wallet {address} is not a registered node of {contract}: nothing to {command}"
            " (`flchain node register` joins)"
        )
    if rec.status == NodeStatus.WITHDRAWN:
        raise NotRegistered(
            f"wallet {address} already left {contract} and withdrew its bond; an address can "
            "never rejoin: to take part again, create a new wallet (`flchain wallet create`) "
            "and register that"
        )
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
@with_options(NODE_OPTIONS, common.TX_POLICY_OPTIONS)
def run(
    data_source: Annotated[
        str | None, typer.Option("--data-source", help="partition[:SEED] or a CSV file.")
    ] = None,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between steps.")] = 2.0,
    log_level: LogLevelOption = None,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="text, or json (one object per line).")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port", help="Serve Prometheus metrics on 127.0.0.1:PORT (default: off)."
        ),
    ] = None,
    beacon_devnet_seed: Annotated[
        str | None,
        typer.Option(
            "--beacon-devnet-seed",
            metavar="SEED",
            show_default=False,
            help="v2 devnets: post the beacon of the contract's `beacon_devnet_seed` (default: "
            "the seed file of a `flchain devnet up` profile for this contract, else post none; "
            "the merge then seeds from the salts alone).",
        ),
    ] = None,
    beacon_url: Annotated[
        str | None,
        typer.Option(
            "--beacon-url",
            metavar="URL",
            show_default=False,
            help="v2: post the beacon from this drand HTTP relay, the chain's base URL (e.g. "
            "https://api.drand.sh/<chain hash>); its /info must match the contract's beacon.",
        ),
    ] = None,
    **flags: Any,
) -> None:
    """Run the node daemon: commit, reveal and attest every round until SIGINT/SIGTERM (v2:
    also settle, open rounds, post the beacon, finalize and slash withholders).

    Transactions follow the fee and confirmation settings (docs/deploy.md, "Fees and
    confirmations"); a commit or reveal that can no longer be mined in its window is reported
    once and not retried."""
    from flchain.node.context import open_store
    from flchain.node.daemon import Backoff, Daemon, runner_for, wallet_lock
    from flchain.node.logs import configure_logging

    loaded, info, ledger = _wallet_and_ledger(
        data_source=data_source, log_level=log_level, log_format=log_format,
        metrics_port=metrics_port, **flags,
    )  # fmt: skip
    settings = loaded.settings
    # v2: an exiting node still reveals what it committed and settles its rounds (or is
    # slashed and cannot withdraw), so its daemon runs until the bond is withdrawn
    active = (
        ledger.node_view(info.address).status in (Status.ACTIVE, Status.EXITING)
        if isinstance(ledger, LedgerV2)
        else ledger.node_record(info.address).status == NodeStatus.ACTIVE
    )
    if not active:
        raise NotRegistered(
            f"wallet {info.address} is not an active node of {ledger.address}: run `flchain node register`"
        )
    beacon = node_v2.beacon_source(ledger, beacon_devnet_seed, beacon_url)
    from_profile = beacon is None and beacon_devnet_seed is None and beacon_url is None
    if from_profile:
        beacon = node_v2.profile_beacon_source(ledger, loaded.profile)
    store = open_store(settings)  # a wrong store path fails here, before the unlock
    if settings.market_data is not None:
        from flchain.market.loaders import load_csv

        # read again for every window later; a wrong path or layout fails now, once, rather
        # than as a logged error in every round whose window the node should have voted
        load_csv(settings.market_data)
    configure_logging(settings.log_level, settings.log_format)
    if from_profile and beacon is not None and loaded.profile is not None:
        import logging

        logging.getLogger("flchain.node").info(
            "posting the devnet beacon (seed %s, from the devnet profile)",
            loaded.profile.beacon_seed_file,
        )
    with wallet_lock(settings.data_dir, info.address):
        from flchain.node.context import bars_source, market_source

        account = common.unlock(loaded)
        metrics = None
        if settings.metrics_port is not None:
            from flchain.node.metrics import BIND_HOST, NodeMetrics

            metrics = NodeMetrics()
            port = metrics.serve(settings.metrics_port)
            import logging

            logging.getLogger("flchain.node").info(
                "metrics on http://%s:%d/metrics", BIND_HOST, port
            )
        runner = runner_for(
            ledger, account, store, bars_source(settings.data_source),
            data_dir=settings.data_dir, beacon=beacon,
            market_bars=market_source(settings.market_data),
            collect_every_rounds=settings.collect_every_rounds,
        )  # fmt: skip
        daemon = Daemon(
            runner,
            poll_s=poll,
            backoff=Backoff(settings.retry_backoff_initial_s, settings.retry_backoff_max_s),
            metrics=metrics,
        )
        daemon.install_signal_handlers()
        try:
            daemon.run()
        finally:
            if metrics is not None:
                metrics.close()


@app.command("register")
@with_options(NODE_OPTIONS, common.SEND_OPTIONS)
def register_node(
    bond: Annotated[
        int, typer.Option("--bond", min=0, help="Bond in wei (at least the contract's minBond).")
    ] = 0,
    **flags: Any,
) -> None:
    """Register the wallet as a node, bonding --bond wei (v2: in the frozen set, weighted by
    the bond, from the next round)."""
    from flchain.node.status import contract_view

    loaded, info, any_ledger = _wallet_and_any_ledger(**flags)
    if isinstance(any_ledger, LedgerV2):
        node_v2.register(any_ledger, loaded, info, bond)
        return
    ledger = any_ledger
    rec = ledger.node_record(info.address)
    if rec.status == NodeStatus.WITHDRAWN:
        raise NotRegistered(
            f"wallet {info.address} left {ledger.address} and withdrew its bond: the contract "
            "keeps one record per address, so this wallet can never register again; create a "
            "new wallet (`flchain wallet create NAME`) and register that"
        )
    if rec.status != NodeStatus.NONE:
        raise WrongNodeStatus(
            f"wallet {info.address} is already a node of {ledger.address} (status "
            f"{rec.status.name}): nothing to register"
        )
    min_bond = int(contract_view(ledger, "minBond"))
    if bond < min_bond:
        raise WrongNodeStatus(
            f"--bond {bond} wei is below the contract's minimum bond of {min_bond} wei: pass "
            f"--bond {min_bond} or more"
        )
    call = ledger.contract.functions.register()
    common.check_funds(
        ledger.backend, info, call, value=bond, action="`flchain node register`",
        settings=loaded.settings,
    )  # fmt: skip
    tx = ledger.with_account(common.unlock(loaded)).register(bond)
    typer.echo(
        f"registered {info.address} with bond {bond} wei (tx {tx.tx_hash}, block {tx.block_number})"
    )


@app.command()
@with_options(NODE_OPTIONS)
def status(
    round: Annotated[
        int | None, typer.Option("--round", help="Round to describe (default: current).")
    ] = None,
    as_json: JsonOption = False,
    **flags: Any,
) -> None:
    """The node's on-chain record, this round's phase, and what it did in the round."""
    _, info, any_ledger = _wallet_and_any_ledger(**flags)
    if isinstance(any_ledger, LedgerV2):
        report = node_v2.status_doc(any_ledger, info.address)
        if round is not None:
            raise RoundNotFound(
                "--round is a protocol v1 option: a v2 status shows the round in progress"
            )
    else:
        report = _status_v1(any_ledger, info, round)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    for key, value in report.items():
        console.print(f"[bold]{key}[/]: {value}", highlight=False)


def _status_v1(ledger: Ledger, info: WalletInfo, round: int | None) -> dict[str, Any]:
    from flchain.node.status import node_status

    current = ledger.current_round()
    if round is not None and not 0 <= round <= current:
        raise RoundNotFound(f"round {round} does not exist yet (the current round is {current})")
    return node_status(ledger, info.address, current if round is None else round)


@app.command("exit")
@with_options(NODE_OPTIONS, common.SEND_OPTIONS)
def exit_(**flags: Any) -> None:
    """Ask to leave; the bond becomes withdrawable after the exit delay (v2: and once every
    round the node took part in is settled)."""
    loaded, info, any_ledger = _wallet_and_any_ledger(**flags)
    if isinstance(any_ledger, LedgerV2):
        node_v2.request_exit(any_ledger, loaded, info)
        return
    ledger = any_ledger
    _refuse_unless(ledger, info, NodeStatus.ACTIVE, "exit")
    call = ledger.contract.functions.requestExit()
    common.check_funds(
        ledger.backend, info, call, action="`flchain node exit`", settings=loaded.settings
    )
    signer = ledger.with_account(common.unlock(loaded))
    tx = signer.request_exit()
    rec = signer.node_record(info.address)
    typer.echo(
        f"exit requested (tx {tx.tx_hash}); withdrawable at chain time {rec.withdrawable_at}"
    )


@app.command()
@with_options(NODE_OPTIONS, common.SEND_OPTIONS)
def withdraw(**flags: Any) -> None:
    """Withdraw the bond after the exit delay."""
    loaded, info, any_ledger = _wallet_and_any_ledger(**flags)
    if isinstance(any_ledger, LedgerV2):
        node_v2.withdraw(any_ledger, loaded, info)
        return
    ledger = any_ledger
    rec = _refuse_unless(ledger, info, NodeStatus.EXITING, "withdraw")
    now = ledger.now()
    if now < rec.withdrawable_at:
        raise WrongNodeStatus(
            f"wallet {info.address} can withdraw from chain time {rec.withdrawable_at}, in "
            f"{rec.withdrawable_at - now} s: retry then"
        )
    call = ledger.contract.functions.withdraw()
    common.check_funds(
        ledger.backend, info, call, action="`flchain node withdraw`", settings=loaded.settings
    )
    tx = ledger.with_account(common.unlock(loaded)).withdraw()
    typer.echo(f"bond of {rec.bond} wei withdrawn to {info.address} (tx {tx.tx_hash})")


# ------------------------------------------------------------------------------- protocol v2


@app.command("add-bond")
@with_options(NODE_OPTIONS, common.SEND_OPTIONS)
def add_bond(
    amount: Annotated[
        str,
        typer.Option(
            "--amount", help="Amount: 10 (ether), 0.5ether, 20gwei or 1000wei.", show_default=False
        ),
    ],
    **flags: Any,
) -> None:
    """Add to the node's bond (v2; counts from the next round)."""
    from flchain.cli.wallet import parse_amount

    wei = parse_amount(amount)
    if wei == 0:
        raise ConfigError(f"--amount {amount!r} is zero: nothing to add")
    loaded, info, ledger = _v2_wallet("add-bond", **flags)
    node_v2.add_bond(ledger, loaded, info, wei)


@app.command("collect")
@with_options(NODE_OPTIONS, common.SEND_OPTIONS)
def collect(**flags: Any) -> None:
    """Collect the wallet's settled rewards: cumEarned − claimed, paid to the wallet (v2).
    The daemon collects on its own every `collect_every_rounds` rounds (a setting, default 7)."""
    loaded, info, ledger = _v2_wallet("collect", **flags)
    node_v2.collect(ledger, loaded, info)


@app.command("settle")
@with_options(
    NODE_OPTIONS, common.SEND_OPTIONS, {k: STORE_OPTIONS[k] for k in ("ipfs_url", "store_dir")}
)
def settle(
    node: Annotated[
        str | None,
        typer.Option(
            "--node",
            help="Node whose leaf to apply (default: the wallet's own; a third party "
            "gets a bounty when a slash is due).",
            show_default=False,
        ),
    ] = None,
    **flags: Any,
) -> None:
    """Apply a node's leaf of the latest final round (v2): the leaf and its proof come from that
    round's manifest in the content store; pays the node what it earned."""
    from eth_utils import is_address, to_checksum_address

    if node is not None and not is_address(node):
        raise ConfigError(f"--node {node!r} is not a 0x-address (40 hex digits)")
    from flchain.cli.store import open_settings_store

    loaded, info, ledger = _v2_wallet("settle", **flags)
    store = open_settings_store(**flags)  # a wrong store path fails here, before the unlock
    node_v2.settle(ledger, loaded, info, to_checksum_address(node or info.address), store)

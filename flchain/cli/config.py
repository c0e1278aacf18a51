"""`flchain config show`: the effective settings and where each value came from.

Also the shared command-line options other commands use to take part in the settings layers
(`ConfigFileOption`, `ProfileOption`, ..., `SetOption`), each declared once; `with_options`,
which gives a group of them to a command; and `settings_from_options`, which turns them into
`LoadedSettings` with flags on top. Secrets are never settings, so they are never shown: for
the keystore password this only says whether its variable is set.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from flchain.config import SETTING_NAMES, LoadedSettings, Origin, StoreBackend, load_settings
from flchain.errors import ConfigError

app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)


@app.callback()
def _config() -> None:
    """Settings: flags > FLCHAIN_* environment > flchain.toml > devnet profile > defaults."""


# Shared options: `None` means "not given on the command line", so lower layers apply. A
# parameter is named after the setting it sets (`settings_from_options` finds the flag by it).
ConfigFileOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file (default: $FLCHAIN_CONFIG, else ./flchain.toml if present).",
        show_default=False,
    ),
]
ProfileOption = Annotated[
    Path | None,
    typer.Option(
        "--profile", help="Devnet profile JSON (default: <data_dir>/devnet/profile.json)."
    ),
]
NoProfileOption = Annotated[bool, typer.Option("--no-profile", help="Ignore any devnet profile.")]
ChainOption = Annotated[
    str | None, typer.Option("--chain", help="Chain backend: embedded, anvil, hardhat or rpc.")
]
RpcOption = Annotated[
    str | None, typer.Option("--rpc", help="JSON-RPC URL (setting rpc_url).", show_default=False)
]
RpcUrlOption = Annotated[str | None, typer.Option("--rpc-url", help="JSON-RPC endpoint.")]
ChainIdOption = Annotated[int | None, typer.Option("--chain-id", help="Expected chain id.")]
ContractOption = Annotated[
    str | None, typer.Option("--contract", help="Contract address (setting contract).")
]
StoreOption = Annotated[str | None, typer.Option("--store", help="Content store: local or ipfs.")]
IpfsUrlOption = Annotated[str | None, typer.Option("--ipfs-url", help="IPFS HTTP RPC API URL.")]
StoreDirOption = Annotated[
    Path | None, typer.Option("--store-dir", help="Local blockstore folder.")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="flchain data folder (default ~/.flchain).")
]
KeystoreDirOption = Annotated[
    Path | None, typer.Option("--keystore-dir", help="Encrypted wallet folder.")
]
WalletOption = Annotated[
    str | None, typer.Option("--wallet", help="Wallet name or address (setting wallet).")
]
LogLevelOption = Annotated[
    str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Any setting as KEY=VALUE (repeatable), e.g. --set retry_attempts=3."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
#: The content store a devnet or a simulation runs (`devnet up`, `simulate`).
StartedStoreOption = Annotated[
    StoreBackend,
    typer.Option("--store", help="local (a blockstore folder) or ipfs (a js-ipfs daemon)."),
]

#: Options several commands take, as `with_options` adds them: parameter name -> (annotation,
#: default).
OptionGroup = Mapping[str, tuple[Any, Any]]

_Command = TypeVar("_Command", bound=Callable[..., None])


def with_options(*groups: OptionGroup) -> Callable[[_Command], _Command]:
    """Give a typer command the options of `groups`, after its own.

    The command takes them as `**flags` and receives their values there, by name. Typer reads
    the signature this sets, so help, parsing and `settings_from_options` see ordinary options,
    while a set of options several commands share, and the call passing them on, is written
    once."""

    def decorate(command: _Command) -> _Command:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        if len(own) == len(signature.parameters):
            raise TypeError(f"{command.__name__} has no **flags to take the shared options")
        shared = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind
            )
            for group in groups
            for name, (kind, default) in group.items()
        ]
        command.__signature__ = signature.replace(parameters=[*own, *shared])  # type: ignore[attr-defined]
        return command

    return decorate


def parse_set_options(items: list[str] | None) -> dict[str, str]:
    """Turn repeated `--set KEY=VALUE` into a mapping; a malformed item is a `ConfigError`."""
    result: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in SETTING_NAMES:
            raise ConfigError(f"--set: unknown setting '{key}' (known: {', '.join(SETTING_NAMES)})")
        result[key] = value
    return result


def settings_from_options(
    config_file: Path | None = None,
    set_items: list[str] | None = None,
    **flags: Any,
) -> LoadedSettings:
    """`load_settings` with command-line values on top; explicit flags beat `--set`.

    A flag is passed by its setting's name (`rpc_url=...`); the running command's option for
    that setting is found by the parameter of the same name, so every message and
    `config show` names the option the user can actually type (`--rpc`, not `--rpc-url`)."""
    merged: dict[str, Any] = dict(parse_set_options(set_items))
    names = {key: f"--set {key}" for key in merged}
    merged.update({k: v for k, v in flags.items() if v is not None})
    names.update(command_flag_names())
    return load_settings(merged, config_file=config_file, flag_names=names)


def command_flag_names() -> dict[str, str]:
    """Setting name -> option of the running command whose parameter has that name."""
    ctx = click_context()
    if ctx is None:
        return {}
    return {
        str(p.name): str(p.opts[0])
        for p in ctx.command.params
        if p.name in SETTING_NAMES and p.opts and str(p.opts[0]).startswith("--")
    }


def click_context() -> Any:
    """The click context of the running command, or None outside one (a direct call)."""
    from typer._click import globals as click_globals

    return click_globals.get_current_context(silent=True)


def _show_value(value: Any) -> str:
    if value is None:
        return "(unset)"
    return str(value)


def _where(origin: Origin) -> str:
    return origin.source.value + (f" {origin.detail}" if origin.detail else "")


def render_settings(loaded: LoadedSettings) -> list[str]:
    """The lines `config show` prints: `name = value  [source detail]`, then the password."""
    values = loaded.settings.model_dump()
    rows = [
        (name, _show_value(values[name]), _where(loaded.origins[name])) for name in SETTING_NAMES
    ]
    env_name = loaded.settings.password_env
    if loaded.environ_password_set:
        rows.append(("password", "(set, hidden)", f"env {env_name}"))
    else:
        rows.append(("password", "(not set)", f"prompt; or set env {env_name}"))
    width = max(len(name) for name, _, _ in rows)
    vwidth = max(len(value) for _, value, _ in rows)
    lines = [f"{name:<{width}} = {value:<{vwidth}}  [{where}]" for name, value, where in rows]
    if loaded.config_file is not None:
        lines.append(f"# config file: {loaded.config_file}")
    if loaded.profile is not None:
        lines.append(f"# devnet profile: {loaded.settings.profile}")
    return lines


def render_json(loaded: LoadedSettings) -> str:
    """Machine-readable `config show --json`."""
    doc = {
        "settings": loaded.settings.model_dump(mode="json"),
        "origins": {
            name: {"source": o.source.value, "detail": o.detail}
            for name, o in loaded.origins.items()
        },
        "password": "set" if loaded.environ_password_set else "unset",
        "config_file": None if loaded.config_file is None else str(loaded.config_file),
    }
    return json.dumps(doc, indent=2, sort_keys=True)


@app.command("show")
def show(
    config_file: ConfigFileOption = None,
    profile: ProfileOption = None,
    no_profile: NoProfileOption = False,
    chain: ChainOption = None,
    rpc_url: RpcUrlOption = None,
    chain_id: ChainIdOption = None,
    contract: ContractOption = None,
    store: StoreOption = None,
    ipfs_url: IpfsUrlOption = None,
    store_dir: StoreDirOption = None,
    data_dir: DataDirOption = None,
    keystore_dir: KeystoreDirOption = None,
    wallet: WalletOption = None,
    log_level: LogLevelOption = None,
    set_items: SetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the effective settings and where each value came from (flag/env/file/profile/default)."""
    loaded = settings_from_options(
        config_file,
        set_items,
        profile=profile,
        use_profile=False if no_profile else None,
        chain=chain,
        rpc_url=rpc_url,
        chain_id=chain_id,
        contract=contract,
        store=store,
        ipfs_url=ipfs_url,
        store_dir=store_dir,
        data_dir=data_dir,
        keystore_dir=keystore_dir,
        wallet=wallet,
        log_level=log_level,
    )
    if as_json:
        typer.echo(render_json(loaded))
    else:
        for line in render_settings(loaded):
            typer.echo(line)

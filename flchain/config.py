"""Settings: everything a user configures, and the devnet profile that `flchain devnet up` writes.

One model, `Settings`, holds every user-facing knob (chain backend, RPC URL, contract, content
store, keystore, wallet, data dir, logging, retries, the node's data source). `load_settings`
builds it from five layers, highest first:

1. flags        – values a command received on its command line (`flags=` mapping)
2. environment  – `FLCHAIN_<FIELD>` (e.g. `FLCHAIN_RPC_URL`), case-insensitive, empty = unset
3. config file  – TOML: `--config FILE`, else `$FLCHAIN_CONFIG`, else `./flchain.toml` if present
4. devnet profile – JSON written by `flchain devnet up` (`DevnetProfile`, `flchain.devnet.profile`)
5. defaults

and records where each value came from (`LoadedSettings.origins`), which `flchain config show`
prints. Relative paths in a file are relative to that file's folder. Passwords are not settings:
the keystore password comes from a prompt or from the environment variable named by
`password_env` (default `FLCHAIN_PASSWORD`), and a `password` key in a file is refused.

Defaults: data dir `~/.flchain`; keystores `<data_dir>/keystores`; local content store
`<data_dir>/store`; devnet profile `<data_dir>/devnet/profile.json` (`default_profile_path`).
Every problem is a one-line `ConfigError` naming the file (or variable, or flag) and the field.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from flchain.devnet.profile import (
    ChainBackend,
    DevnetProfile,
    ProfileProcess,
    ProfileWallet,
    StoreBackend,
    check_url,
    checksum_address,
    default_profile_path,
    load_profile,
    resolve_relative,
    save_profile,
)
from flchain.errors import ConfigError
from flchain.storage.ipfs import RETRIES as IPFS_RETRIES

if TYPE_CHECKING:
    from flchain.ledger import TxPolicy

__all__ = [
    "CONFIG_FILE_NAME",
    "DEFAULT_DATA_DIR",
    "ENV_PREFIX",
    "SETTING_NAMES",
    "ChainBackend",
    "DevnetProfile",
    "LoadedSettings",
    "MissingSetting",
    "Origin",
    "ProfileProcess",
    "ProfileWallet",
    "Settings",
    "Source",
    "StoreBackend",
    "StoreNotFound",
    "check_local_store",
    "default_profile_path",
    "is_local_store",
    "load_profile",
    "load_settings",
    "save_profile",
]

ENV_PREFIX = "FLCHAIN_"
CONFIG_FILE_NAME = "flchain.toml"
CONFIG_ENV = "FLCHAIN_CONFIG"
DEFAULT_DATA_DIR = Path("~/.flchain")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]

_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys that look like secrets and therefore never belong in a settings file.
_SECRET_KEYS = frozenset({"password", "private_key", "key", "mnemonic", "secret"})


# --- settings -----------------------------------------------------------------------------


class Settings(BaseSettings):
    """Everything a user configures. Build it with `load_settings` to get all layers.

    `Settings()` alone reads only `FLCHAIN_*` environment variables and defaults (the
    plain pydantic-settings behaviour); `load_settings` adds flags, the TOML file and the
    devnet profile, and reports where each value came from.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, env_ignore_empty=True
    )

    # chain
    chain: ChainBackend = Field(
        "embedded",
        description="chain backend: embedded (in-process: simulate only), anvil, hardhat, or rpc "
        "(any endpoint; what an rpc_url with the default means)",
    )
    rpc_url: str | None = Field(None, description="JSON-RPC endpoint (anvil, hardhat, rpc)")
    rpc_fallback_urls: list[str] = Field(
        default_factory=list,
        description="more endpoints of the same chain, tried in order when the one in use fails "
        "to connect (their chain ids must agree); a TOML list, or comma-separated",
    )
    chain_id: int | None = Field(None, gt=0, description="expected chain id (checked on connect)")
    contract: str | None = Field(None, description="flchain contract address")
    deployment_block: int = Field(0, ge=0, description="first block to scan for events")
    embedded_state_dir: Path | None = Field(None, description="embedded chain state folder")
    # content store
    store: StoreBackend = Field("local", description="content store backend")
    ipfs_url: str | None = Field(None, description="IPFS HTTP RPC API URL (store = ipfs)")
    store_dir: Path = Field(Path(), description="local blockstore folder (store = local)")
    # files and identity
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="flchain's own data folder")
    keystore_dir: Path = Field(Path(), description="encrypted wallet folder")
    wallet: str | None = Field(None, description="wallet name or address to sign with")
    password_env: str = Field(
        "FLCHAIN_PASSWORD", description="environment variable holding the keystore password"
    )
    profile: Path = Field(Path(), description="devnet profile file")
    use_profile: bool = Field(True, description="pick up the devnet profile when present")
    # node
    data_source: str | None = Field(
        None, description="node market data: a CSV file or a built-in dataset name"
    )
    market_data: str | None = Field(
        None,
        description="bars of the rules' benchmark market (a CSV file, re-read for every forward "
        "window) the node builds, posts and votes forward windows from; unset: it votes none",
    )
    collect_every_rounds: int = Field(
        7,
        ge=1,
        le=100_000,
        description="v2 node run: collect the settled rewards once every N rounds (and every "
        "round once exiting); a collect costs ~43 000 gas whatever it pays",
    )
    log_level: LogLevel = Field(
        "INFO", description="logging level (HTTP libraries log per request only at DEBUG)"
    )
    log_format: LogFormat = Field("text", description="node log lines: text, or json objects")
    metrics_port: int | None = Field(
        None, ge=0, lt=65536, description="serve Prometheus metrics on 127.0.0.1:PORT (node run)"
    )
    # network resilience
    rpc_timeout_s: float = Field(30.0, gt=0, description="per-request timeout (s)")
    retry_attempts: int = Field(
        IPFS_RETRIES,
        ge=0,
        description="extra attempts of a request to the IPFS daemon after a connection error "
        "(the chain fails over to rpc_fallback_urls)",
    )
    retry_backoff_initial_s: float = Field(
        0.5, ge=0, description="the node's first delay after a failed step (s)"
    )
    retry_backoff_max_s: float = Field(
        30.0, ge=0, description="the node's longest delay after failed steps (s)"
    )
    # transactions (flchain.ledger.TxPolicy; docs/deploy.md "Fees and confirmations")
    max_fee_gwei: Decimal | None = Field(
        None, gt=0, decimal_places=9, description="cap on the max fee per gas (gwei); unset: none"
    )
    max_tx_cost_eth: Decimal | None = Field(
        None,
        gt=0,
        decimal_places=18,
        description="cap on gas limit × max fee of one transaction (ETH); unset: none",
    )
    priority_fee_gwei: Decimal | None = Field(
        None,
        ge=0,
        decimal_places=9,
        description="priority fee (tip) per gas (gwei); unset: what the node suggests",
    )
    base_fee_multiplier_pct: int = Field(
        200,
        ge=100,
        le=10_000,
        description="max fee per gas = next base fee × this / 100 + priority fee (under the caps)",
    )
    gas_margin_pct: int = Field(20, ge=0, le=1_000, description="gas limit above the estimate (%)")
    fee_bump_pct: Decimal = Field(
        Decimal("12.5"),
        ge=Decimal("12.5"),
        le=1_000,
        decimal_places=2,
        description="fee raise of each replacement of a stuck transaction (%, both fee fields)",
    )
    tx_replace_after_s: float = Field(
        30.0, gt=0, description="replace a transaction still pending after this long (s)"
    )
    tx_receipt_timeout_s: float = Field(
        120.0, gt=0, description="stop waiting for a transaction's receipt after this long (s)"
    )
    confirmations: int = Field(
        1,
        ge=1,
        le=1_000,
        description="blocks that must hold a transaction (its own included) before it counts",
    )
    tx_poll_s: float = Field(
        0.5, gt=0, le=60, description="seconds between two looks at a pending transaction"
    )

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        # Folders default to places under data_dir, so moving data_dir moves them all.
        if isinstance(data, dict):
            data_dir = Path(str(data.get("data_dir") or DEFAULT_DATA_DIR))
            for name, default in _derived_paths(data_dir).items():
                if data.get(name) in (None, ""):
                    data[name] = default
        return data

    @field_validator("data_dir", "keystore_dir", "store_dir", "profile", "embedded_state_dir")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("contract")
    @classmethod
    def _checksum_contract(cls, value: str | None) -> str | None:
        return checksum_address(value)

    @field_validator("rpc_url", "ipfs_url")
    @classmethod
    def _check_urls(cls, value: str | None) -> str | None:
        return check_url(value)

    @field_validator("rpc_fallback_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        # FLCHAIN_RPC_FALLBACK_URLS and --set give one string: comma-separated URLs
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rpc_fallback_urls")
    @classmethod
    def _check_fallback_urls(cls, value: list[str]) -> list[str]:
        return [str(check_url(url)) for url in value]

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME_RE.fullmatch(value):
            raise ValueError("must be an environment variable name")
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> Settings:
        if self.retry_backoff_max_s < self.retry_backoff_initial_s:
            raise ValueError("retry_backoff_max_s must be ≥ retry_backoff_initial_s")
        return self

    def rpc_urls(self) -> list[str]:
        """The JSON-RPC endpoints in the order they are tried (`rpc_url` first)."""
        return [self.require("rpc_url"), *self.rpc_fallback_urls]

    def tx_policy(self) -> TxPolicy:
        """The transaction policy these settings describe, in the wei the chain counts."""
        from flchain.ledger import TxPolicy
        from flchain.ledger.sending import WEI_PER_ETH, WEI_PER_GWEI

        def wei(amount: Decimal | None, unit: int) -> int | None:
            return None if amount is None else int(amount * unit)

        return TxPolicy(
            gas_margin_pct=self.gas_margin_pct,
            priority_fee_wei=wei(self.priority_fee_gwei, WEI_PER_GWEI),
            base_fee_multiplier_pct=self.base_fee_multiplier_pct,
            max_fee_per_gas_wei=wei(self.max_fee_gwei, WEI_PER_GWEI),
            max_tx_cost_wei=wei(self.max_tx_cost_eth, WEI_PER_ETH),
            fee_bump_bps=int(self.fee_bump_pct * 100),
            replace_after_s=self.tx_replace_after_s,
            receipt_timeout_s=self.tx_receipt_timeout_s,
            confirmations=self.confirmations,
            poll_s=self.tx_poll_s,
        )

    def require(self, name: str) -> Any:
        """The value of setting `name`, or a `MissingSetting` saying how to set it when unset.

        Settings that only some backends need (rpc_url, contract, ipfs_url, wallet) are
        optional in the model; a command that needs one asks for it through this, or through
        `LoadedSettings.require`, which also names the command's own flag for it.
        """
        if name not in type(self).model_fields:
            raise ConfigError(f"unknown setting {name!r}")
        value = getattr(self, name)
        if value is None:
            raise MissingSetting(name)
        return value


class MissingSetting(ConfigError):
    """A setting the command needs is unset; the message says every way to set it.

    `flag` is the command's own option for it, when it has one (never a guessed flag name).
    """

    def __init__(self, name: str, flag: str | None = None) -> None:
        ways = [f"pass {flag}"] if flag else []
        ways += [
            f"set {ENV_PREFIX}{name.upper()}",
            f"add `{name} = ...` to {CONFIG_FILE_NAME}",
            "or start a devnet (`flchain devnet up`)",
        ]
        super().__init__(f"setting '{name}' is not set: {', '.join(ways)}")
        self.setting = name
        self.flag = flag


def _derived_paths(data_dir: Path) -> dict[str, Path]:
    data_dir = data_dir.expanduser()
    return {
        "keystore_dir": data_dir / "keystores",
        "store_dir": data_dir / "store",
        "profile": default_profile_path(data_dir),
    }


SETTING_NAMES: tuple[str, ...] = tuple(Settings.model_fields)
_PATH_SETTINGS = frozenset(
    {"data_dir", "keystore_dir", "store_dir", "profile", "embedded_state_dir"}
)

# Profile field -> setting it provides.
_PROFILE_TO_SETTING = {
    "chain": "chain",
    "rpc_url": "rpc_url",
    "chain_id": "chain_id",
    "contract": "contract",
    "deployment_block": "deployment_block",
    "state_dir": "embedded_state_dir",
    "store": "store",
    "ipfs_url": "ipfs_url",
    "store_dir": "store_dir",
    "keystore_dir": "keystore_dir",
}


# --- the local content store ------------------------------------------------------------

#: Folders every local blockstore has (`flchain.storage.LocalStore` creates them).
_STORE_MARKERS = ("blocks", "pins")


class StoreNotFound(ConfigError):
    """A local content store path that is not a store (a typo would read an empty one)."""


def is_local_store(path: Path) -> bool:
    """True when `path` is a local blockstore folder (has its `blocks/` and `pins/`)."""
    path = Path(path).expanduser()
    return all((path / marker).is_dir() for marker in _STORE_MARKERS)


def check_local_store(path: Path, *, create: bool = False, flag: str | None = None) -> bool:
    """Refuse a local store path that is not a store; returns True when it must be created.

    Commands that read content refuse a path that is not a store (`create=False`): an empty
    store made at a typo'd path would report every CID as missing. Commands that write may
    create one where nothing is yet (`create=True`: a missing or empty folder), never inside a
    folder that already holds something else.
    """
    path = Path(path).expanduser()
    if is_local_store(path):
        return False
    fresh = not path.exists() or (path.is_dir() and not any(path.iterdir()))
    if create and fresh:
        return True
    what = "does not exist" if not path.exists() else "is not a flchain content store"
    where = f"{flag}, " if flag else ""
    raise StoreNotFound(
        f"content store {path} {what}: create one with `flchain store init --store {path}`, "
        f"or fix the path ({where}{ENV_PREFIX}STORE_DIR or store_dir in {CONFIG_FILE_NAME})"
    )


# --- provenance ---------------------------------------------------------------------------


class Source(StrEnum):
    """Where a setting's value came from, highest precedence first."""

    FLAG = "flag"
    ENV = "env"
    FILE = "file"
    PROFILE = "profile"
    DEFAULT = "default"


@dataclass(frozen=True)
class Origin:
    """One setting's source and the exact flag, variable or file it came from."""

    source: Source
    detail: str = ""  # "--rpc-url", "FLCHAIN_RPC_URL", "/home/me/flchain.toml", ...

    def describe(self) -> str:
        if self.source is Source.FLAG:
            return f"flag {self.detail}"
        if self.source is Source.ENV:
            return f"environment variable {self.detail}"
        if self.source is Source.FILE:
            return f"config file {self.detail}"
        if self.source is Source.PROFILE:
            return f"devnet profile {self.detail}"
        return f"default{f' ({self.detail})' if self.detail else ''}"


@dataclass(frozen=True)
class LoadedSettings:
    """The effective settings plus where each value came from."""

    settings: Settings
    origins: dict[str, Origin]
    config_file: Path | None = None
    profile: DevnetProfile | None = None
    environ_password_set: bool = field(default=False, repr=False)
    #: setting -> the option of the running command that sets it (e.g. rpc_url -> --rpc)
    flag_names: Mapping[str, str] = field(default_factory=dict)

    def require(self, *names: str) -> None:
        """Check that every setting in `names` is set, naming this command's flag for it.

        Commands call this first, so a missing value is reported before any keystore is
        unlocked or any endpoint contacted."""
        for name in names:
            if name not in Settings.model_fields:
                raise ConfigError(f"unknown setting {name!r}")
            if getattr(self.settings, name) is None:
                raise MissingSetting(name, self.flag_names.get(name))


# --- layers -------------------------------------------------------------------------------


def _env_layer(environ: Mapping[str, str]) -> dict[str, tuple[Any, Origin]]:
    by_upper = {k.upper(): k for k in environ}
    layer: dict[str, tuple[Any, Origin]] = {}
    for name in SETTING_NAMES:
        var = by_upper.get(f"{ENV_PREFIX}{name.upper()}")
        if var is not None and environ[var] != "":
            layer[name] = (environ[var], Origin(Source.ENV, var))
    return layer


def _find_config_file(
    config_file: Path | str | None, environ: Mapping[str, str], cwd: Path
) -> Path | None:
    """The config file to read. A named one (flag, $FLCHAIN_CONFIG) must exist; ./flchain.toml
    is read only when present."""
    if config_file is not None and str(config_file) != "":
        return Path(config_file).expanduser()
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    candidate = cwd / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The tables of the TOML file `path`; a missing, unreadable or malformed file is one
    `ConfigError` line naming `what` it is ("config file", "rules file") and the path."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


def _file_layer(path: Path) -> dict[str, tuple[Any, Origin]]:
    data = read_toml(path, "config file")
    layer: dict[str, tuple[Any, Origin]] = {}
    origin = Origin(Source.FILE, str(path))
    for key, value in data.items():
        if key in _SECRET_KEYS:
            raise ConfigError(
                f"config file {path}: field '{key}' is a secret and must not be stored in a "
                "file; use the password prompt or the FLCHAIN_PASSWORD environment variable"
            )
        if key not in SETTING_NAMES:
            raise ConfigError(
                f"config file {path}: unknown field '{key}' (known: {', '.join(SETTING_NAMES)})"
            )
        if key in _PATH_SETTINGS:
            value = resolve_relative(path.parent, value)
        layer[key] = (value, origin)
    return layer


def _profile_layer(profile: DevnetProfile, path: Path) -> dict[str, tuple[Any, Origin]]:
    origin = Origin(Source.PROFILE, str(path))
    layer: dict[str, tuple[Any, Origin]] = {}
    for attr, setting in _PROFILE_TO_SETTING.items():
        value = getattr(profile, attr)
        if value is not None:
            layer[setting] = (value, origin)
    return layer


def _flag_layer(
    flags: Mapping[str, Any], flag_names: Mapping[str, str]
) -> dict[str, tuple[Any, Origin]]:
    layer: dict[str, tuple[Any, Origin]] = {}
    for name, value in flags.items():
        if value is None:
            continue  # an option the user did not give
        if name not in SETTING_NAMES:
            raise ConfigError(
                f"unknown setting '{name}' given as a flag (known: {', '.join(SETTING_NAMES)})"
            )
        layer[name] = (value, Origin(Source.FLAG, flag_names.get(name, f"({name})")))
    return layer


def _validate(merged: dict[str, tuple[Any, Origin]]) -> Settings:
    values = {name: value for name, (value, _) in merged.items()}
    try:
        # model_validate (not __init__) so pydantic-settings does not re-read the environment:
        # every layer has already been applied, with provenance.
        return Settings.model_validate(values)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            where = merged[name][1].describe() if name in merged else "the combined settings"
            label = f"'{name}'" if name else "settings"
            parts.append(f"invalid {label} from {where}: {err['msg']}")
        raise ConfigError("; ".join(parts)) from None


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    config_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    flag_names: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Build the effective `Settings` from flags > environment > file > profile > defaults.

    Args:
        flags: setting name -> value from the command line; `None` values mean "not given".
        flag_names: setting name -> the command-line option it came from (as messages and
            `config show` name it); the command line knows, this module does not.
        config_file: the `--config FILE` flag (must exist when given).
        environ: the environment (default `os.environ`).
        cwd: where to look for `flchain.toml` (default the current directory).

    Raises:
        ConfigError: a named file is missing or malformed, or a value is invalid; the message
            names the file / variable / flag and the field.
    """
    env = dict(os.environ if environ is None else environ)
    here = Path.cwd() if cwd is None else cwd
    names = dict(flag_names or {})
    flag_layer = _flag_layer(flags or {}, names)
    env_layer = _env_layer(env)
    file_path = _find_config_file(config_file, env, here)
    file_layer = _file_layer(file_path) if file_path is not None else {}

    upper: dict[str, tuple[Any, Origin]] = {**file_layer, **env_layer, **flag_layer}
    profile, profile_path = _locate_profile(upper)
    profile_layer = _profile_layer(profile, profile_path) if profile and profile_path else {}

    merged = {**profile_layer, **upper}
    settings = _validate(merged)
    origins = {
        name: merged[name][1] if name in merged else _default_origin(name) for name in SETTING_NAMES
    }
    return LoadedSettings(
        settings=settings,
        origins=origins,
        config_file=file_path,
        profile=profile,
        environ_password_set=bool(env.get(settings.password_env)),
        flag_names=names,
    )


def _default_origin(name: str) -> Origin:
    if name in ("keystore_dir", "store_dir", "profile"):
        return Origin(Source.DEFAULT, "under data_dir")
    return Origin(Source.DEFAULT)


def _locate_profile(
    upper: Mapping[str, tuple[Any, Origin]],
) -> tuple[DevnetProfile | None, Path | None]:
    """Load the profile named by flag/env/file, else the default one if it exists."""
    use = upper.get("use_profile")
    if use is not None:
        try:
            enabled = Settings.model_validate({"use_profile": use[0]}).use_profile
        except ValidationError:
            raise ConfigError(
                f"invalid 'use_profile' from {use[1].describe()}: expected true or false"
            ) from None
        if not enabled:
            return None, None
    explicit = upper.get("profile")
    if explicit is not None:
        path = Path(str(explicit[0])).expanduser()
        return load_profile(path), path
    data_dir = upper.get("data_dir")
    path = default_profile_path(Path(str(data_dir[0])) if data_dir else DEFAULT_DATA_DIR)
    return (load_profile(path), path) if path.is_file() else (None, None)


# --- the reference of flchain.toml ----------------------------------------------------------


def _toml_literal(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    return json.dumps(str(value))


def _type_name(annotation: Any) -> str:
    """`int (optional)`, `one of "a", "b"`, `path` — table-safe (no `|`)."""
    text = str(annotation).replace("typing.", "").replace("pathlib.", "")
    text = text.replace("<class '", "").replace("'>", "").replace("NoneType", "None")
    optional = text.endswith(" | None")
    text = text.removesuffix(" | None")
    text = re.sub(r"Literal\[(.*)\]", lambda m: "one of " + m.group(1).replace("'", '"'), text)
    text = {
        "Path": "path", "str": "text", "int": "integer", "float": "number",
        "decimal.Decimal": "number", "list[str]": "list of text",
    }.get(text, text)  # fmt: skip
    return text + (" (optional)" if optional else "")


def settings_reference() -> str:
    """docs/settings.md: every setting of `Settings` with its type, default, environment
    variable and meaning (generated; `scripts/settings_reference.py` writes it and a test
    checks the committed file matches)."""
    derived = {"keystore_dir": "<data_dir>/keystores", "store_dir": "<data_dir>/store",
               "profile": "<data_dir>/devnet/profile.json"}  # fmt: skip
    lines = [
        "# Settings reference (`flchain.toml`)",
        "",
        "<!-- generated by scripts/settings_reference.py from flchain.config.Settings: "
        "do not edit -->",
        "",
        "Every command reads its settings from, highest first: its flags, `FLCHAIN_<NAME>` "
        "environment variables, the TOML file (`--config FILE`, else `$FLCHAIN_CONFIG`, else "
        "`./flchain.toml`), the devnet profile, and the defaults below. `flchain config show` "
        "prints each effective value and where it came from. Relative paths in the file are "
        "relative to the file's folder. Passwords are never settings: the keystore password "
        "comes from the variable named by `password_env`, or a prompt.",
        "",
        "| setting | type | default | environment | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, info in Settings.model_fields.items():
        value = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
        default = derived.get(name) or _toml_literal(value)
        lines.append(
            f"| `{name}` | {_type_name(info.annotation)} | `{default}` | "
            f"`{ENV_PREFIX}{name.upper()}` | {info.description or ''} |"
        )
    example = [
        "",
        "A node operator's file, for example:",
        "",
        "```toml",
        'chain = "rpc"',
        'rpc_url = "https://rpc.example.org"',
        'rpc_fallback_urls = ["https://rpc2.example.org"]',
        "chain_id = 11155111",
        'contract = "0x…"',
        "deployment_block = 5123456",
        'store = "ipfs"',
        'ipfs_url = "http://127.0.0.1:5001"',
        'wallet = "mynode"',
        'log_format = "json"',
        "metrics_port = 9464",
        "max_fee_gwei = 50",
        "max_tx_cost_eth = 0.01",
        "confirmations = 3",
        "```",
        "",
    ]
    return "\n".join(lines + example)

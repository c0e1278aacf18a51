"""The devnet profile: what `flchain devnet up` started, as a JSON file every command picks up.

`DevnetProfile` names the chain (backend, RPC URL or embedded state), the contract, its
protocol version and deployment block, a v2 devnet's beacon seed file, the content store, the keystore folder and wallets, the genesis model and the
processes `devnet down` must stop. `save_profile` writes it atomically, `load_profile` reads and
validates it (relative paths are relative to the file's folder); every problem is one
`ConfigError` line. `flchain.config` reads it as the lowest settings layer and re-exports these
names; the address and URL checks here are the ones settings use too.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Literal

from eth_utils import is_checksum_address, is_hex_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flchain.errors import ConfigError

__all__ = [
    "ChainBackend",
    "DevnetProfile",
    "ProfileProcess",
    "ProfileWallet",
    "StoreBackend",
    "check_url",
    "checksum_address",
    "default_profile_path",
    "load_profile",
    "resolve_relative",
    "save_profile",
]

ChainBackend = Literal["embedded", "anvil", "hardhat", "rpc"]
StoreBackend = Literal["local", "ipfs"]

_URL_RE = re.compile(r"^(https?|wss?)://[^\s/]+(/\S*)?$")


def default_profile_path(data_dir: Path) -> Path:
    """Where `flchain devnet up` writes, and every command looks for, the devnet profile."""
    return Path(data_dir).expanduser() / "devnet" / "profile.json"


def checksum_address(value: str | None) -> str | None:
    """Checksum an address; refuse mixed case that fails its checksum (likely a typo)."""
    if value is None:
        return None
    if not is_hex_address(value):
        raise ValueError("must be a 0x-prefixed 20-byte hex address")
    digits = value[2:]
    if digits not in (digits.lower(), digits.upper()) and not is_checksum_address(value):
        raise ValueError("mixed-case address with a wrong checksum")
    return str(to_checksum_address(value))


def check_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not _URL_RE.fullmatch(value):
        raise ValueError("must be an http(s):// or ws(s):// URL")
    return value.rstrip("/")


class ProfileWallet(BaseModel):
    """A wallet the devnet created and funded (its keystore lives in `keystore_dir`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    address: str

    @field_validator("address")
    @classmethod
    def _checksum_address(cls, value: str) -> str:
        return str(checksum_address(value))


class ProfileProcess(BaseModel):
    """A process `devnet up` started and `devnet down` must stop."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # e.g. "anvil", "hardhat", "ipfs"
    pid: int = Field(gt=0)
    port: int | None = Field(None, gt=0, lt=65536)
    command: tuple[str, ...] = ()


class DevnetProfile(BaseModel):
    """What `flchain devnet up` started, as a JSON file every other command picks up.

    Written with `save_profile`, read with `load_profile`; relative paths in the file are
    relative to the file's folder.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    chain: ChainBackend
    rpc_url: str | None = Field(None, description="JSON-RPC endpoint (anvil, hardhat, rpc)")
    state_dir: Path | None = Field(None, description="embedded chain state folder (embedded)")
    chain_id: int = Field(gt=0)
    contract: str = Field(description="checksummed address of the deployed flchain contract")
    deployment_block: int = Field(0, ge=0, description="block of the deployment transaction")
    store: StoreBackend
    ipfs_url: str | None = Field(None, description="IPFS HTTP RPC API (store = ipfs)")
    store_dir: Path | None = Field(None, description="local blockstore folder (store = local)")
    keystore_dir: Path
    wallets: tuple[ProfileWallet, ...] = ()
    genesis_cid: str | None = None
    genesis_digest: str | None = None
    processes: tuple[ProfileProcess, ...] = ()
    protocol: Literal[1, 2] = Field(
        1, description="protocol version of the contract (1: FLChain, 2: FLChainV2)"
    )
    beacon_seed_file: Path | None = Field(
        None,
        description="v2 devnets: the DevnetBeacon seed (hex, mode 0600) that stands in for drand",
    )

    @field_validator("contract")
    @classmethod
    def _checksum_contract(cls, value: str) -> str:
        return str(checksum_address(value))

    @field_validator("rpc_url", "ipfs_url")
    @classmethod
    def _check_urls(cls, value: str | None) -> str | None:
        return check_url(value)

    @model_validator(mode="after")
    def _backend_fields_present(self) -> DevnetProfile:
        if self.chain != "embedded" and self.rpc_url is None:
            raise ValueError(f"rpc_url is required when chain is {self.chain!r}")
        if self.store == "ipfs" and self.ipfs_url is None:
            raise ValueError("ipfs_url is required when store is 'ipfs'")
        if self.store == "local" and self.store_dir is None:
            raise ValueError("store_dir is required when store is 'local'")
        names = [w.name for w in self.wallets]
        if len(set(names)) != len(names):
            raise ValueError("wallet names must be unique")
        return self


def _describe_validation_error(exc: ValidationError) -> str:
    """One line: `field 'a.b': message; field 'c': message` (pydantic messages hold no input)."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"field '{loc}': {err['msg']}")
    return "; ".join(parts)


def resolve_relative(base: Path, value: Any) -> Any:
    if isinstance(value, str) and value and not value.startswith("~"):
        path = Path(value)
        return str(path if path.is_absolute() else base / path)
    return value


def load_profile(path: Path | str) -> DevnetProfile:
    """Read and validate a devnet profile; a missing or malformed file is a `ConfigError`."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"devnet profile {path} does not exist (run `flchain devnet up`, or point "
            "--profile / FLCHAIN_PROFILE at one)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read devnet profile {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"devnet profile {path} is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"devnet profile {path} must be a JSON object")
    for key in ("state_dir", "store_dir", "keystore_dir", "beacon_seed_file"):
        data[key] = resolve_relative(path.parent, data.get(key))
    try:
        return DevnetProfile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"devnet profile {path}: {_describe_validation_error(exc)}") from None


def save_profile(profile: DevnetProfile, path: Path | str) -> Path:
    """Write `profile` as JSON atomically (temp file + rename), replacing any previous one."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        tmp.write_text(profile.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

"""Encrypted wallets: one Ethereum key per JSON keystore file (Web3 Secret Storage v3).

A node signs every transaction locally with a key that lives only encrypted on disk. This
module creates, imports, lists and unlocks those keys:

- `Keystore(directory).create(name, password) -> address`
- `Keystore(directory).import_key(name, key, password) -> address`
- `Keystore(directory).list() -> list[WalletInfo]`
- `Keystore(directory).unlock(name_or_address, password) -> LocalAccount`

Layout: `<directory>/<name>.json`, mode 0600, directory 0700. The default directory is
`~/.flchain/keystores` (`DEFAULT_KEYSTORE_DIR`); settings (`keystore_dir`) or a flag override it.
Files are written to a temporary file and hard-linked into place, so a crash never leaves a
half-written keystore and an existing wallet is never overwritten, not even by a racing writer.

The private key is never logged, printed, put in an exception message or written unencrypted.
Errors that could echo the caller's input (a malformed key) describe its shape, never its text.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict

from flchain.errors import FlchainError

if TYPE_CHECKING:
    from flchain.config import Settings

__all__ = [
    "DEFAULT_KEYSTORE_DIR",
    "DEFAULT_PASSWORD_ENV",
    "BrokenWallet",
    "InvalidPrivateKey",
    "InvalidWalletName",
    "KdfParams",
    "Keystore",
    "KeystoreError",
    "MalformedKeystore",
    "MissingPassword",
    "WalletExists",
    "WalletInfo",
    "WalletNotFound",
    "WrongPassword",
    "parse_private_key",
    "password_from_env",
    "unlock_from_settings",
]

log = logging.getLogger(__name__)

DEFAULT_KEYSTORE_DIR = Path("~/.flchain/keystores")
DEFAULT_PASSWORD_ENV = "FLCHAIN_PASSWORD"

# Order of the secp256k1 group: a private key must lie in [1, N-1].
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX_KEY_RE = re.compile(r"^(?:0x)?([0-9a-fA-F]{64})$")


# --- errors -------------------------------------------------------------------------------


class KeystoreError(FlchainError):
    """Base class of wallet errors. Messages never contain a key or a password."""


class WrongPassword(KeystoreError):
    """The password does not decrypt the keystore."""


class WalletNotFound(KeystoreError):
    """No wallet with that name or address in the keystore directory."""


class WalletExists(KeystoreError):
    """A wallet with that name (or that address) already exists; nothing was overwritten."""


class InvalidWalletName(KeystoreError):
    """A wallet name must be a plain file-name-safe word."""


class InvalidPrivateKey(KeystoreError):
    """The input is not a 32-byte secp256k1 private key in hex."""


class MalformedKeystore(KeystoreError):
    """A keystore file is not valid keystore JSON (the message names the file)."""


class MissingPassword(KeystoreError):
    """No password was supplied where one is required."""


# --- values -------------------------------------------------------------------------------


class WalletInfo(BaseModel):
    """Public facts about one wallet: no secret material."""

    model_config = ConfigDict(frozen=True)

    name: str
    address: str  # checksummed
    path: Path


class BrokenWallet(BaseModel):
    """A `*.json` file in the keystore folder that is not a readable keystore."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: Path
    problem: str  # the MalformedKeystore message (names the file, never key material)


@dataclass(frozen=True)
class KdfParams:
    """Key-derivation settings used when *writing* a keystore (reading follows the file).

    The default is eth-account's scrypt (n = 2**18: ~0.7 s and 256 MiB per encrypt/decrypt),
    which is what a real wallet should use. `KdfParams.fast()` is PBKDF2 with few iterations:
    only for tests and throw-away devnet wallets, and only when the caller asks for it.
    """

    kdf: Literal["scrypt", "pbkdf2"] = "scrypt"
    iterations: int | None = None  # PBKDF2 iterations or scrypt n; None = eth-account default

    @classmethod
    def fast(cls, iterations: int = 1024) -> KdfParams:
        """Cheap PBKDF2 parameters for tests and devnets. Not for keys that hold value."""
        return cls(kdf="pbkdf2", iterations=iterations)

    def __post_init__(self) -> None:
        if self.kdf not in ("scrypt", "pbkdf2"):
            raise KeystoreError(f"unknown key derivation function {self.kdf!r} (scrypt or pbkdf2)")
        if self.iterations is not None and self.iterations < 1:
            raise KeystoreError("key derivation iterations must be a positive integer")


# --- pure helpers -------------------------------------------------------------------------


def validate_wallet_name(name: str) -> str:
    """Return `name` if it is a safe wallet name (it becomes a file name), else raise."""
    if not _NAME_RE.fullmatch(name) or name.endswith(".json"):
        raise InvalidWalletName(
            f"invalid wallet name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


def parse_private_key(text: str | bytes) -> bytes:
    """Parse a hex private key (64 hex digits, optional `0x`, surrounding whitespace ignored).

    Returns the 32 key bytes. The error message describes the input's shape only, never its
    content, so a mistyped key cannot leak through logs or terminals.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidPrivateKey(
                "private key must be 32 bytes written as 64 hex digits (optional 0x); "
                "the input is not ASCII text"
            ) from None
    match = _HEX_KEY_RE.fullmatch(text.strip())
    if match is None:
        stripped = text.strip()
        body = stripped[2:] if stripped[:2].lower() == "0x" else stripped
        shape = (
            "it contains non-hex characters"
            if any(c not in "0123456789abcdefABCDEF" for c in body)
            else f"it has {len(body)} hex digits"
        )
        raise InvalidPrivateKey(
            f"private key must be 32 bytes written as 64 hex digits (optional 0x); {shape}"
        )
    key = bytes.fromhex(match.group(1))
    if not 0 < int.from_bytes(key, "big") < _SECP256K1_N:
        raise InvalidPrivateKey(
            "private key is outside the secp256k1 range (zero or ≥ curve order)"
        )
    return key


def password_from_env(variable: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The password held in environment variable `variable`, or None when it is unset.

    An empty value counts as unset: an empty password is never accepted.
    """
    env = os.environ if environ is None else environ
    value = env.get(variable)
    return value if value else None


def _is_address(text: str) -> bool:
    return _ADDRESS_RE.fullmatch(text) is not None


def _address_of_keystore_json(data: Any, path: Path) -> str:
    """Checksummed address recorded in a v3 keystore document, or MalformedKeystore."""
    if not isinstance(data, dict):
        raise MalformedKeystore(f"keystore file {path} is not a JSON object")
    if data.get("version") != 3:
        raise MalformedKeystore(f"keystore file {path}: field 'version' must be 3")
    crypto = data.get("crypto", data.get("Crypto"))
    if not isinstance(crypto, dict):
        raise MalformedKeystore(f"keystore file {path}: field 'crypto' is missing")
    for field in ("cipher", "ciphertext", "cipherparams", "kdf", "kdfparams", "mac"):
        if field not in crypto:
            raise MalformedKeystore(f"keystore file {path}: field 'crypto.{field}' is missing")
    address = data.get("address")
    if not isinstance(address, str) or not _is_address(
        address if address.startswith("0x") else "0x" + address
    ):
        raise MalformedKeystore(f"keystore file {path}: field 'address' is missing or invalid")
    return to_checksum_address(address if address.startswith("0x") else "0x" + address)


# --- the keystore -------------------------------------------------------------------------


class Keystore:
    """A directory of encrypted wallets, one `<name>.json` file each.

    Args:
        directory: where keystore files live (created 0700 on first write; `~` is expanded).
        kdf: key-derivation parameters for files this instance writes. Defaults to scrypt.
    """

    def __init__(self, directory: Path | str, *, kdf: KdfParams | None = None) -> None:
        self.directory = Path(directory).expanduser()
        self.kdf = kdf or KdfParams()

    # .. queries ...............................................................................

    def path_for(self, name: str) -> Path:
        """The file that holds wallet `name` (whether or not it exists)."""
        return self.directory / f"{validate_wallet_name(name)}.json"

    def scan(self) -> tuple[list[WalletInfo], list[BrokenWallet]]:
        """Every `*.json` in the folder, sorted by name: the readable wallets, and the files that
        are not keystores (each with why), so one damaged file hides no other wallet."""
        good: list[WalletInfo] = []
        broken: list[BrokenWallet] = []
        if not self.directory.is_dir():
            return good, broken
        for path in sorted(self.directory.glob("*.json")):
            if path.name.startswith("."):
                continue
            try:
                good.append(self._info(path))
            except MalformedKeystore as exc:
                broken.append(BrokenWallet(name=path.stem, path=path, problem=exc.message))
        return good, broken

    def list(self) -> list[WalletInfo]:
        """All readable wallets, sorted by name (`scan` also reports the broken files)."""
        return self.scan()[0]

    def find(self, name_or_address: str) -> WalletInfo:
        """The wallet with that name, or that address (`0x` + 40 hex, any case).

        A broken keystore file is skipped in an address lookup (it names no address anyone can
        rely on); looked up by its own name it raises `MalformedKeystore` naming the file."""
        if _is_address(name_or_address):
            wanted = name_or_address.lower()
            good, broken = self.scan()
            for info in good:
                if info.address.lower() == wanted:
                    return info
            skipped = f" ({len(broken)} unreadable keystore file(s) skipped)" if broken else ""
            raise WalletNotFound(
                f"no wallet with address {name_or_address} in {self.directory}{skipped}"
            )
        path = self.path_for(name_or_address)
        if not path.is_file():
            raise WalletNotFound(f"no wallet named {name_or_address!r} in {self.directory}")
        return self._info(path)

    def check_new_name(self, name: str) -> Path:
        """The path for a new wallet `name`; raises if the name is invalid or already taken."""
        path = self.path_for(name)
        if path.exists():
            raise WalletExists(f"wallet {name!r} already exists at {path}; nothing was changed")
        return path

    # .. writes ................................................................................

    def create(self, name: str, password: str) -> str:
        """Create a new random key, store it encrypted as wallet `name`; return its address."""
        key = secrets.token_bytes(32)
        while not 0 < int.from_bytes(key, "big") < _SECP256K1_N:  # ~2**-128 chance
            key = secrets.token_bytes(32)
        return self._store(name, key, password, action="created")

    def import_key(self, name: str, key: bytes | str, password: str) -> str:
        """Store an existing private key (32 bytes, or hex text) as wallet `name`."""
        key_bytes = parse_private_key(key) if isinstance(key, str) or len(key) != 32 else key
        if not 0 < int.from_bytes(key_bytes, "big") < _SECP256K1_N:
            raise InvalidPrivateKey(
                "private key is outside the secp256k1 range (zero or ≥ curve order)"
            )
        return self._store(name, key_bytes, password, action="imported")

    # .. unlocking .............................................................................

    def unlock(self, name_or_address: str, password: str) -> LocalAccount:
        """Decrypt a wallet and return an eth-account `LocalAccount` that can sign.

        Raises `WrongPassword` when the password does not match, `MalformedKeystore` when the
        file cannot be decrypted for another reason, `WalletNotFound` when there is no such wallet.
        """
        info = self.find(name_or_address)
        if not password:
            raise MissingPassword(f"a password is needed to unlock wallet {info.name!r}")
        data = self._read_json(info.path)
        try:
            key = Account.decrypt(data, password)
        except ValueError as exc:
            # eth-keyfile signals a bad password as "MAC mismatch"; anything else is a file
            # we cannot decrypt (unsupported cipher, damaged params). The original message
            # never holds secrets, but we keep ours uniform and chain nothing.
            if "MAC mismatch" in str(exc):
                raise WrongPassword(f"wrong password for wallet {info.name!r}") from None
            raise MalformedKeystore(
                f"keystore file {info.path} cannot be decrypted: {exc}"
            ) from None
        except (KeyError, TypeError) as exc:
            raise MalformedKeystore(
                f"keystore file {info.path}: missing or invalid field {exc}"
            ) from None
        account: LocalAccount = Account.from_key(key)
        if account.address != info.address:
            raise MalformedKeystore(
                f"keystore file {info.path}: the key decrypts to {account.address}, "
                f"not the recorded address {info.address}"
            )
        log.info("unlocked wallet %s (%s)", info.name, info.address)
        return account

    # .. internals .............................................................................

    def _info(self, path: Path) -> WalletInfo:
        data = self._read_json(path)
        return WalletInfo(name=path.stem, address=_address_of_keystore_json(data, path), path=path)

    @staticmethod
    def _read_json(path: Path) -> Any:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MalformedKeystore(f"cannot read keystore file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise MalformedKeystore(f"keystore file {path} is not UTF-8 text") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise MalformedKeystore(
                f"keystore file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})"
            ) from None

    def _store(self, name: str, key: bytes, password: str, *, action: str) -> str:
        path = self.check_new_name(name)
        if not password:
            raise MissingPassword("refusing to encrypt a wallet with an empty password")
        address: str = Account.from_key(key).address
        for info in self.list():
            if info.address == address:
                raise WalletExists(
                    f"address {address} is already stored as wallet {info.name!r}; nothing was changed"
                )
        document = Account.encrypt(key, password, kdf=self.kdf.kdf, iterations=self.kdf.iterations)
        _write_new_file(path, (json.dumps(document, sort_keys=True) + "\n").encode("utf-8"))
        log.info("%s wallet %s (%s) at %s", action, name, address, path)
        return address


def unlock_from_settings(
    settings: Settings, *, environ: Mapping[str, str] | None = None
) -> LocalAccount:
    """Unattended unlock for daemons: wallet `settings.wallet` in `settings.keystore_dir`,
    password from the environment variable named by `settings.password_env`.

    Raises `ConfigError` when no wallet is configured and `MissingPassword` when the variable
    is unset; never prompts (a daemon has no terminal).
    """
    name = settings.require("wallet")
    password = password_from_env(settings.password_env, environ)
    if password is None:
        raise MissingPassword(
            f"wallet {name!r} needs its password in environment variable {settings.password_env}"
        )
    return Keystore(settings.keystore_dir).unlock(name, password)


def _ensure_private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _write_new_file(path: Path, content: bytes) -> None:
    """Write `content` to a new file `path`, mode 0600, atomically; never replace a file.

    The bytes go to a hidden temporary file first (fsynced), which is then hard-linked to its
    final name: `link` fails if the name exists, so a concurrent writer cannot be clobbered,
    and readers only ever see a complete file.
    """
    _ensure_private_dir(path.parent)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise WalletExists(
                f"wallet {path.stem!r} already exists at {path}; nothing was changed"
            ) from None
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    # Makes the new directory entry durable; harmless where directories cannot be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""`flchain wallet create|import|list|show|verify`: encrypted keystores for node operators.

Keys are never taken from argv (visible to every user through `ps` and shell history): import
reads them from a file, from stdin, or from a hidden prompt. Passwords come from the
environment variable named by `--password-env` (or the `password_env` setting, default
`FLCHAIN_PASSWORD`) or from a hidden prompt, confirmed when a keystore is written.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from flchain.cli.config import ConfigFileOption, DataDirOption, KeystoreDirOption
from flchain.cli.config import settings_from_options as _settings
from flchain.ledger.keystore import (
    KdfParams,
    Keystore,
    KeystoreError,
    MissingPassword,
    parse_private_key,
    password_from_env,
)

app = typer.Typer(help="Encrypted wallets (JSON keystores).", no_args_is_help=True)


class Kdf(StrEnum):
    scrypt = "scrypt"
    pbkdf2 = "pbkdf2"


PasswordEnvOption = Annotated[
    str | None,
    typer.Option(
        "--password-env",
        metavar="VAR",
        help="Read the password from environment variable VAR (default: the password_env "
        "setting, FLCHAIN_PASSWORD; prompt when unset).",
    ),
]
KdfOption = Annotated[
    Kdf,
    typer.Option(
        "--kdf",
        help="Key derivation for the new keystore. Keep scrypt for real keys; "
        "pbkdf2 with few iterations is for tests and throw-away devnet wallets.",
    ),
]
KdfIterationsOption = Annotated[
    int | None,
    typer.Option(
        "--kdf-iterations", min=1, help="PBKDF2 iterations / scrypt n (default: eth-account's)."
    ),
]


def _keystore(
    config_file: Path | None,
    data_dir: Path | None,
    keystore_dir: Path | None,
    kdf: KdfParams | None = None,
) -> tuple[Keystore, str]:
    loaded = _settings(config_file, data_dir=data_dir, keystore_dir=keystore_dir)
    return Keystore(loaded.settings.keystore_dir, kdf=kdf), loaded.settings.password_env


def _warn_if_weak(kdf: Kdf) -> None:
    if kdf is Kdf.pbkdf2:
        typer.echo(
            "warning: pbkdf2 keystore: fine for tests and throw-away devnet wallets, "
            "use the default (scrypt) for keys that hold value",
            err=True,
        )


def _password(password_env: str | None, default_env: str, *, confirm: bool) -> str:
    """From the named variable, else the default variable, else a hidden prompt."""
    if password_env is not None:
        value = password_from_env(password_env)
        if value is None:
            raise MissingPassword(f"environment variable {password_env} is not set or is empty")
        return value
    value = password_from_env(default_env)
    if value is not None:
        return value
    try:
        entered: str = typer.prompt(
            "Keystore password", hide_input=True, confirmation_prompt=confirm
        )
    except typer.Abort:
        raise MissingPassword(
            f"no password: set {default_env}, pass --password-env VAR, or run interactively"
        ) from None
    if not entered:
        raise MissingPassword("the password must not be empty")
    return entered


def _read_key(key_file: Path | None) -> bytes:
    """The key from a file, '-' (stdin, first line), or a hidden prompt on a terminal."""
    if key_file is not None and str(key_file) != "-":
        try:
            return parse_private_key(key_file.expanduser().read_bytes())
        except OSError as exc:
            raise KeystoreError(f"cannot read key file {key_file}: {exc.strerror}") from None
    if key_file is None and sys.stdin.isatty():
        return parse_private_key(typer.prompt("Private key (hex)", hide_input=True))
    # Only the first line: the password prompt may read the rest of stdin.
    return parse_private_key(sys.stdin.readline())


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Wallet name (becomes <name>.json).")],
    password_env: PasswordEnvOption = None,
    kdf: KdfOption = Kdf.scrypt,
    kdf_iterations: KdfIterationsOption = None,
    keystore_dir: KeystoreDirOption = None,
    data_dir: DataDirOption = None,
    config_file: ConfigFileOption = None,
) -> None:
    """Create a new random key and store it encrypted."""
    store, default_env = _keystore(
        config_file, data_dir, keystore_dir, KdfParams(kdf=kdf.value, iterations=kdf_iterations)
    )
    store.check_new_name(name)  # fail before asking for a password
    password = _password(password_env, default_env, confirm=True)
    address = store.create(name, password)
    _warn_if_weak(kdf)
    typer.echo(f"created wallet {name}: {address}")
    typer.echo(f"keystore: {store.path_for(name)}")


@app.command("import")
def import_(
    name: Annotated[str, typer.Argument(help="Wallet name (becomes <name>.json).")],
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="File holding the hex private key, or '-' for stdin. Default: a hidden prompt "
            "on a terminal, else stdin.",
        ),
    ] = None,
    password_env: PasswordEnvOption = None,
    kdf: KdfOption = Kdf.scrypt,
    kdf_iterations: KdfIterationsOption = None,
    keystore_dir: KeystoreDirOption = None,
    data_dir: DataDirOption = None,
    config_file: ConfigFileOption = None,
) -> None:
    """Import an existing private key (never from the command line) and store it encrypted."""
    store, default_env = _keystore(
        config_file, data_dir, keystore_dir, KdfParams(kdf=kdf.value, iterations=kdf_iterations)
    )
    store.check_new_name(name)
    key = _read_key(key_file)
    password = _password(password_env, default_env, confirm=True)
    address = store.import_key(name, key, password)
    _warn_if_weak(kdf)
    typer.echo(f"imported wallet {name}: {address}")
    typer.echo(f"keystore: {store.path_for(name)}")


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    keystore_dir: KeystoreDirOption = None,
    data_dir: DataDirOption = None,
    config_file: ConfigFileOption = None,
) -> None:
    """List wallets: name, address, keystore file."""
    store, _ = _keystore(config_file, data_dir, keystore_dir)
    wallets = store.list()
    if as_json:
        typer.echo(json.dumps([w.model_dump(mode="json") for w in wallets], indent=2))
        return
    if not wallets:
        typer.echo(f"no wallets in {store.directory}")
        return
    width = max(len(w.name) for w in wallets)
    for w in wallets:
        typer.echo(f"{w.name:<{width}}  {w.address}  {w.path}")


@app.command("show")
def show(
    wallet: Annotated[str, typer.Argument(help="Wallet name or address.")],
    keystore_dir: KeystoreDirOption = None,
    data_dir: DataDirOption = None,
    config_file: ConfigFileOption = None,
) -> None:
    """Print a wallet's address (no password needed)."""
    store, _ = _keystore(config_file, data_dir, keystore_dir)
    typer.echo(store.find(wallet).address)


@app.command("verify")
def verify(
    wallet: Annotated[str, typer.Argument(help="Wallet name or address.")],
    password_env: PasswordEnvOption = None,
    keystore_dir: KeystoreDirOption = None,
    data_dir: DataDirOption = None,
    config_file: ConfigFileOption = None,
) -> None:
    """Unlock a wallet to check its password (what a node does before it starts)."""
    store, default_env = _keystore(config_file, data_dir, keystore_dir)
    info = store.find(wallet)
    account = store.unlock(info.name, _password(password_env, default_env, confirm=False))
    typer.echo(f"password ok for wallet {info.name}: {account.address}")

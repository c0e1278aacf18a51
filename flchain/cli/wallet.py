"""`flchain wallet create|import|list|show|verify`: encrypted keystores for node operators.

Keys are never taken from argv (visible to every user through `ps` and shell history): import
reads them from a file, from stdin, or from a hidden prompt. Passwords come from the
environment variable named by `--password-env` (or the `password_env` setting, default
`FLCHAIN_PASSWORD`) or from a hidden prompt, confirmed when a keystore is written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from flchain.cli.config import (
    ConfigFileOption,
    DataDirOption,
    JsonOption,
    KeystoreDirOption,
    OptionGroup,
    RpcOption,
    with_options,
)
from flchain.cli.config import settings_from_options as _settings
from flchain.ledger.keystore import (
    KdfParams,
    Keystore,
    KeystoreError,
    MissingPassword,
    WalletInfo,
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


#: Which keystore folder: `--keystore-dir` over the settings.
KEYSTORE_OPTIONS: OptionGroup = {
    "keystore_dir": (KeystoreDirOption, None),
    "data_dir": (DataDirOption, None),
    "config_file": (ConfigFileOption, None),
}
#: How a new keystore is written.
NEW_KEYSTORE_OPTIONS: OptionGroup = {
    "password_env": (PasswordEnvOption, None),
    "kdf": (KdfOption, Kdf.scrypt),
    "kdf_iterations": (KdfIterationsOption, None),
}


def _keystore(kdf: KdfParams | None = None, **flags: Any) -> tuple[Keystore, str]:
    loaded = _settings(**flags)
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


NameArgument = Annotated[str, typer.Argument(help="Wallet name (becomes <name>.json).")]


@app.command("create")
@with_options(NEW_KEYSTORE_OPTIONS, KEYSTORE_OPTIONS)
def create(name: NameArgument, **flags: Any) -> None:
    """Create a new random key and store it encrypted."""
    _new_wallet(name, None, **flags)


@app.command("import")
@with_options(NEW_KEYSTORE_OPTIONS, KEYSTORE_OPTIONS)
def import_(
    name: NameArgument,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="File holding the hex private key, or '-' for stdin. Default: a hidden prompt "
            "on a terminal, else stdin.",
        ),
    ] = None,
    **flags: Any,
) -> None:
    """Import an existing private key (never from the command line) and store it encrypted."""
    _new_wallet(name, lambda: _read_key(key_file), **flags)


def _new_wallet(
    name: str,
    read_key: Callable[[], bytes] | None,
    *,
    password_env: str | None,
    kdf: Kdf,
    kdf_iterations: int | None,
    **flags: Any,
) -> None:
    """Write wallet `name`: the key `read_key` reads, or a new random one."""
    store, default_env = _keystore(KdfParams(kdf=kdf.value, iterations=kdf_iterations), **flags)
    store.check_new_name(name)  # fail before asking for a key or a password
    key = read_key() if read_key is not None else None
    password = _password(password_env, default_env, confirm=True)
    if key is None:
        address, done = store.create(name, password), "created"
    else:
        address, done = store.import_key(name, key, password), "imported"
    _warn_if_weak(kdf)
    typer.echo(f"{done} wallet {name}: {address}")
    typer.echo(f"keystore: {store.path_for(name)}")


@app.command("list")
@with_options(KEYSTORE_OPTIONS)
def list_(as_json: JsonOption = False, **flags: Any) -> None:
    """List wallets: name, address, keystore file; unreadable keystore files as BROKEN."""
    store, _ = _keystore(**flags)
    wallets, broken = store.scan()
    if as_json:
        doc = [w.model_dump(mode="json") for w in wallets]
        doc += [{**b.model_dump(mode="json"), "address": None, "broken": True} for b in broken]
        typer.echo(json.dumps(sorted(doc, key=lambda d: d["name"]), indent=2))
        return
    if not wallets and not broken:
        typer.echo(f"no wallets in {store.directory}")
        return
    width = max(len(name) for name in [*(w.name for w in wallets), *(b.name for b in broken)])
    rows = [(w.name, f"{w.name:<{width}}  {w.address}  {w.path}") for w in wallets]
    rows += [(b.name, f"{b.name:<{width}}  BROKEN  {b.problem}") for b in broken]
    for _, row in sorted(rows):
        typer.echo(row)


WalletArgument = Annotated[str, typer.Argument(help="Wallet name or address.")]


@app.command("show")
@with_options(KEYSTORE_OPTIONS)
def show(wallet: WalletArgument, **flags: Any) -> None:
    """Print a wallet's address (no password needed)."""
    store, _ = _keystore(**flags)
    typer.echo(store.find(wallet).address)


@app.command("verify")
@with_options(KEYSTORE_OPTIONS)
def verify(wallet: WalletArgument, password_env: PasswordEnvOption = None, **flags: Any) -> None:
    """Unlock a wallet to check its password (what a node does before it starts)."""
    store, default_env = _keystore(**flags)
    info = store.find(wallet)
    account = store.unlock(info.name, _password(password_env, default_env, confirm=False))
    typer.echo(f"password ok for wallet {info.name}: {account.address}")


# ------------------------------------------------------------------------------- on the chain

#: The chain (`--rpc`) and the keystore folder.
CHAIN_OPTIONS: OptionGroup = {"rpc_url": (RpcOption, None), **KEYSTORE_OPTIONS}


def _chain_wallets(names: list[str] | None, **flags: Any) -> tuple[Any, list[WalletInfo]]:
    """The chain and the wallets `names` (all of them by default), found before connecting."""
    from flchain.cli import _common as common

    loaded = _settings(**flags)
    loaded.require("rpc_url")
    store = Keystore(loaded.settings.keystore_dir)
    wallets = [store.find(n) for n in names] if names else store.list()
    return common.backend(loaded.settings), wallets


@app.command("balance")
@with_options(CHAIN_OPTIONS)
def balance(
    wallets: Annotated[
        list[str] | None, typer.Argument(help="Wallet names or addresses (default: every wallet).")
    ] = None,
    as_json: JsonOption = False,
    **flags: Any,
) -> None:
    """Show the balance of wallets on the chain (no password needed)."""
    from flchain.node.funds import balance_of, format_eth

    chain, infos = _chain_wallets(wallets, **flags)
    rows = [(w, balance_of(chain, w.address)) for w in infos]
    if as_json:
        doc = [{"name": w.name, "address": w.address, "balance_wei": b} for w, b in rows]
        typer.echo(json.dumps({"chain_id": chain.chain_id, "wallets": doc}, indent=2))
        return
    if not rows:
        typer.echo("no wallets")
        return
    width = max(len(w.name) for w, _ in rows)
    for w, b in rows:
        typer.echo(f"{w.name:<{width}}  {w.address}  {format_eth(b)}")


def parse_amount(text: str) -> int:
    """`10`, `0.5`, `10ether`, `5 gwei`, `1000wei` -> wei (a bare number is ether)."""
    from decimal import Decimal, InvalidOperation

    from flchain.ledger.sending import WEI_PER_ETH, WEI_PER_GWEI

    units = {"ether": WEI_PER_ETH, "eth": WEI_PER_ETH, "gwei": WEI_PER_GWEI, "wei": 1}
    raw = text.strip().lower().replace(" ", "")
    unit = next((u for u in units if raw.endswith(u)), "ether")
    number = raw[: -len(unit)] if raw.endswith(unit) else raw
    try:
        wei = Decimal(number) * units[unit]
    except InvalidOperation:
        raise KeystoreError(
            f"--amount {text!r} is not an amount: write e.g. 10, 0.5ether, 20gwei or 1000wei"
        ) from None
    if wei < 0 or wei != wei.to_integral_value():
        raise KeystoreError(f"--amount {text!r} must be a whole, non-negative number of wei")
    return int(wei)


@app.command("fund")
@with_options(CHAIN_OPTIONS)
def fund(
    wallets: Annotated[list[str], typer.Argument(help="Wallet names or addresses to fund.")],
    amount: Annotated[
        str,
        typer.Option(
            "--amount", help="Balance to give each wallet (at least): 10, 0.5ether, 20gwei."
        ),
    ] = "10",
    **flags: Any,
) -> None:
    """Devnet only (anvil, hardhat node): give wallets a balance of at least --amount."""
    from flchain.ledger.errors import LedgerError
    from flchain.node.funds import balance_of, devnet_kind, format_eth

    wei = parse_amount(amount)
    chain, infos = _chain_wallets(wallets, **flags)
    kind = devnet_kind(chain)
    if kind not in ("anvil", "hardhat"):
        raise LedgerError(
            f"the chain at {chain.url} (chain id {chain.chain_id}) is not an anvil or hardhat "
            "devnet, so nobody can set balances: send ether from a funded wallet (on a testnet:"
            " a faucet)"
        )
    if chain.kind != kind:  # the balance method (anvil_setBalance / hardhat_setBalance) follows it
        from flchain.ledger import RpcBackend

        if kind == "hardhat":
            chain = RpcBackend(chain.url, kind="hardhat", expected_chain_id=chain.chain_id)
        else:
            chain = RpcBackend(chain.url, kind="anvil", expected_chain_id=chain.chain_id)
    for w in infos:
        chain.fund(w.address, wei)
        typer.echo(f"{w.name}  {w.address}  {format_eth(balance_of(chain, w.address))}")

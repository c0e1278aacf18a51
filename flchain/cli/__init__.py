"""The `flchain` command line. Nothing imports it.

Each concern adds its sub-commands in its own module (`flchain/cli/<concern>.py`) exposing a
`typer.Typer` named `app` (a group `flchain <concern> …`) or a `register_commands(app)` hook
(top-level commands such as `flchain audit`); this module only assembles them and is the error
boundary (`main`): every failure is one `error:` line on stderr and an exit code, never a
traceback.

The concern modules import web3, torch, pandas and the like; importing them all cost ~1.4 s
before any command ran. So a concern's module is imported only when one of its commands is
looked up (to run it, or to show help that lists it): `flchain --version` and
`flchain store --help` load only what they show.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from flchain import __version__
from flchain.errors import FlchainError

if TYPE_CHECKING:
    from typer._click import Command, Context
    from typer._click.exceptions import UsageError

# Root command name -> the module that provides it, in the order `flchain --help` lists them
# (the order typer gave when every module was imported eagerly: top-level commands first).
LAZY_COMMANDS: dict[str, str] = {
    "simulate": "flchain.cli.simulate",
    "audit": "flchain.cli.audit",
    "wallet": "flchain.cli.wallet",
    "chain": "flchain.cli.chain",
    "store": "flchain.cli.store",
    "market": "flchain.cli.market",
    "node": "flchain.cli.node",
    "devnet": "flchain.cli.devnet",
    "config": "flchain.cli.config",
}


#: What `flchain --help` lists for each root command (the first paragraph of its help), so the
#: listing imports none of them: with the modules imported it took 2 s.
#: tests/cli/test_startup.py checks the listing against the commands' own help.
SUMMARIES: dict[str, str] = {
    "simulate": "Run N nodes for D simulated days on a devnet and report what the rules caught.",
    "audit": "Verify rounds from the on-chain record alone: re-fetch, re-backtest, re-merge, compare.",
    "wallet": "Encrypted wallets (JSON keystores).",
    "chain": "The FLChain contract (protocol v1 or v2) on a JSON-RPC chain.",
    "store": "Content-addressed storage: local blockstore or an IPFS daemon.",
    "market": "Market data, benchmarks and backtests.",
    "node": "Take part in the federation as a node.",
    "devnet": "A local devnet: chain, content store, contract, wallets.",
    "config": "Show the effective configuration.",
}


def _load_command(root: typer.Typer, name: str, module_name: str) -> Command:
    """Import `module_name` and build the click command `name` it provides.

    Built exactly as typer builds an eagerly registered group or command, with the root's
    settings, so options, help text and behaviour are unchanged.
    """
    from typer.main import get_command_from_info, get_group_from_info
    from typer.models import TyperInfo

    module = importlib.import_module(module_name)
    sub = getattr(module, "app", None)
    if isinstance(sub, typer.Typer):
        return get_group_from_info(
            TyperInfo(sub, name=name),
            pretty_exceptions_short=root.pretty_exceptions_short,
            rich_markup_mode=root.rich_markup_mode,
            suggest_commands=root.suggest_commands,
        )
    # A dedicated hook name so a sub-command called `register` is never mistaken for it.
    holder = typer.Typer()
    module.register_commands(holder)
    for info in holder.registered_commands:
        command = get_command_from_info(
            info,
            pretty_exceptions_short=root.pretty_exceptions_short,
            rich_markup_mode=root.rich_markup_mode,
        )
        if command.name == name:
            return command
    raise LookupError(f"{module_name} does not provide the command {name!r}")


class _LazyCommands(MutableMapping[str, "Command"]):
    """The root group's name -> command table; a lazy entry is built on first access.

    Names are known up front, so listing, "did you mean" suggestions and usage errors never
    import a concern.
    """

    def __init__(self, eager: MutableMapping[str, Command], lazy: dict[str, str]) -> None:
        self._loaded: dict[str, Command] = dict(eager)
        self._lazy = {n: m for n, m in lazy.items() if n not in self._loaded}
        #: while the root's help is written: a command not loaded yet is its summary alone
        self.listing = False

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded:
            module_name = self._lazy[name]  # KeyError for an unknown name, as a dict does
            if self.listing and name in SUMMARIES:
                from typer.core import TyperCommand

                return TyperCommand(name, help=SUMMARIES[name])
            self._loaded[name] = _load_command(app, name, module_name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._lazy.pop(name, None)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name in self._lazy:
            del self._lazy[name]
        else:
            del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._lazy
        yield from (n for n in self._loaded if n not in self._lazy)

    def __len__(self) -> int:
        return len(self._lazy) + sum(1 for n in self._loaded if n not in self._lazy)

    def __contains__(self, name: object) -> bool:
        return name in self._lazy or name in self._loaded


class _LazyGroup(TyperGroup):
    """The root group: its sub-commands are imported only when looked up."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands, LAZY_COMMANDS)

    def list_commands(self, ctx: Context) -> list[str]:
        # Names only: the base implementation reads `.items()`, which would import everything.
        return list(self.commands)

    def format_help(self, ctx: Context, formatter: Any) -> None:
        commands = self.commands
        assert isinstance(commands, _LazyCommands)
        commands.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            commands.listing = False


app = typer.Typer(
    name="flchain",
    help="An auditable federation for trading models with a blockchain ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=_LazyGroup,
)

_err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flchain {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """An auditable federation for trading models with a blockchain ledger."""


def main() -> None:
    """Console entry point: the CLI's error boundary.

    Whatever goes wrong ends as one `error:` line on stderr and an exit code, never a
    traceback: a `FlchainError` prints its message (its exit code), a usage error click found
    prints its message and where to get help (2), and anything that escaped the layers below
    (a web3 or HTTP library error nobody turned into a `FlchainError`, or a bug) prints its
    type and first line (1). `FLCHAIN_TRACEBACK=1` shows the traceback of the last kind.
    """
    try:
        _run_app()
    finally:
        # Exiting, the interpreter's last collections walk every object still alive: after a
        # simulation, millions (1.3 s of the README's 10 × 7 run). Nothing is garbage any more.
        gc.freeze()


def _run_app() -> None:
    """`main` without its exit-time step; exits through `sys.exit` with the command's code."""
    from typer import Abort
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    try:
        code = app(standalone_mode=False)
    except FlchainError as exc:
        for line in getattr(exc, "problems", ()) or (exc.message,):  # one line per bad field
            _error(line)
        sys.exit(exc.exit_code)
    except NoArgsIsHelpError as exc:  # the help was printed already
        sys.exit(exc.exit_code)
    except UsageError as exc:
        if exc.ctx is not None:
            _err.print(exc.ctx.get_usage(), highlight=False, markup=False, soft_wrap=True)
        _error(with_given_value(exc))
        if exc.ctx is not None:
            _err.print(f"Try '{exc.ctx.command_path} --help' for help.", highlight=False,
                       markup=False)  # fmt: skip
        sys.exit(exc.exit_code)
    except ClickException as exc:
        _error(exc.format_message())
        sys.exit(exc.exit_code)
    except (Abort, KeyboardInterrupt):
        _err.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("FLCHAIN_TRACEBACK"):
            raise
        _error(describe_unexpected(exc))
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _error(message: str) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "(no message)"
    _err.print(f"[bold red]error:[/] {escape(first)}", highlight=False, soft_wrap=True)


def with_given_value(exc: UsageError) -> str:
    """A usage error's message, and the value typed when typer's validation refused it: "Invalid
    value for '--round': Input should be greater than or equal to 0 (got -1)"."""
    from pydantic import ValidationError

    message = exc.format_message()
    cause = exc.__cause__
    if isinstance(cause, ValidationError) and cause.errors():
        message = message.replace("Value error, ", "")  # pydantic's prefix of a choice's refusal
        given = cause.errors()[0].get("input")
        shown = given if isinstance(given, str) else repr(given)
        if f"'{shown}'" not in message:  # a choice's message names it already
            message += f" (got {shown})"
    return message


def describe_unexpected(exc: BaseException) -> str:
    """One line for an exception that is not a `FlchainError`."""
    from flchain.node.errors import describe_foreign_error, from_library

    if from_library(exc):
        return f"from the chain or network: {describe_foreign_error(exc)}"
    return (
        f"unexpected {describe_foreign_error(exc)} (a bug in flchain: please report it; "
        "FLCHAIN_TRACEBACK=1 shows where)"
    )

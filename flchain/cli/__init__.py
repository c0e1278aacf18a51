"""The `flchain` command line. It imports everything; nothing imports it.

Each concern adds its sub-commands in its own module (`flchain/cli/<concern>.py`) exposing a
`typer.Typer` named `app`; this module only assembles them and turns `FlchainError` into one
line on stderr and an exit code, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from flchain import __version__
from flchain.errors import FlchainError

app = typer.Typer(
    name="flchain",
    help="An auditable federation for trading models with a blockchain ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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


def _register_subcommands() -> None:
    import importlib

    for name in (
        "wallet",
        "chain",
        "store",
        "market",
        "node",
        "devnet",
        "simulate",
        "audit",
        "config",
    ):
        try:
            module = importlib.import_module(f"flchain.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"flchain.cli.{name}":
                continue  # that concern has no commands yet
            raise
        sub = getattr(module, "app", None)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=name)
        # Modules that add top-level commands (simulate, audit) export this hook; a dedicated
        # name so a sub-command called `register` is never mistaken for it.
        register_commands = getattr(module, "register_commands", None)
        if callable(register_commands):
            register_commands(app)


_register_subcommands()


def main() -> None:
    """Console entry point.

    Click's standalone mode already reports usage errors and Ctrl-C well; what is ours is
    `FlchainError`: one line on stderr and its exit code, never a traceback.
    """
    try:
        app(standalone_mode=True)
    except FlchainError as exc:
        _err.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _err.print("interrupted")
        sys.exit(130)

"""The CLI imports a concern's module (and its web3/torch/pandas) only when a command needs it.

Each check runs `flchain ARGS` in a fresh interpreter and reports which heavy packages ended up
in `sys.modules`: an assertion about imports, not about timing.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import flchain.cli
from flchain import __version__
from flchain.cli import LAZY_COMMANDS, SUMMARIES

HEAVY = ("torch", "web3", "pandas", "eth_account", "flchain.ledger")

# Runs the real entry point, then prints which heavy modules were imported as the last line.
_PROBE = """
import json, sys
heavy = json.loads(sys.argv[2])
sys.argv = ["flchain", *json.loads(sys.argv[1])]
from flchain.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "loaded": sorted(m for m in heavy if m in sys.modules)}))
"""


def _run(*args: str) -> tuple[str, int, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(args)), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "100"},
    )
    *out, last = proc.stdout.rstrip("\n").split("\n")
    probe = json.loads(last)
    return "\n".join(out) + proc.stderr, int(probe["code"] or 0), probe["loaded"]


def test_version_imports_no_heavy_module() -> None:
    out, code, loaded = _run("--version")
    assert code == 0
    assert out.strip() == f"flchain {__version__}"
    assert loaded == []


def test_group_help_imports_only_that_group() -> None:
    out, code, loaded = _run("store", "--help")
    assert code == 0
    for sub in ("add", "cat", "pin", "gc"):
        assert sub in out
    assert loaded == []


def test_unknown_command_is_a_usage_error_without_imports() -> None:
    out, code, loaded = _run("wallt")
    assert code == 2
    assert "No such command" in out
    assert "wallet" in out  # the suggestion still knows every command name
    assert loaded == []


def test_root_help_lists_every_command_without_importing_one() -> None:
    out, code, loaded = _run("--help")
    assert code == 0
    listed = [line.split()[1] for line in out.splitlines() if line.startswith("│ ")]
    names = [n for n in listed if n in LAZY_COMMANDS]
    assert names == list(LAZY_COMMANDS)
    assert loaded == []


def test_the_root_listing_is_what_the_commands_themselves_say() -> None:
    """The summaries `--help` shows without importing are each command's own first paragraph,
    and the help written with every command loaded is the same text."""
    from typer._click import Context
    from typer.main import get_command

    group = get_command(flchain.cli.app)
    lazy_help = group.get_help(Context(group, info_name="flchain"))
    for name in LAZY_COMMANDS:
        command = group.commands[name]  # imports it
        own = command.short_help or inspect.cleandoc(command.help or "")
        assert own.split("\n\n")[0] == SUMMARIES[name], name
    assert group.get_help(Context(group, info_name="flchain")) == lazy_help
    assert set(SUMMARIES) == set(LAZY_COMMANDS)


def test_running_a_command_loads_its_module() -> None:
    # `node exit --help` must build the real `node` group: its help shows the command's options.
    out, code, loaded = _run("node", "exit", "--help")
    assert code == 0
    assert "--wallet" in out
    assert "torch" not in loaded


def test_every_cli_module_is_registered() -> None:
    package = Path(flchain.cli.__file__).parent
    modules = {
        f"flchain.cli.{p.stem}"
        for p in package.glob("*.py")
        if p.stem != "errors" and not p.stem.startswith("_")  # helpers, not commands
    }
    assert set(LAZY_COMMANDS.values()) == modules

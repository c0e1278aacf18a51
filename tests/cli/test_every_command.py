"""Every command of the CLI, found by walking the typer app: bad input gets one `error:` line and
never a traceback, and every option a message names exists.

Both lists are complete by construction: a new command without a bad-input case here fails
`test_every_command_has_a_bad_input_case`. Failed before the fix: messages named
`--rpc-url` and `--retry-attempts` where no command has them, and usage errors were a rich
panel with no `error:` line."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer._click.core import Context
from typer.core import TyperGroup as Group

import flchain
from flchain.cli import app, main

Command = object


def walk() -> Iterator[tuple[str, Command]]:
    """(path, click command) of every leaf command, e.g. ("chain rules schedule", cmd)."""
    root = typer.main.get_command(app)

    def visit(group: Group, prefix: str) -> Iterator[tuple[str, Command]]:
        ctx = Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            path = f"{prefix} {name}".strip()
            if isinstance(command, Group):
                yield from visit(command, path)
            else:
                yield path, command

    assert isinstance(root, Group)
    yield from visit(root, "")


COMMANDS = dict(walk())


def options_of(command: Command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)}  # type: ignore[attr-defined]


def _store(tmp: Path) -> str:
    from flchain.storage import LocalStore

    LocalStore(tmp / "store")
    return str(tmp / "store")


def _non_store(tmp: Path) -> str:
    (tmp / "docs").mkdir(exist_ok=True)
    (tmp / "docs" / "mine.txt").write_text("x")
    return str(tmp / "docs")


NO_RPC = "http://127.0.0.1:9"
BAD_ADDRESS = "0x1234"
ADDRESS = "0x" + "11" * 20

#: command -> arguments that are wrong (each must fail before any network or keystore access).
BAD_INPUT = {
    "simulate": lambda t: ["--chain", "ganache"],
    "audit": lambda t: ["--round", "-1", "--rpc", NO_RPC, "--contract", "0x" + "11" * 20],
    "wallet create": lambda t: ["../escape"],
    "wallet import": lambda t: ["bad name", "--key-file", str(t / "nokey")],
    "wallet list": lambda t: ["--config", str(t / "missing.toml")],
    "wallet show": lambda t: ["nosuch"],
    "wallet verify": lambda t: ["nosuch"],
    "wallet balance": lambda t: [],  # no rpc_url anywhere
    "wallet fund": lambda t: ["w", "--amount", "ten"],
    "chain genesis": lambda t: ["--store", _non_store(t)],
    "chain deploy": lambda t: [
        "--genesis-digest",
        "0x12",
        "--genesis-cid",
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        "--rpc",
        NO_RPC,
        "--wallet",
        "w",
    ],
    "chain info": lambda t: ["--round", "-1"],
    "chain nodes": lambda t: ["--contract", BAD_ADDRESS, "--rpc", NO_RPC],
    "chain attestations": lambda t: ["--round", "x"],
    "chain rules list": lambda t: ["--rpc", "not a url", "--contract", "0x" + "11" * 20],
    "chain rules export": lambda t: ["--round", "-3"],
    "chain rules schedule": lambda t: ["--rules", str(t / "missing.toml"), "--round", "1"],
    "chain transfer-governance": lambda t: ["0xnot-an-address", "--rpc", NO_RPC],
    "chain rules cancel": lambda t: ["--wallet", "nosuch", "--rpc", NO_RPC, "--contract", ADDRESS],
    "chain governance transfer": lambda t: ["0x00", "--rpc", NO_RPC],
    "chain governance accept": lambda t: [
        "--wallet",
        "nosuch",
        "--rpc",
        NO_RPC,
        "--contract",
        ADDRESS,
    ],
    "chain pause": lambda t: ["--duration", "0"],
    "chain unpause": lambda t: ["--config", str(t / "missing.toml")],
    "chain fund-pool": lambda t: ["--amount", "ten"],
    "store add": lambda t: [str(t / "missing.bin")],
    "store cat": lambda t: ["not-a-cid", "--store", _store(t)],
    "store export-car": lambda t: ["bafy", str(t / "o.car"), "--store", str(t / "typo")],
    "store import-car": lambda t: [str(t / "missing.car")],
    "store pin": lambda t: ["not-a-cid", "--store", _store(t)],
    "store gc": lambda t: ["--store", _non_store(t)],
    "store init": lambda t: ["--store", _non_store(t)],
    "market info": lambda t: ["surplus"],
    "market backtest": lambda t: [str(t / "missing.safetensors")],
    "market load-csv": lambda t: [str(t / "missing.csv")],
    "market benchmark build": lambda t: [
        str(t / "missing.csv"),
        "--exchange",
        "binance",
        "--symbol",
        "BTC/USDT",
    ],
    "market benchmark show": lambda t: [BAD_ADDRESS],
    "node run": lambda t: ["--profile", str(t / "nowhere.json")],
    "node register": lambda t: ["--bond", "-1"],
    "node status": lambda t: ["--wallet", "w", "--data-dir", str(t / "empty")],
    "node exit": lambda t: ["--config", str(t / "missing.toml")],
    "node withdraw": lambda t: ["--profile", str(t / "nowhere.json")],
    "node add-bond": lambda t: ["--amount", "-1"],
    "node collect": lambda t: ["--profile", str(t / "nowhere.json")],
    "node settle": lambda t: ["--node", BAD_ADDRESS],
    "devnet up": lambda t: ["--chain", "ganache"],
    "devnet down": lambda t: ["--data-dir", str(t / "no-devnet")],
    "devnet status": lambda t: ["--data-dir", str(t / "no-devnet")],
    "config show": lambda t: ["--chain", "ganache"],
}


def test_every_command_has_a_bad_input_case() -> None:
    assert set(COMMANDS) == set(BAD_INPUT)


@pytest.mark.parametrize("path", sorted(BAD_INPUT))
def test_bad_input_gets_one_error_line(
    path: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLCHAIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FLCHAIN_PASSWORD", "unused")
    monkeypatch.setattr(sys, "argv", ["flchain", *path.split(), *BAD_INPUT[path](tmp_path)])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    assert exc.value.code not in (0, None), out
    assert "Traceback" not in out.err + out.out
    errors = [line for line in out.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.err
    assert not errors[0].startswith("error: unexpected"), errors[0]  # a bug, not bad input
    assert len(errors[0]) > len("error: ") + 10  # says something


# ------------------------------------------------------------------ flags named in messages

_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_COMMAND_IN_TEXT = re.compile(r"`flchain ([^`]*)`")
#: Flags of other programs that messages quote (`ipfs add --cid-version=1 --raw-leaves`).
FOREIGN_FLAGS = {"--cid-version", "--raw-leaves", "--ignore-scripts"}


def _texts(node: ast.AST) -> Iterator[str]:
    """The literal text of every string inside `node` (f-string parts joined with a space)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.JoinedStr):
            yield " ".join(v.value for v in sub.values if isinstance(v, ast.Constant))
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub.value


def _messages() -> Iterator[tuple[str, str]]:
    """(file:line, text) of the strings in raised errors and in what the CLI prints."""
    root = Path(flchain.__file__).parent
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target: ast.AST = node.exc
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("echo", "print")
            ):
                target = node
            else:
                continue
            for text in _texts(target):
                yield f"{path.relative_to(root.parent)}:{node.lineno}", text


def _command_for(words: list[str]) -> tuple[str, list[str]]:
    """The longest command path at the start of `words`, and the words after it."""
    for n in range(min(3, len(words)), 0, -1):
        path = " ".join(words[:n])
        if path in COMMANDS or any(c.startswith(path + " ") for c in COMMANDS):
            return path, words[n:]
    return "", words


def test_every_flag_a_message_names_exists() -> None:
    every = set().union(*(options_of(c) for c in COMMANDS.values())) | {"--help", "--version"}
    wrong: list[str] = []
    checked = 0
    for where, text in _messages():
        checked += len(_FLAG.findall(text))
        for flag in _FLAG.findall(text):
            if flag not in every and flag not in FOREIGN_FLAGS:
                wrong.append(f"{where}: {flag} (no command has it) in {text!r}")
        for quoted in _COMMAND_IN_TEXT.findall(text):
            path, rest = _command_for(quoted.split())
            if path not in COMMANDS:
                continue  # a group, or a command named without its sub-command
            for flag in _FLAG.findall(" ".join(rest)):
                if flag not in options_of(COMMANDS[path]):
                    wrong.append(f"{where}: `flchain {path}` has no {flag}")
    assert checked > 20  # the scan sees the messages
    assert wrong == []


def test_missing_setting_names_the_commands_own_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLCHAIN_DATA_DIR", str(tmp_path))
    for argv, flag in (
        (["chain", "info"], "--rpc"),
        (["wallet", "balance"], "--rpc"),
        (["audit", "--all"], None),
    ):
        monkeypatch.setattr(sys, "argv", ["flchain", *argv])
        with pytest.raises(SystemExit):
            main()
        err = capsys.readouterr().err
        if flag is not None:
            assert f"setting 'rpc_url' is not set: pass {flag}," in err
        assert "--rpc-url" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["chain", "info", "--round", "-1"],
        ["chain", "rules", "export", "--round", "-1"],
        ["audit", "--round", "-1", "--rpc", NO_RPC, "--contract", "0x" + "11" * 20],
    ],
)
def test_a_refused_round_is_repeated(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed before: "Invalid value for '--round': Input should be greater than or equal to
    0" and "--round must be 0 or more" did not say what was given."""
    monkeypatch.setattr(sys, "argv", ["flchain", *argv])
    with pytest.raises(SystemExit):
        main()
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "--round" in line and "-1" in line.replace("--round", "")

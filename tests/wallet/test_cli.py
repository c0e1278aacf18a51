"""`flchain wallet ...` driven through the real typer app (CliRunner) and the console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner, Result

from flchain.cli import app
from flchain.ledger.keystore import (
    InvalidPrivateKey,
    Keystore,
    MissingPassword,
    WalletExists,
    WrongPassword,
)

FAST = ["--kdf", "pbkdf2", "--kdf-iterations", "1024"]
PW = "s3cret-pw"
NoKey = Callable[[str | bytes, bytes], None]


@pytest.fixture
def run(keystore_dir: Path) -> Callable[..., Result]:
    runner = CliRunner()

    def _run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        full = ["wallet", *args]
        if args and args[0] in ("create", "import", "list", "show", "verify"):
            full += ["--keystore-dir", str(keystore_dir)]
        return runner.invoke(app, full, input=input, env=env)

    return _run


def test_create_list_show_verify_with_env_password(
    run: Callable[..., Result], keystore_dir: Path
) -> None:
    created = run("create", "alice", *FAST, env={"FLCHAIN_PASSWORD": PW})
    assert created.exit_code == 0, created.output
    address = Keystore(keystore_dir).find("alice").address
    assert f"created wallet alice: {address}" in created.stdout
    assert "warning: pbkdf2 keystore" in created.stderr
    listed = run("list")
    assert listed.exit_code == 0 and address in listed.output and "alice" in listed.output
    as_json = json.loads(run("list", "--json").stdout)
    assert as_json == [
        {"name": "alice", "address": address, "path": str(keystore_dir / "alice.json")}
    ]
    assert run("show", "alice").stdout.strip() == address
    verified = run("verify", address.lower(), env={"FLCHAIN_PASSWORD": PW})
    assert verified.exit_code == 0 and "password ok" in verified.output


def test_create_prompts_hidden_and_confirmed(
    run: Callable[..., Result], keystore_dir: Path
) -> None:
    result = run("create", "alice", *FAST, input=f"{PW}\n{PW}\n")
    assert result.exit_code == 0, result.output
    assert PW not in result.output  # hidden input is not echoed
    assert Keystore(keystore_dir).unlock("alice", PW).address in result.output


def test_mismatched_confirmation_then_eof_writes_nothing(
    run: Callable[..., Result], keystore_dir: Path
) -> None:
    result = run("create", "alice", *FAST, input=f"{PW}\nsomething else\n")
    assert isinstance(result.exception, MissingPassword)
    assert not (keystore_dir / "alice.json").exists()


def test_import_from_stdin_then_prompted_password(
    run: Callable[..., Result], keystore_dir: Path, private_key: bytes, assert_no_key: NoKey
) -> None:
    result = run("import", "bob", *FAST, input=f"0x{private_key.hex()}\n{PW}\n{PW}\n")
    assert result.exit_code == 0, result.output
    assert Account.from_key(private_key).address in result.output
    assert bytes(Keystore(keystore_dir).unlock("bob", PW).key) == private_key
    assert_no_key(result.output, private_key)


def test_import_from_key_file_with_named_password_variable(
    run: Callable[..., Result],
    keystore_dir: Path,
    tmp_path: Path,
    private_key: bytes,
    assert_no_key: NoKey,
) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(private_key.hex() + "\n")
    result = run(
        "import",
        "bob",
        "--key-file",
        str(key_file),
        "--password-env",
        "NODE_PW",
        *FAST,
        env={"NODE_PW": PW},
    )
    assert result.exit_code == 0, result.output
    assert Keystore(keystore_dir).unlock("bob", PW).address == Account.from_key(private_key).address
    assert_no_key(result.output, private_key)


def test_named_password_variable_must_be_set(
    run: Callable[..., Result], keystore_dir: Path
) -> None:
    result = run(
        "create", "alice", "--password-env", "NODE_PW", *FAST, env={"FLCHAIN_PASSWORD": PW}
    )
    assert isinstance(result.exception, MissingPassword)
    assert "NODE_PW" in str(result.exception)
    assert not (keystore_dir / "alice.json").exists()


def test_key_is_not_accepted_on_the_command_line(
    run: Callable[..., Result], keystore_dir: Path, private_key: bytes
) -> None:
    result = run("import", "bob", private_key.hex(), *FAST, env={"FLCHAIN_PASSWORD": PW})
    assert result.exit_code == 2  # usage error: no such argument
    assert not keystore_dir.exists() or list(keystore_dir.iterdir()) == []


def test_bad_key_from_stdin_is_refused(run: Callable[..., Result], keystore_dir: Path) -> None:
    result = run("import", "bob", *FAST, input="abc123\n", env={"FLCHAIN_PASSWORD": PW})
    assert isinstance(result.exception, InvalidPrivateKey)
    assert "abc123" not in str(result.exception)
    assert not (keystore_dir / "bob.json").exists()


def test_existing_name_is_refused_before_any_prompt(run: Callable[..., Result]) -> None:
    assert run("create", "alice", *FAST, env={"FLCHAIN_PASSWORD": PW}).exit_code == 0
    again = run("create", "alice", *FAST)  # no password source: it must not even ask
    assert isinstance(again.exception, WalletExists)
    assert "password" not in again.output.lower()


def test_wrong_password(run: Callable[..., Result]) -> None:
    run("create", "alice", *FAST, env={"FLCHAIN_PASSWORD": PW})
    result = run("verify", "alice", env={"FLCHAIN_PASSWORD": "nope"})
    assert isinstance(result.exception, WrongPassword)


def test_keystore_dir_from_config_file_and_environment(isolated_env: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    (isolated_env / "flchain.toml").write_text('keystore_dir = "wallets"\n')
    result = runner.invoke(app, ["wallet", "create", "alice", *FAST], env={"FLCHAIN_PASSWORD": PW})
    assert result.exit_code == 0, result.output
    assert (isolated_env / "wallets" / "alice.json").is_file()
    env_dir = tmp_path / "from-env"
    result = runner.invoke(
        app,
        ["wallet", "create", "bob", *FAST],
        env={"FLCHAIN_PASSWORD": PW, "FLCHAIN_KEYSTORE_DIR": str(env_dir)},
    )
    assert result.exit_code == 0, result.output
    assert (env_dir / "bob.json").is_file()


def _flchain(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "400", **env}
    return subprocess.run(
        [sys.executable, "-c", "from flchain.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def test_console_errors_are_one_line_without_traceback_or_key(
    keystore_dir: Path, tmp_path: Path, private_key: bytes, assert_no_key: NoKey
) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(private_key.hex())
    ks = ["--keystore-dir", str(keystore_dir)]
    imported = _flchain(
        "wallet",
        "import",
        "bob",
        "--key-file",
        str(key_file),
        *FAST,
        *ks,
        env={"FLCHAIN_PASSWORD": PW},
    )
    assert imported.returncode == 0, imported.stderr
    wrong = _flchain("wallet", "verify", "bob", *ks, env={"FLCHAIN_PASSWORD": "wrong"})
    (keystore_dir / "junk.json").write_text("{oops")
    broken = _flchain("wallet", "list", *ks, env={})
    for proc in (imported, wrong, broken):
        assert "Traceback" not in proc.stderr
        assert_no_key(proc.stdout + proc.stderr, private_key)
    assert wrong.returncode == 1
    assert wrong.stderr.strip().splitlines() == ["error: wrong password for wallet 'bob'"]
    # One damaged file does not break the listing: it shows as BROKEN, bob still listed.
    assert broken.returncode == 0, broken.stderr
    rows = broken.stdout.strip().splitlines()
    assert [r.split()[0] for r in rows] == ["bob", "junk"]
    assert "BROKEN" in rows[1] and str(keystore_dir / "junk.json") in rows[1]
    assert "not valid JSON" in rows[1]

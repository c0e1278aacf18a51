"""`flchain config show` through the real typer app and the console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flchain.cli import app
from flchain.config import default_profile_path
from flchain.errors import ConfigError

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _line(output: str, name: str) -> str:
    [line] = [ln for ln in output.splitlines() if ln.split(" ", 1)[0] == name]
    return " ".join(line.split())


def test_show_names_the_source_of_each_value(
    isolated_env: Path, home: Path, write_profile: Callable[..., Path]
) -> None:
    toml = isolated_env / "flchain.toml"
    toml.write_text("retry_attempts = 7\n")
    profile = write_profile(default_profile_path(home / ".flchain"))
    result = CliRunner().invoke(
        app,
        ["config", "show", "--rpc-url", "http://127.0.0.1:9999", "--set", "rpc_timeout_s=2.5"],
        env={"FLCHAIN_LOG_LEVEL": "warning"},
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert _line(out, "rpc_url") == "rpc_url = http://127.0.0.1:9999 [flag --rpc-url]"
    # Set through --set: there is no --rpc-timeout-s option, so none is named.
    assert _line(out, "rpc_timeout_s") == "rpc_timeout_s = 2.5 [flag --set rpc_timeout_s]"
    assert _line(out, "log_level") == "log_level = WARNING [env FLCHAIN_LOG_LEVEL]"
    assert _line(out, "retry_attempts") == f"retry_attempts = 7 [file {toml}]"
    assert _line(out, "contract") == f"contract = {CONTRACT} [profile {profile}]"
    assert _line(out, "wallet") == "wallet = (unset) [default]"


def test_password_is_never_shown(isolated_env: Path) -> None:
    secret = "hunter2-do-not-print"
    runner = CliRunner()
    shown = runner.invoke(app, ["config", "show"], env={"FLCHAIN_PASSWORD": secret})
    assert shown.exit_code == 0
    assert secret not in shown.output
    assert _line(shown.stdout, "password") == "password = (set, hidden) [env FLCHAIN_PASSWORD]"
    as_json = runner.invoke(app, ["config", "show", "--json"], env={"FLCHAIN_PASSWORD": secret})
    assert secret not in as_json.output and json.loads(as_json.stdout)["password"] == "set"
    custom = runner.invoke(
        app, ["config", "show", "--set", "password_env=NODE_PW"], env={"NODE_PW": secret}
    )
    assert secret not in custom.output
    assert _line(custom.stdout, "password") == "password = (set, hidden) [env NODE_PW]"
    unset = runner.invoke(app, ["config", "show"])
    assert "(not set)" in _line(unset.stdout, "password")


def test_json_output(isolated_env: Path) -> None:
    result = CliRunner().invoke(app, ["config", "show", "--json", "--chain", "hardhat"])
    doc = json.loads(result.stdout)
    assert doc["settings"]["chain"] == "hardhat"
    assert doc["origins"]["chain"] == {"source": "flag", "detail": "--chain"}
    assert doc["origins"]["store"] == {"source": "default", "detail": ""}


def test_no_profile_flag_ignores_the_profile(
    home: Path, write_profile: Callable[..., Path]
) -> None:
    write_profile(default_profile_path(home / ".flchain"))
    result = CliRunner().invoke(app, ["config", "show", "--no-profile", "--json"])
    assert json.loads(result.stdout)["settings"]["contract"] is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--set", "nonsense"], "--set expects KEY=VALUE"),
        (["--set", "colour=blue"], "unknown setting 'colour'"),
        (["--chain", "ganache"], "invalid 'chain' from flag --chain"),
        (["--config", "missing.toml"], "config file missing.toml does not exist"),
    ],
)
def test_bad_input_is_a_config_error(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, ["config", "show", *args])
    assert isinstance(result.exception, ConfigError)
    assert expected in str(result.exception)


def test_console_error_is_one_line_without_traceback(isolated_env: Path) -> None:
    (isolated_env / "flchain.toml").write_text("chain = 'anvil'\nretry_attempts = [1]\n")
    proc = subprocess.run(
        [sys.executable, "-c", "from flchain.cli import main; main()", "config", "show"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
        cwd=isolated_env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "invalid 'retry_attempts' from config file" in line and "flchain.toml" in line

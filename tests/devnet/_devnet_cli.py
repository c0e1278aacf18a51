"""Devnet test helpers: the real `flchain` CLI in a subprocess, the profile, a port probe."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

FLCHAIN = str(Path(sys.executable).with_name("flchain"))
PASSWORD = "devnet-test-password"


def cli_env(password: str | None = PASSWORD) -> dict[str, str]:
    """The environment of a user's `flchain` command: none of ours, no terminal, plain output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLCHAIN_")}
    env.update(NO_COLOR="1", COLUMNS="200")
    if password is not None:
        env["FLCHAIN_PASSWORD"] = password
    return env


def flchain(
    *args: str, password: str | None = PASSWORD, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run the installed `flchain` command as a user would (no terminal, plain output)."""
    return subprocess.run(
        [FLCHAIN, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(password),
        check=False,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `error:` line on stderr; fails if there is none, several, or a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def profile_json(data_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((data_dir / "devnet" / "profile.json").read_text())
    return data


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0

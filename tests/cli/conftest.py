"""CLI tests run the real entry point (`flchain.cli.main`, the error boundary included) in a
clean environment: no FLCHAIN_* from the developer's shell, a fresh HOME, an empty cwd."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

FLCHAIN = str(Path(sys.executable).with_name("flchain"))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.upper().startswith("FLCHAIN_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def flchain(isolated_env: Path) -> Run:
    """`flchain(*args, env={...})`: the installed entry point in a subprocess."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if not k.upper().startswith("FLCHAIN_")}
        full.update(NO_COLOR="1", COLUMNS="200", **(env or {}))
        return subprocess.run(
            [FLCHAIN, *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=full,
            cwd=isolated_env,
            check=False,
        )

    return run


def error_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The one `error:` line on stderr (and the exit code, and no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]

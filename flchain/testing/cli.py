"""The `flchain` command as a user runs it, for tests and benchmarks: a subprocess, no terminal.

Every call gets an environment without the developer's `FLCHAIN_*` variables (a shell's
`FLCHAIN_RPC_URL` must not leak into a test), plus what the caller adds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["FLCHAIN", "clean_env", "run_flchain"]

#: The console script installed beside this interpreter (what `pip install` puts on PATH).
FLCHAIN = str(Path(sys.executable).with_name("flchain"))
#: The same entry point through the interpreter, for when the script is not the thing tested.
VIA_PYTHON = (sys.executable, "-c", "from flchain.cli import main; main()")


def clean_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """`base` (default: this process's environment) without FLCHAIN_* variables, plus `extra`."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith("FLCHAIN_")
    }
    env.update(extra)
    return env


def run_flchain(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    script: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `flchain *args` (stdin closed, output captured as text, exit code not checked).

    @param env the whole environment of the child (default: `clean_env()`)
    @param script run the installed console script; False runs `python -c` the same `main`
    """
    argv = [FLCHAIN, *args] if script else [*VIA_PYTHON, *args]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(env) if env is not None else clean_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )

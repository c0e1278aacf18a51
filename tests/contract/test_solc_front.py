"""`scripts/solc`, the `solc` executable forge and py-solc-x drive (over the npm solc): it
answers `--version` the way forge parses it and returns standard JSON output whole through a
pipe, however slowly the reader drains it (an asynchronous write cut off at exit would truncate
it at the pipe's 64 KiB)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from flchain.ledger.compile import CONTRACT, SOLC_FRONT, SOURCE, run_solcjs

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def test_version_is_a_native_style_version_line() -> None:
    out = subprocess.run(
        [str(SOLC_FRONT), "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert re.search(r"^Version: 0\.8\.37\+commit\.[0-9a-f]{8}\.Linux\.g\+\+$", out, re.M), out


@pytest.mark.slow
def test_standard_json_output_arrives_whole_through_a_slow_pipe() -> None:
    solc_input = run_solcjs()["input"]
    proc = subprocess.Popen(
        [str(SOLC_FRONT), "--standard-json"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(solc_input).encode())
    proc.stdin.close()
    chunks = []
    while chunk := proc.stdout.read(16_384):  # a reader slower than the writer
        chunks.append(chunk)
        time.sleep(0.01)
    assert proc.wait(timeout=300) == 0
    raw = b"".join(chunks)
    assert len(raw) > 64 * 1024  # more than one pipe buffer, or the test proves nothing
    out = json.loads(raw)
    assert out["contracts"][SOURCE][CONTRACT]["evm"]["bytecode"]["object"]


def test_unknown_usage_is_refused() -> None:
    proc = subprocess.run(
        [str(SOLC_FRONT), "--bin"], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 2 and "usage" in proc.stderr

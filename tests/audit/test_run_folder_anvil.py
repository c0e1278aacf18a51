"""`flchain audit --run DIR` on a `flchain simulate --chain anvil` run folder.

The simulation's anvil is gone once it ended (profile.json's `rpc_url` is dead); the audit must
start a temporary anvil, `anvil_loadState` the run's `anvil-state.json` into it, audit every
round, say so in the report header, and stop that anvil afterwards — also when it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from flchain.audit.errors import AuditError
from flchain.audit.source import RESTORED_NOTE, open_source
from flchain.config import load_profile
from flchain.ledger import RpcBackend
from flchain.testing.cli import clean_env, run_flchain

NODES, DAYS = 4, 2

pytestmark = pytest.mark.slow


def flchain(*args: str) -> subprocess.CompletedProcess[str]:
    return run_flchain(*args, env=clean_env(COLUMNS="80", LINES="50"), script=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("anvil-run") / "run"
    done = flchain("simulate", "--chain", "anvil", "--nodes", str(NODES), "--days", str(DAYS),
                   "--protocol", "1", "--out", str(out), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "anvil-state.json").is_file()
    return out


def anvil_children() -> list[int]:
    """Pids of anvil processes started by this test process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
        except OSError:
            continue
        name, fields = rest.rsplit(") ", 1)
        if name.endswith("anvil") and int(fields.split()[1]) == os.getpid():
            found.append(int(pid))
    return found


def answers(url: str) -> bool:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    try:
        httpx.post(url, json=body, timeout=2.0)
    except httpx.HTTPError:
        return False
    return True


def test_dead_rpc_then_audit_restores_the_dump_and_verifies(run_dir: Path) -> None:
    rpc_url = load_profile(run_dir / "profile.json").rpc_url
    assert rpc_url is not None and not answers(rpc_url)  # the simulation's anvil is gone
    done = flchain("audit", "--run", str(run_dir), "--all", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert [r["verdict"] for r in report["rounds"]] == ["verified"] * DAYS
    assert report["notes"] == [RESTORED_NOTE]


def test_plain_report_says_where_the_chain_came_from(run_dir: Path) -> None:
    done = flchain("audit", "--run", str(run_dir), "--all")
    assert done.returncode == 0, done.stderr[-3000:]
    head = done.stdout.splitlines()[:3]
    assert any("anvil-state.json" in line and "temporary anvil" in line for line in head), head
    assert "VERIFIED" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80  # COLUMNS=80, piped


def test_temporary_anvil_is_stopped_after_use_and_on_error(run_dir: Path) -> None:
    source = open_source(run=run_dir)
    backend = source.ledger.backend
    assert isinstance(backend, RpcBackend) and source.notes == (RESTORED_NOTE,)
    with pytest.raises(RuntimeError), source:
        assert source.ledger.round_record(0).round == 0  # the restored chain has the run's rounds
        raise RuntimeError("audit failed half-way")
    assert not answers(backend.url) and anvil_children() == []
    source.close()  # a second close is harmless


def test_unreadable_dump_is_one_clear_error_and_nothing_left_running(
    run_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    (copy / "profile.json").write_text((run_dir / "profile.json").read_text())
    (copy / "anvil-state.json").write_text('{"state": 42}')
    with pytest.raises(AuditError, match="holds no anvil state"):
        open_source(run=copy)
    (copy / "anvil-state.json").write_text('{"state": "0xdeadbeef"}')
    with pytest.raises(AuditError, match="anvil refused the state"):
        open_source(run=copy)
    assert anvil_children() == []
    done = flchain("audit", "--run", str(copy), "--all")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error:") and len(done.stderr.strip().splitlines()) == 1

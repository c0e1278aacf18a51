"""`flchain audit` as a user runs it: a real anvil, a real offline js-ipfs daemon, the CLI in a
subprocess with --rpc/--contract/--ipfs; exit codes 0 / 1 / 2 and the JSON report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from flchain.devnet.anvil import AnvilProcess
from flchain.devnet.ipfsd import IpfsDaemon
from flchain.ledger import RpcBackend
from flchain.simulate.adversaries import tamper_shift_weights
from flchain.storage import IpfsClient
from flchain.testing import RoundDriver, RoundPlan
from flchain.testing.cli import clean_env, run_flchain

pytestmark = [pytest.mark.slow, pytest.mark.anvil, pytest.mark.ipfs]


@pytest.fixture(scope="module")
def world(
    anvil: AnvilProcess, ipfs_daemon: IpfsDaemon, ipfs: IpfsClient
) -> tuple[RoundDriver, str, str]:
    fed = RoundDriver.deploy(RpcBackend(anvil.url, kind="anvil"), ipfs, 3, seed=11)
    n = fed.addresses
    fed.play_round(0, RoundPlan(attesters=[n[0]]))
    fed.play_round(1, RoundPlan(attesters=[n[0], n[1]], tampers={n[1]: tamper_shift_weights}))
    return fed, anvil.url, ipfs_daemon.url


def run_audit(*args: str) -> subprocess.CompletedProcess[str]:
    return run_flchain("audit", *args, env=clean_env(NO_COLOR="1", COLUMNS="200"), timeout=300)


def source(world: tuple[RoundDriver, str, str]) -> list[str]:
    fed, rpc, ipfs = world
    return [
        "--rpc",
        rpc,
        "--contract",
        fed.gov.address,
        "--ipfs",
        ipfs,
        "--from-block",
        str(fed.gov.from_block),
    ]


def test_verified_round_exits_0_with_json(world: tuple[RoundDriver, str, str]) -> None:
    proc = run_audit(*source(world), "--round", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "verified" and doc["rounds"][0]["verdict"] == "verified"
    assert (
        doc["rounds"][0]["finalized"]["merged_digest"]
        == doc["rounds"][0]["replayed"]["merged_digest"]
    )


def test_wrong_attester_exits_1_and_is_named(
    world: tuple[RoundDriver, str, str], tmp_path: Path
) -> None:
    fed = world[0]
    page = tmp_path / "report.html"
    proc = run_audit(*source(world), "--all", "--html", str(page))
    assert proc.returncode == 1, proc.stderr
    assert "CONFLICT FOUND" in proc.stdout and fed.addresses[1] in proc.stdout
    assert "CONFLICT" in proc.stdout
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_unreachable_rpc_exits_2(world: tuple[RoundDriver, str, str]) -> None:
    fed, _, ipfs = world
    proc = run_audit(
        "--rpc", "http://127.0.0.1:9", "--contract", fed.gov.address, "--ipfs", ipfs, "--all"
    )
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_round_choice_exits_2(world: tuple[RoundDriver, str, str]) -> None:
    proc = run_audit(*source(world), "--rounds", "5..3")
    assert proc.returncode == 2 and "A..B" in proc.stderr
    proc = run_audit(*source(world), "--round", "40")
    assert proc.returncode == 2 and "has not closed" in proc.stderr

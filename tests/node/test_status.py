"""`flchain node status` for a node that took part in a round: its on-chain record, the current
round's phase and what it did (committed, revealed with which outcome and claim, attested,
finalized). A real devnet (anvil, `devnet_up`); the node's round is played by the same
`NodeRunner.step` the daemon runs, with chain time moved through the phases."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flchain.config import load_profile
from flchain.devnet.manager import UpOptions, devnet_down, devnet_up
from flchain.ledger import Ledger, Phase, RpcBackend
from flchain.ledger.keystore import Keystore
from flchain.node.context import bars_source
from flchain.node.runner import NodeRunner
from flchain.protocol import RevealOutcome
from flchain.storage import LocalStore
from flchain.testing.cli import clean_env, run_flchain

pytestmark = pytest.mark.anvil

PASSWORD = "status-password"


def node_status(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(NO_COLOR="1", COLUMNS="200")  # status reads the chain only: no password
    return run_flchain(
        "node",
        "status",
        "--wallet",
        "node-1",
        "--data-dir",
        str(data_dir),
        *args,
        env=env,
        timeout=180,
    )


def status_json(data_dir: Path, *args: str) -> dict[str, Any]:
    result = node_status(data_dir, "--json", *args)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def played(
    tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path
) -> Iterator[tuple[Path, Ledger, str]]:
    """A one-node devnet where node-1 registered and played round 0 to the end."""
    data_dir = tmp_path_factory.mktemp("status") / "flchain"
    # the v1 node commands on a v1 devnet (v2's: tests/cli/test_v2_commands.py, tests/node/v2)
    options = UpOptions(data_dir=data_dir, nodes=1, protocol=1)
    devnet_up(options, environ={"FLCHAIN_PASSWORD": PASSWORD})
    try:
        profile = load_profile(data_dir / "devnet" / "profile.json")
        assert profile.rpc_url is not None and profile.store_dir is not None
        account = Keystore(profile.keystore_dir).unlock("node-1", PASSWORD)
        ledger = Ledger.connect(
            RpcBackend(profile.rpc_url, kind="anvil"), profile.contract, account
        )
        ledger.register(0)
        runner = NodeRunner(ledger, account, LocalStore(profile.store_dir), bars_source(None))
        assert any("committed" in a for a in runner.step().actions)
        ledger.backend.goto(ledger.schedule, 0, Phase.REVEAL)
        assert any("revealed round 0" in a for a in runner.step().actions)
        ledger.backend.goto(ledger.schedule, 0, Phase.CLOSED)
        runner.step()  # merges round 0 and attests; quorum 1 finalizes it
        yield data_dir, ledger, account.address
    finally:
        devnet_down(data_dir)


def test_status_after_a_round(played: tuple[Path, Ledger, str]) -> None:
    data_dir, ledger, address = played
    report = status_json(data_dir)
    assert report["node"] == address
    assert (report["current_round"], report["phase"], report["round"]) == (0, "CLOSED", 0)
    assert report["status"] == "ACTIVE"
    assert report["committed"] and report["revealed"] and report["attested"]
    assert report["finalized"]
    assert report["reveal_outcome"] == RevealOutcome.ACCEPTED
    # The claim shown is the one on chain, and the record counts the accepted reveal.
    (reveal,) = ledger.events("Revealed", 0)
    assert report["claim_bps"] == reveal.roi_bps
    assert report["accepted_reveals"] == 1 and report["penalties"] == 0
    assert report["roi_sum_bps"] == report["claim_bps"]


def test_plain_output_shows_the_same_facts(played: tuple[Path, Ledger, str]) -> None:
    data_dir, _, address = played
    result = node_status(data_dir, "--round", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in (
        f"node: {address}",
        "status: ACTIVE",
        "phase: CLOSED",
        "committed: True",
        "revealed: True",
        "attested: True",
        "finalized: True",
    ):
        assert expected in lines, result.stdout


def test_next_round_shows_its_phase_and_that_nothing_is_done_yet(
    played: tuple[Path, Ledger, str],
) -> None:
    data_dir, ledger, _ = played
    ledger.backend.goto(ledger.schedule, 1, Phase.COMMIT)
    now = status_json(data_dir)
    assert (now["current_round"], now["phase"], now["round"]) == (1, "COMMIT", 1)
    assert not any(now[k] for k in ("committed", "revealed", "attested", "finalized"))
    assert now["reveal_outcome"] is None and now["claim_bps"] is None
    assert now["accepted_reveals"] == 1  # the record carries over
    earlier = status_json(data_dir, "--round", "0")
    assert earlier["round"] == 0 and earlier["revealed"] and earlier["phase"] == "COMMIT"

"""The node commands on bad input, as a user meets it: the installed `flchain` in a subprocess
against a real devnet (anvil, started detached by `devnet_up`). Each case must end in one
`error:` line on stderr, no traceback, exit code 1, and nothing written."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_typing import HexStr
from eth_utils import to_checksum_address

from flchain.config import DevnetProfile, load_profile, save_profile
from flchain.devnet.manager import UpOptions, devnet_down, devnet_up
from flchain.ledger import Ledger, RpcBackend
from flchain.testing.cli import clean_env, run_flchain

pytestmark = pytest.mark.anvil

PASSWORD = "bad-input-password"

# Init code that deploys a contract whose runtime is PUSH1 0 PUSH1 0 RETURN: it answers every
# call with empty data, so it has code but is not an FLChain deployment.
NOT_FLCHAIN_INIT = HexStr("0x6005600c60003960056000f360006000f3")


def flchain(*args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(NO_COLOR="1", COLUMNS="200", FLCHAIN_PASSWORD=PASSWORD)
    return run_flchain(*args, env=env, timeout=180)


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single `error:` line on stderr (exit code 1, no traceback)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


class Devnet:
    def __init__(self, data_dir: Path, profile: DevnetProfile) -> None:
        self.data_dir = data_dir
        self.profile = profile
        self.profile_path = data_dir / "devnet" / "profile.json"
        assert profile.rpc_url is not None
        self.backend = RpcBackend(profile.rpc_url, kind="anvil")
        self.ledger = Ledger.connect(self.backend, profile.contract)

    def address(self, name: str) -> str:
        return next(w.address for w in self.profile.wallets if w.name == name)

    def variant(self, tmp: Path, **changes: Any) -> Path:
        """A copy of the profile (absolute paths) with `changes`, written where given."""
        path = tmp / "variant" / "profile.json"
        save_profile(self.profile.model_copy(update=changes), path)
        return path

    def state(self) -> tuple[bytes, list[str], int]:
        """What a failed command must leave alone: the profile, the store, the chain's events."""
        store = self.profile.store_dir
        assert store is not None
        files = sorted(str(p.relative_to(store)) for p in store.rglob("*"))
        return self.profile_path.read_bytes(), files, len(self.ledger.events())


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[Devnet]:
    data_dir = tmp_path_factory.mktemp("bad-input") / "flchain"
    # the v1 node commands on a v1 devnet (v2's bad input: tests/cli/test_v2_commands.py)
    options = UpOptions(data_dir=data_dir, nodes=2, protocol=1)
    devnet_up(options, environ={"FLCHAIN_PASSWORD": PASSWORD})
    try:
        net = Devnet(data_dir, load_profile(data_dir / "devnet" / "profile.json"))
        register = flchain("node", "register", "--wallet", "node-1", "--data-dir", str(data_dir))
        assert register.returncode == 0, register.stderr
        yield net
    finally:
        devnet_down(data_dir)


@pytest.mark.parametrize("command", ["status", "run"])
def test_missing_profile(devnet: Devnet, tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nowhere" / "profile.json"
    before = devnet.state()
    result = flchain("node", command, "--wallet", "node-1", "--profile", str(missing))
    line = error_line(result)
    assert f"devnet profile {missing} does not exist" in line
    assert "flchain devnet up" in line
    assert devnet.state() == before
    assert not missing.parent.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "cannot read"), ("not,a\nkline,file\n", "market.csv")],
)
def test_run_with_unreadable_market_data(
    devnet: Devnet, tmp_path: Path, content: str | None, expected: str
) -> None:
    market = tmp_path / "market.csv"
    if content is not None:
        market.write_text(content)
    before = devnet.state()
    env = clean_env(NO_COLOR="1", FLCHAIN_PASSWORD=PASSWORD, FLCHAIN_MARKET_DATA=str(market))
    result = run_flchain(
        "node", "run", "--wallet", "node-1", "--data-dir", str(devnet.data_dir), env=env,
        timeout=180,
    )  # fmt: skip
    line = error_line(result)
    assert expected in line and str(market) in line
    assert devnet.state() == before


def test_no_devnet_in_the_data_dir(tmp_path: Path) -> None:
    """No profile where one is looked for by default: the wallet cannot be found there."""
    result = flchain("node", "status", "--wallet", "node-1", "--data-dir", str(tmp_path))
    assert "no wallet named 'node-1'" in error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_profile_that_is_not_json(devnet: Devnet, tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(devnet.profile_path.read_text()[:120])
    result = flchain("node", "status", "--wallet", "node-1", "--profile", str(path))
    assert f"devnet profile {path} is not valid JSON (line" in error_line(result)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("contract", "0x1234", "field 'contract'"),
        ("chain_id", -5, "field 'chain_id'"),
        ("rpc_url", "127.0.0.1:8545", "field 'rpc_url'"),
        ("processes", [{"name": "anvil"}], "field 'processes.0.pid'"),
    ],
)
def test_malformed_profile_names_the_file_and_the_field(
    devnet: Devnet, tmp_path: Path, field: str, value: Any, expected: str
) -> None:
    data = json.loads(devnet.profile_path.read_text())
    data[field] = value
    # The damaged profile sits where every command looks for it by default.
    path = tmp_path / "devnet" / "profile.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    result = flchain("node", "status", "--wallet", "node-1", "--data-dir", str(tmp_path))
    line = error_line(result)
    assert str(path) in line and expected in line
    assert path.read_bytes() == before


def test_contract_address_without_code(devnet: Devnet, tmp_path: Path) -> None:
    no_code = devnet.address("node-2")
    path = devnet.variant(tmp_path, contract=no_code)
    for command in ("status", "register"):
        result = flchain("node", command, "--wallet", "node-2", "--profile", str(path))
        assert f"no contract code at {no_code} on chain 31337" in error_line(result)
    assert devnet.ledger.node_record(no_code).status.name == "NONE"


def test_contract_that_is_not_flchain(devnet: Devnet, tmp_path: Path) -> None:
    w3 = devnet.backend.w3
    funded = w3.eth.accounts[0]  # anvil's own unlocked dev account
    tx = w3.eth.send_transaction({"from": funded, "data": NOT_FLCHAIN_INIT})
    created = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    assert created is not None
    other = to_checksum_address(created)
    assert w3.eth.get_code(other)
    path = devnet.variant(tmp_path, contract=other)
    result = flchain("node", "status", "--wallet", "node-1", "--profile", str(path))
    assert f"the contract at {other} is not an FLChain deployment" in error_line(result)


def test_wrong_chain_id(devnet: Devnet, tmp_path: Path) -> None:
    path = devnet.variant(tmp_path, chain_id=5)
    result = flchain("node", "status", "--wallet", "node-1", "--profile", str(path))
    assert "wrong chain" in error_line(result) and "expected 5" in error_line(result)


@pytest.mark.parametrize("round_", ["999", "-1"])
def test_round_that_does_not_exist(devnet: Devnet, round_: str) -> None:
    result = flchain(
        "node",
        "status",
        "--wallet",
        "node-1",
        "--round",
        round_,
        "--data-dir",
        str(devnet.data_dir),
    )
    line = error_line(result)
    assert f"round {round_} does not exist yet (the current round is 0)" in line


def test_run_for_an_unregistered_wallet(devnet: Devnet) -> None:
    before = devnet.state()
    result = flchain("node", "run", "--wallet", "node-2", "--data-dir", str(devnet.data_dir))
    line = error_line(result)
    assert f"wallet {devnet.address('node-2')} is not an active node" in line
    assert "flchain node register" in line
    assert devnet.state() == before  # no commitment, no weights, profile untouched
    # The per-wallet lock was released: a second attempt is refused for the same reason, not
    # because a daemon seems to hold the wallet.
    again = flchain("node", "run", "--wallet", "node-2", "--data-dir", str(devnet.data_dir))
    assert "is not an active node" in error_line(again)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("exit", "is not a registered node of"),
        ("withdraw", "is not a registered node of"),
    ],
)
def test_exit_and_withdraw_for_an_unregistered_wallet(
    devnet: Devnet, command: str, expected: str
) -> None:
    before = devnet.state()
    result = flchain("node", command, "--wallet", "node-2", "--data-dir", str(devnet.data_dir))
    line = error_line(result)
    assert expected in line and devnet.address("node-2") in line
    assert f"nothing to {command}" in line
    assert "contract refused" not in line  # checked before sending, not the raw revert
    assert devnet.state() == before
    assert devnet.ledger.node_record(devnet.address("node-2")).status.name == "NONE"


def test_withdraw_while_still_active(devnet: Devnet) -> None:
    before = devnet.state()
    result = flchain("node", "withdraw", "--wallet", "node-1", "--data-dir", str(devnet.data_dir))
    line = error_line(result)
    assert f"wallet {devnet.address('node-1')} is still an active node" in line
    assert "flchain node exit" in line
    assert devnet.state() == before
    assert devnet.ledger.node_record(devnet.address("node-1")).status.name == "ACTIVE"

"""`flchain devnet up|status|down` as a user runs them: the installed CLI in a subprocess, a real
anvil (and hardhat node, js-ipfs daemon) started detached, the node commands on top."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from _devnet_cli import PASSWORD, error_line, flchain, port_open, profile_json
from eth_utils import to_checksum_address

from flchain.config import ProfileProcess, load_profile
from flchain.devnet.manager import (
    PENDING_FILE,
    UpOptions,
    devnet_down,
    devnet_status,
    devnet_up,
    is_running,
)
from flchain.ledger import Ledger, RpcBackend
from flchain.ledger.keystore import Keystore
from flchain.storage import IpfsClient
from flchain.testing.cli import FLCHAIN, clean_env

pytestmark = pytest.mark.anvil


def processes(data_dir: Path) -> list[ProfileProcess]:
    return list(load_profile(data_dir / "devnet" / "profile.json").processes)


def wait_for_new_block(rpc_url: str, after: int, limit_s: float = 15.0) -> int:
    """Poll until the chain has mined past block `after` with no transaction sent."""
    backend = RpcBackend(rpc_url, kind="anvil")
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        number = int(backend.w3.eth.block_number)
        if number > after:
            return number
        time.sleep(0.2)
    return after


def test_up_status_register_node_status_down(tmp_path: Path) -> None:
    data = tmp_path / "flchain"
    # v1 (`--protocol 1`): the node commands register and read the v1 contract.
    up = flchain("devnet", "up", "--nodes", "2", "--protocol", "1", "--data-dir", str(data))
    assert up.returncode == 0, up.stderr
    profile = load_profile(data / "devnet" / "profile.json")
    assert profile.chain == "anvil" and profile.store == "local" and profile.protocol == 1
    assert profile.rpc_url is not None and profile.rpc_url.startswith("http://127.0.0.1:")
    assert profile.contract in up.stdout
    assert [w.name for w in profile.wallets] == ["governor", "node-1", "node-2"]
    assert not (data / "devnet" / "password").exists()  # the password came from the environment
    # Wallets are encrypted keystores (0600) whose keys appear nowhere in what `up` wrote.
    keystore = Keystore(profile.keystore_dir)
    for wallet in profile.wallets:
        info = keystore.find(wallet.name)
        assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
        key = keystore.unlock(wallet.name, PASSWORD).key.hex()
        for text in (up.stdout, up.stderr, (data / "devnet" / "profile.json").read_text()):
            assert key.removeprefix("0x") not in text
    # Funded, deployed with the devnet rules, round 0 open.
    ledger = Ledger.connect(RpcBackend(profile.rpc_url, kind="anvil"), profile.contract)
    assert ledger.genesis().cid == profile.genesis_cid
    assert ledger.phase()[0] == 0 and ledger.phase()[1].name == "COMMIT"
    assert ledger.w3.eth.get_balance(to_checksum_address(profile.wallets[1].address)) > 0
    # The chain outlived `up` and mines while idle (the daemon reads "now" from the latest block).
    (chain,) = processes(data)
    assert is_running(chain)
    before = int(ledger.w3.eth.block_number)
    assert wait_for_new_block(profile.rpc_url, before) > before

    again = flchain("devnet", "up", "--data-dir", str(data))
    assert again.returncode == 1
    assert "already up" in error_line(again)
    assert load_profile(data / "devnet" / "profile.json") == profile  # untouched

    status = flchain("devnet", "status", "--data-dir", str(data))
    assert status.returncode == 0, status.stderr
    assert f"pid {chain.pid} port {chain.port}: running" in status.stdout
    assert "round     0, phase COMMIT" in status.stdout
    report = json.loads(flchain("devnet", "status", "--json", "--data-dir", str(data)).stdout)
    assert report["healthy"] is True and report["rpc_ok"] is True
    assert {w["name"]: w["node_status"] for w in report["wallets"]} == {
        "governor": "NONE",
        "node-1": "NONE",
        "node-2": "NONE",
    }

    register = flchain("node", "register", "--wallet", "node-1", "--data-dir", str(data))
    assert register.returncode == 0, register.stderr
    assert profile.wallets[1].address in register.stdout
    node = flchain("node", "status", "--wallet", "node-1", "--json", "--data-dir", str(data))
    assert node.returncode == 0, node.stderr
    record = json.loads(node.stdout)
    assert record["node"] == profile.wallets[1].address
    assert (record["status"], record["round"], record["phase"]) == ("ACTIVE", 0, "COMMIT")
    assert record["committed"] is False

    down = flchain("devnet", "down", "--data-dir", str(data))
    assert down.returncode == 0, down.stderr
    assert f"anvil    pid {chain.pid}: stopped" in down.stdout
    assert not is_running(chain)
    assert chain.port is not None and not port_open(chain.port)
    assert not (data / "devnet").exists()
    gone = flchain("devnet", "status", "--data-dir", str(data))
    assert gone.returncode == 1 and "no devnet is up" in error_line(gone)
    twice = flchain("devnet", "down", "--data-dir", str(data))
    assert twice.returncode == 1 and "nothing to stop" in error_line(twice)


def test_generated_password_and_a_stale_profile(tmp_path: Path) -> None:
    data = tmp_path / "flchain"
    up = flchain("devnet", "up", "--nodes", "1", "--data-dir", str(data), password=None)
    assert up.returncode == 0, up.stderr
    password_file = data / "devnet" / "password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    assert password not in up.stdout and password not in up.stderr
    assert str(password_file) in up.stdout
    profile = load_profile(data / "devnet" / "profile.json")
    assert Keystore(profile.keystore_dir).unlock("node-1", password).address == (
        profile.wallets[1].address
    )

    # The chain dies behind the profile's back.
    (chain,) = profile.processes
    os.kill(chain.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_running(chain) and time.monotonic() < deadline:
        time.sleep(0.05)
    status = flchain("devnet", "status", "--data-dir", str(data))
    assert status.returncode == 2
    assert "NOT RUNNING" in status.stdout and "NOT ANSWERING" in status.stdout
    assert "not running" in error_line(status)

    down = flchain("devnet", "down", "--data-dir", str(data))
    assert down.returncode == 0, down.stderr
    assert f"anvil    pid {chain.pid}: already gone" in down.stdout
    assert not (data / "devnet").exists()


def test_embedded_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    data = tmp_path / "flchain"
    result = flchain("devnet", "up", "--chain", "embedded", "--data-dir", str(data))
    assert result.returncode == 1
    assert "flchain simulate" in error_line(result)
    assert not (data / "devnet").exists()


def test_leftovers_of_an_interrupted_up_block_up_and_down_clears_them(tmp_path: Path) -> None:
    """A killed `up` leaves pending.json: `up` refuses, `down` stops the process it names and
    never signals a pid that now runs another program (here: this test's own process)."""
    data = tmp_path / "flchain"
    folder = data / "devnet"
    folder.mkdir(parents=True)
    orphan = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        orphan_cmd = ("sleep", "600")
        reused = ProfileProcess(name="ipfs", pid=os.getpid(), command=("node", "ipfs-daemon"))
        pending = [ProfileProcess(name="anvil", pid=orphan.pid, command=orphan_cmd), reused]
        (folder / PENDING_FILE).write_text(json.dumps([p.model_dump(mode="json") for p in pending]))

        blocked = flchain("devnet", "up", "--data-dir", str(data))
        assert blocked.returncode == 1 and "leftovers" in error_line(blocked)

        result = devnet_down(data)
        outcomes = {p.name: outcome for p, outcome in result.outcomes}
        assert outcomes == {"anvil": "stopped", "ipfs": "already gone"}
        assert orphan.wait(timeout=5) == -signal.SIGTERM
        assert not folder.exists()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def test_a_failing_up_stops_what_it_started_and_removes_the_folder(tmp_path: Path) -> None:
    """Fault injected on purpose: the progress hook raises once the chain runs."""
    data = tmp_path / "flchain"
    seen: list[ProfileProcess] = []

    def fail_at_deploy(line: str) -> None:
        if line.startswith("deploying"):
            pending = json.loads((data / "devnet" / PENDING_FILE).read_text())
            seen.extend(ProfileProcess.model_validate(p) for p in pending)
            raise RuntimeError("injected fault")

    options = UpOptions(data_dir=data, nodes=1)
    with pytest.raises(RuntimeError, match="injected fault"):
        devnet_up(options, environ={"FLCHAIN_PASSWORD": PASSWORD}, progress=fail_at_deploy)
    assert [p.name for p in seen] == ["anvil"]
    assert not is_running(seen[0])
    assert seen[0].port is not None and not port_open(seen[0].port)
    assert not (data / "devnet").exists()


def test_status_of_a_malformed_profile_names_the_file_and_field(tmp_path: Path) -> None:
    data = tmp_path / "flchain"
    devnet_up(UpOptions(data_dir=data, nodes=1), environ={"FLCHAIN_PASSWORD": PASSWORD})
    path = data / "devnet" / "profile.json"
    chain = processes(data)[0]
    try:
        broken = profile_json(data)
        broken["contract"] = "0x1234"
        path.write_text(json.dumps(broken))
        result = flchain("devnet", "status", "--data-dir", str(data))
        assert result.returncode == 1
        line = error_line(result)
        assert str(path) in line and "field 'contract'" in line
    finally:
        # `down` reads the processes leniently: the damaged contract field does not stop it.
        outcomes = devnet_down(data).outcomes
    assert [(p.pid, o) for p, o in outcomes] == [(chain.pid, "stopped")]
    assert not is_running(chain)


@pytest.mark.slow
@pytest.mark.ipfs
def test_ipfs_store_devnet(tmp_path: Path) -> None:
    from flchain.devnet.ipfsd import IpfsDaemonError, find_jsipfs_cli

    try:
        find_jsipfs_cli()
    except IpfsDaemonError as exc:
        pytest.skip(str(exc))
    data = tmp_path / "flchain"
    up = flchain("devnet", "up", "--store", "ipfs", "--nodes", "1", "--data-dir", str(data))
    assert up.returncode == 0, up.stderr
    profile = load_profile(data / "devnet" / "profile.json")
    try:
        assert profile.store == "ipfs" and profile.ipfs_url is not None
        assert [p.name for p in profile.processes] == ["anvil", "ipfs"]
        # The genesis model is in the daemon, pinned, byte for byte what the contract names.
        client = IpfsClient(profile.ipfs_url)
        assert client.has(str(profile.genesis_cid))
        status = devnet_status(data)
        assert status.healthy and status.ipfs_version
        assert all(p.running for p in status.processes)
    finally:
        down = flchain("devnet", "down", "--data-dir", str(data))
    assert down.returncode == 0, down.stderr
    for process in profile.processes:
        assert not is_running(process)
        assert process.port is not None and not port_open(process.port)


@pytest.mark.slow
@pytest.mark.hardhat
def test_hardhat_devnet(tmp_path: Path) -> None:
    from flchain.devnet.anvil import DevChainError
    from flchain.devnet.hardhat import find_hardhat

    try:
        find_hardhat()
    except DevChainError as exc:
        pytest.skip(str(exc))
    data = tmp_path / "flchain"
    result = devnet_up(
        UpOptions(chain="hardhat", data_dir=data, nodes=1), environ={"FLCHAIN_PASSWORD": PASSWORD}
    )
    try:
        assert result.profile.chain == "hardhat"
        status = devnet_status(data)
        assert status.healthy and status.phase == "COMMIT"
        assert status.rpc_url is not None and status.block_number is not None
        # Interval mining: blocks keep coming with no transaction.
        assert wait_for_new_block(status.rpc_url, status.block_number) > status.block_number
    finally:
        devnet_down(data)
    assert not is_running(result.profile.processes[0])


@pytest.mark.slow
def test_node_daemon_plays_a_round_on_chain_time_alone(tmp_path: Path) -> None:
    """No time travel: with a 60 s round (commit 30 s, reveal 15 s, so a loaded machine still
    trains in time), blocks mined while idle carry chain time through the commit, reveal and
    closed phases, and `flchain node run` commits, reveals and attests."""
    data = tmp_path / "flchain"
    up = flchain(
        "devnet", "up", "--nodes", "1", "--round-length", "60", "--protocol", "1",
        "--data-dir", str(data),
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    try:
        assert (
            flchain("node", "register", "--wallet", "node-1", "--data-dir", str(data)).returncode
            == 0
        )
        env = clean_env(FLCHAIN_PASSWORD=PASSWORD)
        log = (tmp_path / "node.log").open("w")
        daemon = subprocess.Popen(
            [
                FLCHAIN,
                "node",
                "run",
                "--wallet",
                "node-1",
                "--poll",
                "0.5",
                "--data-dir",
                str(data),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 240
            record: dict[str, object] = {}
            while time.monotonic() < deadline and daemon.poll() is None:
                status = flchain(
                    "node",
                    "status",
                    "--wallet",
                    "node-1",
                    "--round",
                    "0",
                    "--json",
                    "--data-dir",
                    str(data),
                )
                if status.returncode == 0:
                    record = json.loads(status.stdout)
                    if record["attested"]:
                        break
                time.sleep(2)
        finally:
            daemon.send_signal(signal.SIGINT)
            code = daemon.wait(timeout=60)
            log.close()
        text = (tmp_path / "node.log").read_text()
        assert record.get("attested") is True, text
        assert record["committed"] and record["revealed"] and record["finalized"], (record, text)
        assert "stopping (SIGINT)" in text
        assert code == 0, text
    finally:
        assert flchain("devnet", "down", "--data-dir", str(data)).returncode == 0

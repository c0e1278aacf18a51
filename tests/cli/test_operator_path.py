"""The whole operator path of docs/deploy.md and docs/remote-node.md on a plain anvil (no
`devnet up`), command by command, as separate "machines" (folders with their own flchain.toml,
keystore and data) sharing only the chain's RPC URL and an IPFS node:

wallets, funding, genesis, deploy from a rules file, register, three daemons, a rule change,
an audit, exit and withdraw.

With OPERATOR_TRANSCRIPT=FILE the commands and their real output are written to FILE (that is
where the walkthroughs' output comes from), so the docs cannot drift from what runs.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flchain.devnet.anvil import AnvilProcess, DevChainError
from flchain.devnet.ipfsd import IpfsDaemon, IpfsDaemonError
from flchain.devnet.process import free_port
from flchain.ledger import Ledger, RpcBackend

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs, pytest.mark.slow]

FLCHAIN = str(Path(sys.executable).with_name("flchain"))
PASSWORD = "operator-path-password"
ROUND, COMMIT, REVEAL = 40, 20, 10


class Shell:
    """Runs `flchain …` command lines in a machine's folder and records a transcript."""

    def __init__(self, transcript: Path | None) -> None:
        self.transcript = transcript
        self.lines: list[str] = []

    def note(self, text: str) -> None:
        self.lines.append(f"# {text}")

    def run(self, machine: Path, line: str, *, ok: bool = True) -> subprocess.CompletedProcess[str]:
        args = shlex.split(line)
        assert args[0] == "flchain"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLCHAIN_")}
        env.update(NO_COLOR="1", COLUMNS="120", FLCHAIN_PASSWORD=PASSWORD)
        result = subprocess.run(
            [FLCHAIN, *args[1:]], cwd=machine, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        self.lines.append(f"{machine.name}$ {line}")
        self.lines += [x for x in (result.stdout + result.stderr).rstrip("\n").splitlines()]
        if ok:
            assert result.returncode == 0, (line, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def save(self) -> None:
        if self.transcript is not None:
            self.transcript.write_text("\n".join(self.lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[AnvilProcess, IpfsDaemon]]:
    try:
        chain = AnvilProcess(block_time=1).start()  # mines every second: chain time = wall time
    except DevChainError as exc:
        pytest.skip(str(exc))
    try:
        ipfs = IpfsDaemon()
        ipfs.start()
    except IpfsDaemonError as exc:
        chain.stop()
        pytest.skip(str(exc))
    try:
        yield chain, ipfs
    finally:
        ipfs.stop()
        chain.stop()


def _machine(root: Path, name: str, rpc: str, ipfs: str, wallet: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "flchain.toml").write_text(
        f'rpc_url = "{rpc}"\nchain_id = 31337\nstore = "ipfs"\nipfs_url = "{ipfs}"\n'
        f'data_dir = "data"\nwallet = "{wallet}"\n'
    )
    return folder


def _wait(ledger: Ledger, what: str, done: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():  # type: ignore[operator]
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_operator_path(services: tuple[AnvilProcess, IpfsDaemon], tmp_path: Path) -> None:
    chain, ipfs = services
    transcript = os.environ.get("OPERATOR_TRANSCRIPT")
    sh = Shell(Path(transcript) if transcript else None)
    gov = _machine(tmp_path, "operator", chain.url, ipfs.url, "gov")
    nodes = [_machine(tmp_path, f"node-{i}", chain.url, ipfs.url, f"node-{i}") for i in (1, 2, 3)]
    daemons: list[subprocess.Popen[bytes]] = []
    try:
        sh.note("wallets: one per machine; the password comes from $FLCHAIN_PASSWORD")
        sh.run(gov, "flchain wallet create gov")
        for i, machine in enumerate(nodes, 1):
            sh.run(machine, f"flchain wallet create node-{i}")
        sh.note('the genesis model, into the operator\'s IPFS node (store = "ipfs")')
        made = sh.run(gov, "flchain chain genesis")
        sh.note("funding: a devnet sets balances; on a testnet send ether from a faucet")
        sh.run(gov, "flchain wallet balance")
        sh.run(gov, "flchain wallet fund gov --amount 10")
        for i, machine in enumerate(nodes, 1):
            sh.run(machine, f"flchain wallet fund node-{i} --amount 1")

        genesis = dict(line.split(" = ", 1) for line in made.stdout.splitlines() if " = " in line)
        federation = gov / "federation.toml"
        federation.write_text(
            "[deployment]\n"
            f"round_length = {ROUND}\ncommit_window = {COMMIT}\nreveal_window = {REVEAL}\n"
            "min_bond = 1000000000000000\nexit_delay = 5\n"
            f"genesis_digest = {genesis['genesis_digest']}\n"
            f"genesis_cid = {genesis['genesis_cid']}\n\n"
            "[rules]\nquorum = 2\nroi_min_bps = -5000\nroi_max_bps = 20000\n"
            'aggregation = "trimmed_mean"\ntrim_ppm = 100000\nprobation_rounds = 2\n'
        )
        sh.note(f"federation.toml:\n{federation.read_text()}")
        backend = RpcBackend(chain.url)
        # Round 0 must not open before the three registrations, the rule change and the
        # daemons' start (keystore unlock, imports) are done: under a load of ~10 on two cores
        # a 25 s lead missed round 0's commit window in 3 of 4 runs, on main as here.
        t0 = backend.latest_timestamp() + 75
        deployed = sh.run(gov, f"flchain chain deploy --rules federation.toml --t0 {t0}")
        contract = deployed.stdout.split()[1]
        block = int(deployed.stdout.split("block ")[1].split(")")[0])
        for machine in [gov, *nodes]:
            with (machine / "flchain.toml").open("a") as fh:
                fh.write(f'contract = "{contract}"\ndeployment_block = {block}\n')
        ledger = Ledger.connect(backend, contract)

        for machine in nodes:
            sh.run(machine, "flchain node register --bond 1000000000000000")
        sh.run(gov, "flchain chain nodes")

        sh.note("a rule change for round 2, scheduled before round 0 opens")
        change = gov / "change.toml"
        change.write_text("[rules]\nquorum = 3\nroi_tolerance_bps = 2\n")
        sh.run(gov, "flchain chain rules schedule --rules change.toml --round 2")
        sh.run(gov, "flchain chain rules list")

        metrics_port = free_port()
        for i, machine in enumerate(nodes, 1):
            extra = f" --metrics-port {metrics_port}" if i == 1 else ""
            line = f"flchain node run --poll 0.5 --log-format json{extra}"
            sh.lines.append(f"{machine.name}$ {line} 2> node.log &")
            env = {k: v for k, v in os.environ.items() if not k.startswith("FLCHAIN_")}
            env["FLCHAIN_PASSWORD"] = PASSWORD
            with (machine / "node.log").open("wb") as log:
                daemons.append(
                    subprocess.Popen(
                        [FLCHAIN, *shlex.split(line)[1:]],
                        cwd=machine,
                        env=env,
                        stdout=log,
                        stderr=log,
                        start_new_session=True,
                    )
                )
        _wait(ledger, "round 2 to be finalized", lambda: ledger.finalized(2) is not None,
              timeout=t0 - time.time() + 3 * ROUND + 90)  # fmt: skip
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert "flchain_node_rounds_committed_total 3.0" in metrics
        sh.lines.append(f"node-1$ curl -s http://127.0.0.1:{metrics_port}/metrics | grep _total")
        sh.lines += [x for x in metrics.splitlines() if "_total" in x and not x.startswith("#")]
        sh.lines.append("node-1$ head -3 node.log")
        sh.lines += (nodes[0] / "node.log").read_text().splitlines()[:3]
        for proc in daemons:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in daemons:
            assert proc.wait(timeout=60) == 0

        sh.run(gov, "flchain chain attestations --round 2")
        shown = len(sh.lines)
        info = json.loads(sh.run(gov, "flchain chain info --json --round 2").stdout)
        assert info["round"]["rules"]["quorum"] == 3
        assert info["round"]["finalized"] is not None
        assert [v["effective_round"] for v in info["rule_versions"]] == [0, 2]
        sh.lines[shown + 1 :] = ["(JSON: schedule, rules by name, nodes, attestations)"]
        audited = sh.run(gov, "flchain audit --rounds 0..2")
        assert "VERIFIED" in audited.stdout or "verified" in audited.stdout

        sh.note("node-3 leaves: exit, wait the exit delay, withdraw the bond")
        sh.run(nodes[2], "flchain node exit")
        time.sleep(7)
        sh.run(nodes[2], "flchain node withdraw")
        again = sh.run(nodes[2], "flchain node register", ok=False)
        assert "can never register again" in again.stderr
        sh.run(gov, "flchain chain nodes")
        for line in (nodes[0] / "node.log").read_text().splitlines():
            json.loads(line)  # every log line is one JSON object
    finally:
        for proc in daemons:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        sh.save()

"""The operator commands on a plain anvil (no `devnet up`): bad input and unfunded wallets get
one `error:` line and send nothing; deploy from a rules file; governance; info --json.

Failed before the fix: an unfunded wallet got a `Web3RPCError … Insufficient funds` traceback
on `chain deploy` and `node register`; a malformed `--genesis-digest` a traceback after the
keystore unlock; `chain info --round -1` half its output and an empty error; a withdrawn wallet
`AlreadyRegistered` with no word that it can never rejoin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

from flchain.devnet.anvil import AnvilProcess, DevChainError
from flchain.devnet.federation import genesis_model
from flchain.ledger import DeployConfig, Ledger, RpcBackend
from flchain.ledger.keystore import KdfParams, Keystore

from .conftest import Run, error_line

pytestmark = pytest.mark.anvil

PASSWORD = "operator-test-password"


@dataclass
class Chain:
    url: str
    backend: RpcBackend
    data_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "FLCHAIN_RPC_URL": self.url,
            "FLCHAIN_DATA_DIR": str(self.data_dir),
            "FLCHAIN_PASSWORD": PASSWORD,
            "FLCHAIN_CHAIN": "anvil",
            **extra,
        }

    def wallet(self, name: str, fund: bool = False) -> str:
        address = Keystore(self.data_dir / "keystores", kdf=KdfParams.fast()).create(name, PASSWORD)
        if fund:
            self.backend.fund(address, 10**20)
        return address

    def deploy(self) -> str:
        """A fresh contract (deployed from Python, as any operator's tool could)."""
        gov = Account.create()
        self.backend.fund(gov.address, 10**20)
        g = genesis_model()
        now = self.backend.latest_timestamp()
        cfg = DeployConfig(t0=now + 60, round_length=600, commit_window=300, reveal_window=200,
                           exit_delay=30, genesis_digest=g.digest, genesis_cid=g.cid)  # fmt: skip
        return Ledger.deploy(self.backend, gov, cfg).address


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilProcess]:
    try:
        proc = AnvilProcess().start()
    except DevChainError as exc:
        if "not found" in str(exc):
            pytest.skip(str(exc))
        raise
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def chain(anvil: AnvilProcess, tmp_path: Path) -> Chain:
    return Chain(anvil.url, RpcBackend(anvil.url, kind="rpc"), tmp_path / "data")


def federation_file(path: Path, **rules: object) -> Path:
    g = genesis_model()
    body = [
        "[deployment]",
        "round_length = 600",
        "commit_window = 300",
        "reveal_window = 200",
        "exit_delay = 30",
        f'genesis_digest = "{g.digest}"',
        f'genesis_cid = "{g.cid}"',
        "[rules]",
        *(f"{k} = {json.dumps(v)}" for k, v in rules.items()),
    ]
    path.write_text("\n".join(body) + "\n")
    return path


def test_unfunded_deploy_is_one_line_and_sends_nothing(
    flchain: Run, chain: Chain, tmp_path: Path
) -> None:
    address = chain.wallet("gov")
    g = genesis_model()
    line = error_line(
        flchain("chain", "deploy", "--genesis-digest", g.digest, "--genesis-cid", g.cid,
                "--wallet", "gov", env=chain.env())
    )  # fmt: skip
    assert f"wallet {address} has 0 ETH on chain 31337" in line
    assert "needs up to" in line and "gas ×" in line
    assert "flchain wallet fund gov" in line and "nothing was sent" in line
    assert chain.backend.w3.eth.get_transaction_count(address) == 0


def test_unfunded_register_is_one_line(flchain: Run, chain: Chain, tmp_path: Path) -> None:
    contract = chain.deploy()
    node = chain.wallet("node-1")
    env = chain.env(FLCHAIN_CONTRACT=contract)
    line = error_line(flchain("node", "register", "--wallet", "node-1", "--bond", "5", env=env))
    assert f"wallet {node} has 0 ETH" in line and "less than the 0.000000000000000005 ETH" in line
    line = error_line(flchain("node", "register", "--wallet", "node-1", env=env))
    assert f"wallet {node} has 0 ETH" in line and "flchain wallet fund node-1" in line
    assert chain.backend.w3.eth.get_transaction_count(node) == 0


def test_malformed_genesis_digest_is_refused_before_unlock_and_network(
    flchain: Run, chain: Chain
) -> None:
    chain.wallet("gov")
    env = chain.env(FLCHAIN_RPC_URL="http://127.0.0.1:9")  # nothing listens there
    del env["FLCHAIN_PASSWORD"]  # an unlock would fail on the missing password first
    g = genesis_model()
    line = error_line(
        flchain("chain", "deploy", "--wallet", "gov", "--genesis-digest", "0x1234",
                "--genesis-cid", g.cid, env=env)
    )  # fmt: skip
    assert "--genesis-digest = '0x1234' is not a sha256 digest" in line


def test_rules_file_reports_every_bad_field(flchain: Run, chain: Chain, tmp_path: Path) -> None:
    chain.wallet("gov")
    rules = federation_file(
        tmp_path / "bad.toml", quorum=0, trim_ppm=500_000, aggregation="average", quorom=2
    )
    result = flchain("chain", "deploy", "--rules", str(rules), "--wallet", "gov", env=chain.env())
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 4, result.stderr
    joined = "\n".join(errors)
    assert "[rules] quorum = 0 is out of range (allowed 1 to 65535)" in joined
    assert "[rules] trim_ppm = 500000 is out of range (allowed 0 to 499999)" in joined
    assert "[rules] aggregation = 'average' is not one of mean_equal (0)" in joined
    assert "[rules] unknown field 'quorom'" in joined
    assert all(str(rules) in e for e in errors)


def test_t0_in_the_past_is_refused(flchain: Run, chain: Chain, tmp_path: Path) -> None:
    address = chain.wallet("gov")
    flchain("wallet", "fund", "gov", env=chain.env())
    rules = federation_file(tmp_path / "fed.toml")
    result = flchain(
        "chain", "deploy", "--rules", str(rules), "--wallet", "gov", "--t0", "2020-01-01T00:00:00Z",
        env=chain.env(),
    )  # fmt: skip
    line = error_line(result)
    assert "t0 = 1577836800 (2020-01-01T00:00:00Z) is in the past" in line
    assert chain.backend.w3.eth.get_transaction_count(address) == 0


def test_info_round_minus_one_prints_nothing_but_the_error(flchain: Run, chain: Chain) -> None:
    result = flchain(
        "chain", "info", "--round", "-1", "--contract", "0x" + "11" * 20, env=chain.env()
    )
    line = error_line(result, code=2)
    assert "--round" in line and "greater than or equal to 0" in line
    assert result.stdout == ""


def test_deploy_govern_and_info_json(flchain: Run, chain: Chain, tmp_path: Path) -> None:
    gov = chain.wallet("gov")
    node = chain.wallet("node-1")
    assert flchain("wallet", "fund", "gov", "node-1", env=chain.env()).returncode == 0
    rules = federation_file(tmp_path / "fed.toml", quorum=1, aggregation="median")
    deployed = flchain("chain", "deploy", "--rules", str(rules), "--wallet", "gov", env=chain.env())
    assert deployed.returncode == 0, deployed.stderr
    # a file that names no protocol still deploys v1, and the operator is told what that means
    assert "warning: deploying protocol v1 (FLChain), which holds only while" in deployed.stderr
    contract = deployed.stdout.split()[1]
    env = chain.env(FLCHAIN_CONTRACT=contract)
    assert flchain("node", "register", "--wallet", "node-1", env=env).returncode == 0

    change = tmp_path / "change.toml"
    change.write_text("[rules]\nquorum = 2\n")
    not_gov = error_line(
        flchain("chain", "rules", "schedule", "--rules", str(change), "--round", "3",
                "--wallet", "node-1", env=env)
    )  # fmt: skip
    assert f"is not the governor of {contract}: the governor is {gov}" in not_gov
    scheduled = flchain(
        "chain", "rules", "schedule", "--rules", str(change), "--round", "3", "--wallet", "gov",
        env=env,
    )  # fmt: skip
    assert scheduled.returncode == 0, scheduled.stderr
    assert "scheduled rules v1 from round 3" in scheduled.stdout

    doc = json.loads(flchain("chain", "info", "--json", "--round", "3", env=env).stdout)
    assert doc["governor"] == gov
    assert [v["effective_round"] for v in doc["rule_versions"]] == [0, 3]
    assert doc["rule_versions"][0]["rules"]["aggregation"] == "median"
    assert doc["round"]["rules"]["quorum"] == 2  # round 3 runs under v1
    assert doc["round"]["rules"]["aggregation"] == "median"  # kept from v0
    assert doc["schedule"]["t0"]["utc"].endswith("Z")
    assert doc["schedule"]["round_length_s"] == 600
    assert [(n["node"], n["status"]) for n in doc["nodes"]] == [(node, "ACTIVE")]
    assert doc["round"]["attestations"] == []

    listed = flchain("chain", "rules", "list", env=env).stdout
    assert "v1  from round 3  (pending)" in listed and "(was 1)" in listed

    handed = flchain("chain", "transfer-governance", node, "--wallet", "gov", env=env)
    assert handed.returncode == 0, handed.stderr
    assert Ledger.connect(chain.backend, contract).governor() == node


def test_withdrawn_wallet_is_told_it_can_never_rejoin(
    flchain: Run, chain: Chain, tmp_path: Path
) -> None:
    node = chain.wallet("node-1", fund=True)
    contract = chain.deploy()
    env = chain.env(FLCHAIN_CONTRACT=contract)
    for command in ("register", "exit"):
        assert flchain("node", command, "--wallet", "node-1", env=env).returncode == 0
    early = error_line(flchain("node", "withdraw", "--wallet", "node-1", env=env))
    assert "can withdraw from chain time" in early
    chain.backend.advance_time(60)
    assert flchain("node", "withdraw", "--wallet", "node-1", env=env).returncode == 0
    line = error_line(flchain("node", "register", "--wallet", "node-1", env=env))
    assert f"wallet {node} left {contract}" in line
    assert "can never register again" in line and "flchain wallet create" in line
    assert "AlreadyRegistered" not in line

"""Chain access errors, the hashes, the artifact and hardhat node."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_account import Account

from flchain.devnet.anvil import AnvilProcess, DevChainError, free_port
from flchain.devnet.hardhat import HardhatProcess, find_hardhat
from flchain.errors import ConfigError, UnavailableError
from flchain.hashing import sha256_hex
from flchain.ledger import (
    ChainConfigError,
    ChainUnavailable,
    ContractRevert,
    DeployConfig,
    EmbeddedBackend,
    Ledger,
    Phase,
    RpcBackend,
    commitment_hash,
    result_hash,
)
from flchain.ledger.compile import ARTIFACT_DIR, artifact_text, compile_artifact
from flchain.protocol import RevealOutcome, Rules
from flchain.storage.cid import cid_for_bytes

REPO = Path(__file__).resolve().parents[2]


def test_unreachable_rpc_is_one_clear_line() -> None:
    with pytest.raises(ChainUnavailable, match=r"cannot reach") as info:
        RpcBackend(f"http://127.0.0.1:{free_port()}", timeout=2)
    assert isinstance(info.value, UnavailableError) and "\n" not in str(info.value)


@pytest.mark.anvil
def test_wrong_chain_id_and_missing_contract_are_config_errors() -> None:
    with AnvilProcess() as node:
        with pytest.raises(ChainConfigError, match=r"wrong chain: .* chain id 31337, expected 5"):
            RpcBackend(node.url, kind="anvil", expected_chain_id=5)
        backend = RpcBackend(node.url, kind="anvil", expected_chain_id=31337)
        with pytest.raises(ConfigError, match=r"no contract code at"):
            Ledger.connect(backend, "0x" + "12" * 20)


def test_contract_without_flchain_interface_is_refused() -> None:
    backend = EmbeddedBackend()
    acct = Account.create()
    backend.fund(acct.address, 10**18)
    # a contract whose code is a single STOP: code exists, but it is not FLChain
    tx = {
        "from": acct.address,
        "data": "0x600160005360016000f3",
        "nonce": 0,
        "gas": 100_000,
        "chainId": backend.chain_id,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
    }
    receipt = backend.w3.eth.wait_for_transaction_receipt(
        backend.w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    )
    with pytest.raises(ChainConfigError, match=r"not an FLChain deployment"):
        Ledger.connect(backend, str(receipt["contractAddress"]))


def test_read_only_ledger_refuses_to_send() -> None:
    backend = EmbeddedBackend()
    gov = Account.create()
    backend.fund(gov.address, 10**21)
    cfg = DeployConfig(
        t0=backend.latest_timestamp() + 10,
        genesis_digest=sha256_hex(b"g"),
        genesis_cid=cid_for_bytes(b"g"),
    )
    ledger = Ledger.connect(backend, Ledger.deploy(backend, gov, cfg).address)
    with pytest.raises(ChainConfigError, match=r"no wallet"):
        ledger.register()


def test_result_hash_is_canonical_in_penalised_order() -> None:
    p1, p2 = "0x" + "ab" * 20, "0x" + "0c" * 20
    args = (3, sha256_hex(b"m"), cid_for_bytes(b"m"), cid_for_bytes(b"f"))
    assert result_hash(*args, [p1, p2]) == result_hash(*args, [p2, p1, p2])
    assert result_hash(*args, [p1]) != result_hash(*args, [p2])
    assert result_hash(*args) != result_hash(4, *args[1:])


def test_commitment_binds_every_field() -> None:
    base = dict(
        chain_id=1,
        contract="0x" + "11" * 20,
        round=0,
        node="0x" + "22" * 20,
        update_digest=sha256_hex(b"u"),
        cid=cid_for_bytes(b"u"),
        base_digest=sha256_hex(b"b"),
        roi_bps=-5,
        salt="0x" + "33" * 32,
    )
    ref = commitment_hash(**base)  # type: ignore[arg-type]
    changes = dict(
        chain_id=2,
        contract="0x" + "12" * 20,
        round=1,
        node="0x" + "23" * 20,
        update_digest=sha256_hex(b"v"),
        cid=cid_for_bytes(b"v"),
        base_digest=sha256_hex(b"c"),
        roi_bps=5,
        salt="0x" + "34" * 32,
    )
    for key, value in changes.items():
        assert commitment_hash(**{**base, key: value}) != ref, key  # type: ignore[arg-type]


@pytest.mark.slow
def test_committed_artifact_is_reproduced_byte_for_byte() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    artifact, _ = compile_artifact()
    committed = (ARTIFACT_DIR / "FLChain.json").read_text()
    assert artifact_text(artifact) == committed, "run `python -m flchain.ledger.compile` and commit"
    source = (REPO / "contracts" / "FLChain.sol").read_bytes()
    import hashlib

    assert json.loads(committed)["sourceSha256"] == hashlib.sha256(source).hexdigest()


@pytest.mark.hardhat
@pytest.mark.slow
def test_hardhat_node_smoke() -> None:
    try:
        find_hardhat()
    except DevChainError as exc:
        pytest.skip(f"hardhat missing from node_modules: {exc}")
    with HardhatProcess() as node:
        backend = RpcBackend(node.url, kind="hardhat", expected_chain_id=31337)
        gov, member = Account.create(), Account.create()
        backend.fund(gov.address, 10**21)
        backend.fund(member.address, 10**20)
        cfg = DeployConfig(
            t0=backend.latest_timestamp() + 20,
            round_length=1000,
            commit_window=400,
            reveal_window=300,
            genesis_digest=sha256_hex(b"g"),
            genesis_cid=cid_for_bytes(b"g"),
            rules=Rules(),
        )
        ledger = Ledger.deploy(backend, gov, cfg)
        node_ledger = ledger.with_account(member)
        node_ledger.register()
        backend.goto(ledger.schedule, 0, Phase.COMMIT, 5)
        digest, cid, salt = sha256_hex(b"u"), cid_for_bytes(b"u"), "0x" + "44" * 32
        c = commitment_hash(
            31337, ledger.address, 0, member.address, digest, cid, sha256_hex(b"g"), 10, salt
        )
        node_ledger.commit(0, c)
        with pytest.raises(ContractRevert, match=r"AlreadyCommitted"):
            node_ledger.commit(0, c)
        backend.goto(ledger.schedule, 0, Phase.REVEAL, 5)
        assert (
            node_ledger.reveal(0, digest, cid, sha256_hex(b"g"), 10, salt)[1]
            == RevealOutcome.ACCEPTED
        )
        backend.goto(ledger.schedule, 0, Phase.CLOSED, 5)
        assert node_ledger.attest(
            0, sha256_hex(b"m"), cid_for_bytes(b"m"), cid_for_bytes(b"f")
        ).finalized
        assert ledger.round_record(0).finalized == ledger.finalized(0)


def test_hardhat_config_compiles_offline_to_the_committed_bytecode() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    try:
        cli = find_hardhat()
    except DevChainError as exc:
        pytest.skip(f"hardhat missing from node_modules: {exc}")
    env = {
        "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
        "DO_NOT_TRACK": "1",
        "CI": "true",
        "PATH": str(Path(shutil.which("node") or "node").parent),
    }
    proc = subprocess.run(
        ["node", str(cli), "compile", "--quiet"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    built = json.loads(
        (REPO / "artifacts" / "contracts" / "FLChain.sol" / "FLChain.json").read_text()
    )
    committed = json.loads((ARTIFACT_DIR / "FLChain.json").read_text())
    assert built["bytecode"] == committed["bytecode"]

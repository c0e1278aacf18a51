"""The committed FLChainV2 artifact: reproducible, the interface's ABI exactly, deployable, and
its storage layout what the audit proves against.

`flchain/contracts/FLChainV2.json` must be what `python -m flchain.ledger.compile` builds (the npm
solc), what py-solc-x builds from the same input (checked inside `compile_artifact`) and what
hardhat builds with `hardhat.config.js`; its ABI must be `IFLChainV2`'s, entry for entry (plus
the constructor), every error and event documented; its runtime code must fit EIP-170; and a
round's accumulator must sit in the storage word the documentation names.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak

from flchain.devnet.anvil import DevChainError
from flchain.devnet.hardhat import find_hardhat
from flchain.ledger.compile import ARTIFACT_DIR, CONTRACT_V2, artifact_text, compile_artifact

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "protocol" / "vectors"))

from evm_probe import compile_solidity
from test_abi import abi_lines
from test_v2_differential import deployment
from v2_harness import ETHER, Differential, EmbeddedChain, Federation, new_wallets

from flchain.protocol import machine as m

REPO = Path(__file__).resolve().parents[2]
EIP170_LIMIT = 24_576


def committed() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ARTIFACT_DIR / f"{CONTRACT_V2}.json").read_text())
    return loaded


@pytest.mark.slow
def test_v2_artifact_is_reproduced_byte_for_byte() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    artifact, note = compile_artifact(CONTRACT_V2)  # raises if py-solc-x builds other bytes
    text = (ARTIFACT_DIR / f"{CONTRACT_V2}.json").read_text()
    assert artifact_text(artifact) == text, "run `python -m flchain.ledger.compile` and commit"
    assert "identical bytecode" in note or "skipped" in note
    source = (REPO / "contracts" / "FLChainV2.sol").read_bytes()
    assert committed()["sourceSha256"] == hashlib.sha256(source).hexdigest()


@pytest.mark.slow
def test_hardhat_builds_the_committed_v2_bytecode() -> None:
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
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    built = json.loads(
        (REPO / "artifacts" / "contracts" / "FLChainV2.sol" / "FLChainV2.json").read_text()
    )
    assert built["bytecode"] == committed()["bytecode"]
    assert built["deployedBytecode"] == committed()["deployedBytecode"]


def test_v2_abi_is_the_interfaces() -> None:
    interface = compile_solidity(REPO / "contracts" / "interfaces" / "IFLChainV2.sol", "IFLChainV2")
    contract_abi = [e for e in committed()["abi"] if e["type"] != "constructor"]
    assert abi_lines(contract_abi) == abi_lines(interface["abi"])
    (constructor,) = [e for e in committed()["abi"] if e["type"] == "constructor"]
    assert [p["name"] for p in constructor["inputs"]] == ["d", "rules"]
    assert constructor["stateMutability"] == "nonpayable"


@pytest.mark.parametrize("part", ["FLChainV2", "FLChainV2Forward"])
def test_every_v2_error_and_event_is_documented(part: str) -> None:
    """The ledger's and its forward box's (docs/protocol.md §15): together the machine's tables,
    and the box's refusal of callers other than the ledger (`NotTheLedger`), which the machine
    does not model."""
    art = committed()
    box = art["satellites"]["FLChainV2Forward"]
    both = [e for e in art["abi"] + box["abi"] if e["type"] in ("error", "event")]
    assert len(both) == len(m.ERRORS) + len(m.EVENTS) + 1
    if part != "FLChainV2":
        art = box
    user, dev = art["userdoc"], art["devdoc"]
    entries = [e for e in art["abi"] if e["type"] in ("error", "event")]
    for entry in entries:
        section = entry["type"] + "s"
        signature = f"{entry['name']}({','.join(_canonical(p) for p in entry['inputs'])})"
        doc = user.get(section, {}).get(signature, {})
        doc = doc[0] if isinstance(doc, list) else doc
        assert doc.get("notice"), signature
        params = dev.get(section, {}).get(signature, {})
        params = (params[0] if isinstance(params, list) else params).get("params", {})
        assert set(params) == {p["name"] for p in entry["inputs"]}, signature


def _canonical(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return f"({','.join(_canonical(c) for c in param['components'])}){kind[5:]}"
    return kind


def test_v2_runtime_fits_eip170() -> None:
    runtime = bytes.fromhex(committed()["deployedBytecode"][2:])
    assert 0 < len(runtime) <= EIP170_LIMIT
    for name, satellite in committed()["satellites"].items():
        assert 0 < len(bytes.fromhex(satellite["deployedBytecode"][2:])) <= EIP170_LIMIT, name


def _slot_of(layout: dict[str, Any], label: str) -> int:
    (entry,) = [e for e in layout["storage"] if e["label"] == label]
    return int(entry["slot"])


def test_accumulator_sits_where_the_audit_reads_it() -> None:
    """§12: the accumulator of round r is the first word of `_rounds[r]`, laid out as
    bytes20 ‖ uint32 reveals ‖ uint32 attestations ‖ uint32 others — read with
    eth_getStorageAt here as the audit reads it with eth_getProof."""
    layout = committed()["storageLayout"]
    rounds_slot = _slot_of(layout, "_rounds")
    chain = EmbeddedChain()
    gov, node = new_wallets(chain, 2)
    d, _ = Differential.deploy(
        chain, deployment(chain.latest_timestamp()), m.RulesV2(), [node], gov
    )
    fed = Federation(d)
    D = d.state.deployment
    d.act("register", node.address, value=ETHER)
    u = fed.update(node.address, 0)
    d.act("commit", node.address, 0, fed.commitment(u), at=D.start(0))
    d.act("reveal", node.address, *u.reveal_args(), at=D.commit_end(0))
    key = keccak(encode(["uint256", "uint256"], [0, rounds_slot]))
    word = bytes(d.chain.w3.eth.get_storage_at(d.contract.address, int.from_bytes(key, "big")))
    view = d.contract.functions.roundView(0).call()
    assert word[:20] == view[4] == d.state.rounds[0].accumulator
    assert [int.from_bytes(word[i : i + 4], "big") for i in (20, 24, 28)] == [1, 0, 0]

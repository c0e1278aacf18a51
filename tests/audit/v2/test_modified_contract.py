"""A modified contract audits as a failure naming the rule: FLChainV2 compiled here with one
line changed so that it silently censors node 0's reveals (`RejectedIneligible` for an
eligible node — a fault made on purpose, compiled by this test and nowhere else), deployed and
played like the real one."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _federation import play

from flchain.audit.core_v2 import audit_v2
from flchain.audit.report import CheckStatus, Verdict
from flchain.ledger import Backend, LedgerV2
from flchain.ledger.deployment import load_artifact
from flchain.ledger.revert import ErrorDecoder
from flchain.ledger.sending import Signer, TxSender
from flchain.protocol import machine as m
from flchain.storage import LocalStore

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
HONEST = "} else if (!_eligible(n.record, round, g)) {"
CENSOR = "} else if (!_eligible(n.record, round, g) || n.core.leafIndex() == 0) {"


@pytest.fixture(scope="session")
def censoring_bytecode(tmp_path_factory: pytest.TempPathFactory) -> str:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the npm solc compiles the variant")
    root = tmp_path_factory.mktemp("variant")
    shutil.copytree(REPO / "contracts", root / "contracts")
    (root / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "compile_contracts.js", root / "scripts")
    (root / "node_modules").symlink_to((REPO / "node_modules").resolve())
    source = root / "contracts" / "FLChainV2.sol"
    text = source.read_text()
    assert text.count(HONEST) == 1
    source.write_text(text.replace(HONEST, CENSOR))
    proc = subprocess.run(
        ["node", "scripts/compile_contracts.js", "contracts/FLChainV2.sol"],
        cwd=root, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-500:]
    out = json.loads(proc.stdout)["output"]["contracts"]["contracts/FLChainV2.sol"]["FLChainV2"]
    return "0x" + out["evm"]["bytecode"]["object"]


def test_a_contract_that_censors_an_eligible_node_fails_the_code_and_machine_rules(
    backend: Backend, censoring_bytecode: str, tmp_path: Path
) -> None:
    abi: list[dict[str, Any]] = load_artifact(2)["abi"]

    def deploy_variant(b: Backend, deployer: Any, d: m.Deployment, r: m.RulesV2) -> LedgerV2:
        factory = b.w3.eth.contract(abi=abi, bytecode=censoring_bytecode)
        sender = TxSender(b, ErrorDecoder(abi), Signer(deployer), lambda: b.chain_id, None)
        receipt = sender.send(factory.constructor(d.to_abi(), r.to_abi()), "constructor")
        return LedgerV2.connect(
            b, receipt["contractAddress"], deployer, from_block=int(receipt["blockNumber"])
        )

    store = LocalStore(tmp_path / "store")
    fed = play(backend, store, deploy_variant)
    # what the variant did: node 0 (index 0), eligible in probation, was refused
    assert fed.outcomes[0][0] == m.RevealOutcome.REJECTED_INELIGIBLE
    assert fed.outcomes[0][1:] == [m.RevealOutcome.ACCEPTED] * 2

    report = audit_v2(fed.gov, store)
    checks = {c.rule: c for c in report.checks}
    assert checks["code"].status == CheckStatus.FAIL
    assert "compiled from other source" in checks["code"].message
    assert checks["creation"].status == CheckStatus.FAIL
    r0 = report.rounds[0]
    machine = {c.rule: c for c in r0.checks}["machine"]
    assert r0.verdict == Verdict.MISMATCH and machine.status == CheckStatus.FAIL
    assert f"reveal by {fed.nodes[0]}" in machine.message
    assert "Revealed.outcome is 2 on chain, the machine says 0" in machine.message
    assert r0.headline.startswith("machine:")
    assert report.exit_code == 1

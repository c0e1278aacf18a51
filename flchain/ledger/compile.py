"""Compile the ledger contracts and their imports into the committed artifacts.

`contracts/FLChain.sol` (protocol v1) → `flchain/contracts/FLChain.json`, and
`contracts/FLChainV2.sol` (protocol v2) → `flchain/contracts/FLChainV2.json`; each build holds
only its contract's import closure, so neither changes the other's artifact.
`python -m flchain.ledger.compile` runs `scripts/compile_contracts.js` (npm solc, wasm, standard
JSON, fixed settings) for both and writes the artifacts; `--check` only compares and exits 1 on
any difference. It also compiles the same standard JSON input through py-solc-x and requires
identical bytecode: with a native solc of the same version where py-solc-x has one installed
(an independent compiler), else with `scripts/solc`, the `solc` executable over the npm solc that
forge uses (py-solc-x would need the internet to install a native solc).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from flchain.ledger.errors import CompileError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "compile_contracts.js"
SOLC_FRONT = REPO_ROOT / "scripts" / "solc"
ARTIFACT_DIR = Path(__file__).resolve().parents[1] / "contracts"
CONTRACT = "FLChain"
SOURCE = f"contracts/{CONTRACT}.sol"
CONTRACT_V2 = "FLChainV2"
#: Every contract with a committed artifact, in build order.
CONTRACTS = (CONTRACT, CONTRACT_V2)
#: The contracts FLChainV2's constructor creates (docs/protocol.md §15): their ABI and runtime
#: code ride in FLChainV2's artifact under "satellites", by contract name.
SATELLITES_V2 = ("FLChainV2Forward", "RulesCheckV2")


def source_of(contract: str) -> str:
    """The source unit of `contract` (one of CONTRACTS)."""
    if contract not in CONTRACTS:
        raise CompileError(f"no artifact is built for {contract!r}: one of {', '.join(CONTRACTS)}")
    return f"contracts/{contract}.sol"


def run_solcjs(contract: str = CONTRACT) -> dict[str, Any]:
    """Run the node compile script for `contract`; returns {"version", "input", "output"}."""
    node = shutil.which("node")
    if node is None:
        raise CompileError("node is not installed: it is needed to run the npm solc compiler")
    proc = subprocess.run(
        [node, str(SCRIPT), source_of(contract)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        first = (proc.stderr.strip().splitlines() or ["no output"])[0]
        raise CompileError(f"solc script failed: {first}") from None
    errors = [e for e in result["output"].get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("solc: " + errors[0]["formattedMessage"].splitlines()[0])
    return result


def build_artifact(result: dict[str, Any], name: str = CONTRACT) -> dict[str, Any]:
    """The committed artifact: everything a deployer and an auditor need, nothing volatile.

    v2's also carries solc's storage layout — the audit proves storage words (a round's
    accumulator, a node's record) with `eth_getProof` and needs their slots — and where each
    immutable sits in the runtime code (`immutables_of`)."""
    source = source_of(name)
    contract = result["output"]["contracts"][source][name]
    sources = result["input"]["sources"]
    artifact = {
        "contractName": name,
        "sourceName": source,
        "sourceSha256": _sha256(sources[source]["content"]),
        # every source unit of the build (the contract's imports and their siblings), so the
        # artifact names exactly the files it was compiled from
        "sources": {name: _sha256(unit["content"]) for name, unit in sorted(sources.items())},
        "compiler": {"name": "solc", "version": result["version"]},
        "settings": {
            k: v for k, v in result["input"]["settings"].items() if k != "outputSelection"
        },
        "abi": contract["abi"],
        "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + contract["evm"]["deployedBytecode"]["object"],
        "devdoc": contract.get("devdoc", {}),
        "userdoc": contract.get("userdoc", {}),
    }
    if name != CONTRACT:  # v1's artifact stays byte for byte what it was
        artifact["storageLayout"] = contract["storageLayout"]
        artifact["immutables"] = immutables_of(result, source, contract)
    if name == CONTRACT_V2:
        output = result["output"]["contracts"]
        artifact["satellites"] = {
            s: _satellite(result, f"contracts/{s}.sol", output[f"contracts/{s}.sol"][s])
            for s in SATELLITES_V2
        }
    return artifact


def immutables_of(
    result: dict[str, Any], source: str, contract: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each immutable of the contract in declaration order: its name, its Solidity type and
    the byte ranges `[start, length]` of the runtime code that hold its value (solc's
    immutableReferences keyed by AST id, named from the AST). The audit fills them from the
    Genesis event and compares the deployed code with the rest byte for byte."""
    refs = contract["evm"]["deployedBytecode"].get("immutableReferences", {})
    declared = [
        node
        for unit in result["output"]["sources"][source]["ast"]["nodes"]
        if unit.get("nodeType") == "ContractDefinition"
        for node in unit["nodes"]
        if node.get("nodeType") == "VariableDeclaration" and node.get("mutability") == "immutable"
    ]
    return [
        {
            "name": node["name"],
            "type": node["typeDescriptions"]["typeString"],
            "positions": [[r["start"], r["length"]] for r in refs.get(str(node["id"]), [])],
        }
        for node in declared
    ]


def _satellite(result: dict[str, Any], source: str, contract: dict[str, Any]) -> dict[str, Any]:
    # its immutables too: the audit fills them and compares the code at the CREATE address
    return {
        "abi": contract["abi"],
        "immutables": immutables_of(result, source, contract),
        "deployedBytecode": "0x" + contract["evm"]["deployedBytecode"]["object"],
        "devdoc": contract.get("devdoc", {}),
        "userdoc": contract.get("userdoc", {}),
    }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def artifact_text(artifact: dict[str, Any]) -> str:
    """Canonical serialisation (sorted keys, fixed indentation, trailing newline)."""
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def solcx_bytecode(result: dict[str, Any], name: str = CONTRACT) -> tuple[str, str] | None:
    """Bytecode of the same input compiled through py-solc-x, and which solc compiled it.

    A native solc of the same version if py-solc-x has one, else the front `scripts/solc`;
    None if py-solc-x is missing or neither compiler is there.
    """
    try:
        import solcx
    except ImportError:
        return None
    wanted = result["version"].split("+")[0]
    if wanted in {str(v) for v in solcx.get_installed_solc_versions()}:
        out = solcx.compile_standard(result["input"], solc_version=wanted)
        used = "native solc"
    elif SOLC_FRONT.exists() and shutil.which("node") is not None:
        out = solcx.compile_standard(result["input"], solc_binary=SOLC_FRONT)
        used = "scripts/solc (npm solc, forge's compiler)"
    else:
        return None
    return "0x" + out["contracts"][source_of(name)][name]["evm"]["bytecode"]["object"], used


def compile_artifact(name: str = CONTRACT) -> tuple[dict[str, Any], str]:
    """Compile `name` and cross-check; returns the artifact and a note on the py-solc-x check."""
    result = run_solcjs(name)
    artifact = build_artifact(result, name)
    other = solcx_bytecode(result, name)
    if other is None:
        return (
            artifact,
            f"{name}: py-solc-x or a solc for it missing: py-solc-x cross-check skipped",
        )
    bytecode, used = other
    if bytecode != artifact["bytecode"]:
        raise CompileError(
            f"{name}: {used} and scripts/compile_contracts.js produce different bytecode"
        )
    return artifact, f"{name}: py-solc-x with {used} produces identical bytecode"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flchain.ledger.compile")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    parser.add_argument(
        "--contract", choices=CONTRACTS, action="append", help="only this one (repeatable)"
    )
    opts = parser.parse_args(argv)
    status = 0
    for name in opts.contract or CONTRACTS:
        try:
            artifact, note = compile_artifact(name)
        except CompileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        text = artifact_text(artifact)
        path = ARTIFACT_DIR / f"{name}.json"
        print(note)
        if opts.check:
            same = path.exists() and path.read_text() == text
            print(f"{path}: {'up to date' if same else 'DIFFERS from a fresh compile'}")
            status = status or (0 if same else 1)
            continue
        path.write_text(text)
        print(f"wrote {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())

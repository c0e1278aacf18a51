"""The contract's ABI is v1's: every function, event and error with its selector, parameter
names and types, indexed flags and mutability, pinned in `FLChain.v1.abi` (written from main's
artifact before the contract was split into interface + libraries). Only `internalType` (which
names the Solidity scope a struct or enum is declared in) is left out: clients never read it.
A change of this surface is a deliberate edit of the pin file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_utils import keccak

from flchain.ledger.compile import ARTIFACT_DIR

PIN = Path(__file__).with_name("FLChain.v1.abi")


def _canonical_type(param: dict[str, Any]) -> str:
    """The ABI type as it enters a selector: tuples spelled out as their component types."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def _described(param: dict[str, Any]) -> str:
    """Type and name, components included (their names are part of what clients decode)."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_described(c) for c in param["components"])
        kind = f"({inner}){kind[len('tuple') :]}"
    indexed = " indexed" if param.get("indexed") else ""
    return f"{kind}{indexed} {param['name']}".rstrip()


def abi_lines(abi: list[dict[str, Any]]) -> list[str]:
    """One sorted line per ABI entry: kind, signature, selector (or topic), names, mutability."""
    lines = []
    for entry in abi:
        kind = entry["type"]
        if kind == "constructor":
            args = ",".join(_described(p) for p in entry["inputs"])
            lines.append(f"constructor ({args}) {entry['stateMutability']}")
            continue
        signature = f"{entry['name']}({','.join(_canonical_type(p) for p in entry['inputs'])})"
        digest = keccak(text=signature)
        selector = "0x" + (digest if kind == "event" else digest[:4]).hex()
        args = ",".join(_described(p) for p in entry["inputs"])
        line = f"{kind} {signature} {selector} ({args})"
        if kind == "function":
            outs = ",".join(_described(p) for p in entry["outputs"])
            line += f" {entry['stateMutability']} returns ({outs})"
        if kind == "event" and entry.get("anonymous"):
            line += " anonymous"
        lines.append(line)
    return sorted(lines)


def test_abi_is_v1() -> None:
    artifact = json.loads((ARTIFACT_DIR / "FLChain.json").read_text())
    pinned = [ln for ln in PIN.read_text().splitlines() if ln and not ln.startswith("#")]
    assert abi_lines(artifact["abi"]) == pinned


def _doc(section: dict[str, Any], signature: str) -> dict[str, Any]:
    """NatSpec of one entry (solc lists an error's docs, since errors may be overloaded)."""
    doc = section.get(signature, {})
    return doc[0] if isinstance(doc, list) else doc


def test_every_error_and_event_is_documented_with_every_parameter() -> None:
    artifact = json.loads((ARTIFACT_DIR / "FLChain.json").read_text())
    user, dev = artifact["userdoc"], artifact["devdoc"]
    entries = [e for e in artifact["abi"] if e["type"] in ("error", "event")]
    assert len(entries) == 39  # 28 errors + 11 events: a vacuous loop would prove nothing
    for entry in entries:
        section = entry["type"] + "s"
        signature = f"{entry['name']}({','.join(_canonical_type(p) for p in entry['inputs'])})"
        assert _doc(user.get(section, {}), signature).get("notice"), signature
        params = _doc(dev.get(section, {}), signature).get("params", {})
        assert set(params) == {p["name"] for p in entry["inputs"]}, signature

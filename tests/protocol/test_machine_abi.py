"""The reference machine speaks IFLChainV2's ABI: every error, event, struct and function.

contracts/interfaces/IFLChainV2.sol is compiled with the project's npm solc; its ABI must match
the machine's tables name for name and argument for argument, every struct must list the
machine's dataclass fields in declaration order, and every external function must have its
`process_*` (state-changing) or `get_*` (view) counterpart.
"""

from __future__ import annotations

import re
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from flchain.protocol import machine as m

VECTORS = Path(__file__).resolve().parent / "vectors"
if str(VECTORS) not in sys.path:
    sys.path.insert(0, str(VECTORS))

from evm_probe import REPO, compile_solidity  # noqa: E402

#: IFLChainV2Forward's parts that only FLChainV2 reaches: the machine models the forward box
#: as part of the contract, so `commitWithForward` stands for its `vote` (and its refusal of any
#: other caller), and `forwardBox()` names the box, not `ledger()`.
BOX_INTERNAL = frozenset({"vote", "ledger", "NotTheLedger"})


@pytest.fixture(scope="module")
def abi() -> list[dict[str, Any]]:
    interfaces = REPO / "contracts" / "interfaces"
    compiled = compile_solidity(interfaces / "IFLChainV2.sol", "IFLChainV2")
    box = compile_solidity(interfaces / "IFLChainV2Forward.sol", "IFLChainV2Forward")
    items: list[dict[str, Any]] = compiled["abi"]
    return items + [e for e in box["abi"] if e.get("name") not in BOX_INTERNAL]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def test_errors_are_the_contracts(abi: list[dict[str, Any]]) -> None:
    errors = {e["name"]: tuple(i["name"] for i in e["inputs"]) for e in abi if e["type"] == "error"}
    assert errors == dict(m.ERRORS)


def test_events_are_the_contracts(abi: list[dict[str, Any]]) -> None:
    events = {e["name"]: tuple(i["name"] for i in e["inputs"]) for e in abi if e["type"] == "event"}
    assert events == dict(m.EVENTS)


def _struct(abi: list[dict[str, Any]], function: str, where: str) -> list[dict[str, Any]]:
    (fn,) = [f for f in abi if f.get("name") == function and f["type"] == "function"]
    (param,) = [p for p in fn[where] if p["type"] == "tuple"]
    comps: list[dict[str, Any]] = param["components"]
    return comps


@pytest.mark.parametrize(
    ("cls", "function", "where"),
    [
        (m.Deployment, "deployment", "outputs"),
        (m.RulesV2, "rulesForRound", "outputs"),
        (m.Result, "attest", "inputs"),
        (m.Leaf, "settle", "inputs"),
        (m.NodeView, "nodeView", "outputs"),
        (m.RoundView, "roundView", "outputs"),
        (m.Latest, "latest", "outputs"),
        (m.Accounts, "accounts", "outputs"),
    ],
)
def test_structs_list_the_machines_fields_in_order(
    abi: list[dict[str, Any]], cls: type, function: str, where: str
) -> None:
    components = _struct(abi, function, where)
    assert [c["name"] for c in components] == [camel(f.name) for f in fields(cls)]


def test_rules_types_are_the_contracts(abi: list[dict[str, Any]]) -> None:
    components = _struct(abi, "rulesForRound", "outputs")
    assert [(c["name"], c["type"]) for c in components] == [(a, t) for _, a, t in m.RULES_ABI]
    assert [py for py, _, _ in m.RULES_ABI] == [f.name for f in fields(m.RulesV2)]


def test_every_function_has_its_process_or_get(abi: list[dict[str, Any]]) -> None:
    for fn in (f for f in abi if f["type"] == "function"):
        view = fn["stateMutability"] in ("view", "pure")
        name = ("get_" if view else "process_") + snake(fn["name"])
        assert callable(getattr(m, name, None)), f"{fn['name']} has no {name}"
        if not view:
            payable = fn["stateMutability"] == "payable"
            assert payable == (fn["name"] in {"register", "addBond", "fundPool"})

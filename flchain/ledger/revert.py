"""Turn a failed call into the contract's custom error, by name (decoded against the ABI)."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi import decode
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from flchain.ledger.errors import ContractRevert

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2}){4,}")


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical ABI type of a parameter (structs as tuples), as selectors and topics hash it."""
    t = str(param["type"])
    if t.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){t[5:]}"
    return t


class ErrorDecoder:
    """Selector → (name, parameter names, types) for every custom error in an ABI."""

    def __init__(self, abi: Sequence[Mapping[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [abi_type(p) for p in item["inputs"]]
            names = [str(p["name"]) or f"arg{i}" for i, p in enumerate(item["inputs"])]
            selector = keccak(f"{item['name']}({','.join(types)})".encode())[:4]
            self._errors[selector] = (str(item["name"]), names, types)

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]] | None:
        """(error name, args by name) for revert `data`, or None if it is not recognisable."""
        if len(data) < 4:
            return None
        selector, body = data[:4], data[4:]
        try:
            if selector == _ERROR_STRING:
                return "Error", {"message": decode(["string"], body)[0]}
            if selector == _PANIC:
                return "Panic", {"code": decode(["uint256"], body)[0]}
            if selector in self._errors:
                name, names, types = self._errors[selector]
                values = decode(types, body)
                return name, {
                    n: _readable(t, v) for n, t, v in zip(names, types, values, strict=True)
                }
        except Exception:  # malformed body: treat as unknown rather than crash
            return None
        return None

    def refusal(self, data: bytes | None, function: str) -> ContractRevert | None:
        """The contract's custom error behind revert `data` of `function`, or None if unknown."""
        decoded = self.decode(data) if data else None
        if decoded is None:
            return None
        return ContractRevert(decoded[0], decoded[1], function)


def _readable(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "bytes32" and isinstance(value, bytes):
        text = value.rstrip(b"\0")
        if text and all(32 < c < 127 for c in text):  # a short name, e.g. RuleOutOfBounds(field)
            return text.decode("ascii")
    return value


def revert_data(exc: BaseException) -> bytes | None:
    """Best-effort extraction of revert bytes from web3 / eth-tester / JSON-RPC exceptions."""
    data = getattr(exc, "data", None)
    if isinstance(data, bytes) and data:
        return data
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return bytes.fromhex(data[2:])
    if isinstance(data, Mapping):
        inner = data.get("data")
        if isinstance(inner, str) and inner.startswith("0x"):
            return bytes.fromhex(inner[2:])
    for arg in exc.args:
        if isinstance(arg, bytes) and arg:
            return arg
        if isinstance(arg, Mapping):
            inner = arg.get("data")
            if isinstance(inner, str) and inner.startswith("0x"):
                return bytes.fromhex(inner[2:])
        if isinstance(arg, str):
            # eth-tester: "execution reverted: b'...'" (a Python bytes repr). The repr opens at
            # the first marker of either quote: a repr in double quotes (data with a ' and no ")
            # can hold a b' inside it, as in b"\xeb'", and parsing from there fails.
            found = [i for i in (arg.find("b'"), arg.find('b"')) if i >= 0]
            marker = min(found, default=-1)
            if marker >= 0:
                try:
                    parsed = ast.literal_eval(arg[marker:])
                except (ValueError, SyntaxError):
                    parsed = None
                if isinstance(parsed, bytes) and parsed:
                    return parsed
            match = _HEX.search(arg)
            if match:
                return bytes.fromhex(match.group(0)[2:])
    return None

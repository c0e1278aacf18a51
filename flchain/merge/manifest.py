"""Canonical manifest encoding.

The manifest is the record nodes attest (by its CID), so its bytes must be a function of its
content alone: JSON with sorted keys, no whitespace, ASCII only, and only strings, integers,
booleans, lists and objects. Floats are refused outright: their text form is not canonical
across languages, and no decision may rest on one. Exact fractions are written as "n/d" strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from flchain.merge.errors import MergeError

__all__ = [
    "MANIFEST_KIND",
    "MANIFEST_VERSION",
    "MANIFEST_VERSION_V2",
    "encode_manifest",
    "fraction_str",
]

MANIFEST_KIND = "flchain.merge.manifest"
MANIFEST_VERSION = 1  # protocol v1
MANIFEST_VERSION_V2 = 2  # protocol v2: seed inputs and the settlement table (docs/merge.md)


def fraction_str(value: Fraction) -> str:
    """An exact fraction as "numerator/denominator" in lowest terms (e.g. "1/3", "1/1")."""
    return f"{value.numerator}/{value.denominator}"


def _check_json_value(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise MergeError(f"manifest field {path} is a float; only integers and strings allowed")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MergeError(f"manifest key {key!r} at {path} is not a string")
            _check_json_value(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json_value(item, f"{path}[{i}]")
        return
    raise MergeError(f"manifest field {path} has unsupported type {type(value).__name__}")


def encode_manifest(document: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a manifest document (sorted keys, no whitespace, no floats)."""
    _check_json_value(document, "$")
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii")

"""Canonical safetensors encoding of model weights.

The same tensors must always give the same bytes (hence the same digest and the same CID) on
every machine, so this module writes the safetensors format itself instead of relying on a
library's choice of key order or padding. The canonical layout is:

1. 8 bytes: little-endian unsigned 64-bit length ``N`` of the header.
2. ``N`` bytes: the header, UTF-8 JSON produced by
   ``json.dumps(h, sort_keys=True, separators=(",", ":"), ensure_ascii=True)`` and then padded
   with ASCII spaces (0x20) to a multiple of 8 bytes (as the reference implementation pads).
   ``h`` maps each tensor name to ``{"data_offsets": [begin, end], "dtype": "F32",
   "shape": [...]}``; the optional ``"__metadata__"`` entry (a str→str map) is present only when
   metadata is non-empty.
3. The tensor data: every tensor as float32 little-endian, C order, concatenated in ascending
   order of name (Python ``str`` order, i.e. by Unicode code point) with no gaps; offsets are
   relative to the start of this data section.

The output is valid safetensors and loads with the `safetensors` package. Loading here refuses
anything else: pickles and torch zip archives are recognised and named, never unpickled.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from flchain.storage.errors import (
    HeaderTooLargeError,
    NonCanonicalWeightsError,
    NonFiniteWeightsError,
    NotSafetensorsError,
    PickleRefusedError,
    TorchZipRefusedError,
    WeightsDtypeError,
    WeightsError,
    WeightsLayoutError,
)

__all__ = ["MAX_HEADER_BYTES", "decode_weights", "encode_weights", "is_canonical"]

#: Largest header we parse. A model with thousands of tensors needs well under 1 MiB; the cap
#: stops a hostile file from making us parse gigabytes of JSON.
MAX_HEADER_BYTES = 16 * 1024 * 1024

_DTYPE = "F32"
_LE_F32 = np.dtype("<f4")
_METADATA_KEY = "__metadata__"


def _canonical_header_bytes(header: Mapping[str, Any]) -> bytes:
    raw = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    return raw + b" " * (-len(raw) % 8)


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise WeightsError(f"tensor names must be non-empty strings, got {name!r}")
    if name == _METADATA_KEY:
        raise WeightsError(f"{_METADATA_KEY!r} is reserved and cannot name a tensor")
    return name


def _check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise WeightsError(f"metadata must map str to str, got {key!r}: {type(value).__name__}")
        out[key] = value
    return out


def _as_canonical_array(name: str, array: np.ndarray) -> np.ndarray:
    arr = np.asarray(array)
    if arr.dtype.kind != "f" or arr.dtype.itemsize != 4:
        raise WeightsDtypeError(f"tensor {name!r} has dtype {arr.dtype}, expected float32")
    if not np.isfinite(arr).all():
        raise NonFiniteWeightsError(f"tensor {name!r} contains NaN or Inf")
    # np.asarray keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d).
    return np.asarray(arr, dtype=_LE_F32, order="C")


def encode_weights(
    tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None
) -> bytes:
    """Encode float32 tensors (and optional str→str metadata) as canonical safetensors bytes.

    @param tensors name → float32 array (any byte order / memory layout; it is normalised).
    @param metadata optional string map stored in ``__metadata__``.
    @return the canonical bytes; equal inputs always give equal bytes.
    @raises WeightsDtypeError if a tensor is not float32 (no silent casts).
    @raises NonFiniteWeightsError if a tensor holds NaN or Inf.
    """
    names = sorted(_check_name(n) for n in tensors)
    arrays = [_as_canonical_array(n, tensors[n]) for n in names]
    header: dict[str, Any] = {}
    offset = 0
    for name, arr in zip(names, arrays, strict=True):
        header[name] = {
            "data_offsets": [offset, offset + arr.nbytes],
            "dtype": _DTYPE,
            "shape": [int(d) for d in arr.shape],
        }
        offset += arr.nbytes
    meta = _check_metadata(metadata)
    if meta:
        header[_METADATA_KEY] = meta
    head = _canonical_header_bytes(header)
    return b"".join([struct.pack("<Q", len(head)), head, *(a.tobytes() for a in arrays)])


def _refuse_known_foreign_formats(data: bytes) -> None:
    # Protocol-2+ pickles start with PROTO (0x80) then the protocol number.
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        raise PickleRefusedError(
            "weights are a Python pickle (torch.save legacy format); refusing to unpickle, "
            "expected safetensors"
        )
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        raise TorchZipRefusedError(
            "weights are a zip archive (torch.save format, contains a pickle); refusing, "
            "expected safetensors"
        )
    # Protocol 0/1 pickles have no magic; they start with an opcode such as '(' or ']' and
    # always end with STOP '.'. A safetensors header length is never followed by that shape.
    if data[:1] in (b"(", b"]", b"}", b"c") and data.endswith(b"."):
        raise PickleRefusedError("weights look like a protocol-0/1 Python pickle; refusing")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise NotSafetensorsError(f"safetensors header repeats key {key!r}")
        out[key] = value
    return out


def _parse_header(data: bytes) -> tuple[dict[str, Any], int]:
    if len(data) < 8:
        _refuse_known_foreign_formats(data)
        raise NotSafetensorsError(f"weights are {len(data)} bytes, too short for safetensors")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > MAX_HEADER_BYTES:
        _refuse_known_foreign_formats(data)
        raise HeaderTooLargeError(
            f"safetensors header claims {n} bytes, over the {MAX_HEADER_BYTES}-byte limit"
        )
    if 8 + n > len(data):
        _refuse_known_foreign_formats(data)
        raise NotSafetensorsError(
            f"safetensors header claims {n} bytes but only {len(data) - 8} follow"
        )
    raw = data[8 : 8 + n]
    if not raw.startswith(b"{"):
        _refuse_known_foreign_formats(data)
        raise NotSafetensorsError("safetensors header is not a JSON object")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicate_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, NotSafetensorsError):
            raise
        raise NotSafetensorsError(f"safetensors header is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise NotSafetensorsError("safetensors header is not a JSON object")
    return header, 8 + n


def _is_uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _tensor_entry(name: str, entry: object) -> tuple[list[int], int, int]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise NotSafetensorsError(
            f"tensor {name!r}: header entry must have dtype, shape, data_offsets"
        )
    dtype = entry["dtype"]
    if dtype != _DTYPE:
        raise WeightsDtypeError(f"tensor {name!r} has dtype {dtype!r}, expected 'F32'")
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not isinstance(shape, list) or not all(_is_uint(d) for d in shape):
        raise NotSafetensorsError(f"tensor {name!r}: shape must be a list of non-negative ints")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_uint(o) for o in offsets):
        raise WeightsLayoutError(f"tensor {name!r}: data_offsets must be two non-negative ints")
    begin, end = offsets
    if end < begin or end - begin != math.prod(shape) * 4:
        raise WeightsLayoutError(
            f"tensor {name!r}: offsets [{begin}, {end}] do not hold shape {shape} of float32"
        )
    return shape, begin, end


def _check_layout(spans: list[tuple[int, int, str]], data_len: int) -> None:
    position = 0
    for begin, end, name in sorted(spans):
        if begin < position:
            raise WeightsLayoutError(f"tensor {name!r} overlaps the previous tensor")
        if begin > position:
            raise WeightsLayoutError(f"gap of {begin - position} bytes before tensor {name!r}")
        if end > data_len:
            raise WeightsLayoutError(
                f"tensor {name!r} ends at {end}, beyond the {data_len}-byte data section"
            )
        position = end
    if position != data_len:
        raise WeightsLayoutError(f"{data_len - position} trailing bytes after the last tensor")


def decode_weights(
    data: bytes, *, require_canonical: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse safetensors bytes into float32 arrays and the metadata map, never unpickling.

    @param data the payload (e.g. fetched from IPFS; treated as hostile).
    @param require_canonical also refuse valid safetensors that `encode_weights` would not have
        produced byte for byte (use it wherever a digest or CID must be reproducible).
    @return (name → read-only float32 array in native byte order, metadata).
    @raises PickleRefusedError / TorchZipRefusedError for torch.save outputs.
    @raises HeaderTooLargeError, WeightsLayoutError, NotSafetensorsError for malformed files.
    @raises WeightsDtypeError for any dtype but F32; NonFiniteWeightsError for NaN/Inf.
    """
    data = bytes(data)
    header, data_start = _parse_header(data)
    metadata_raw = header.pop(_METADATA_KEY, {})
    if not isinstance(metadata_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata_raw.items()
    ):
        raise NotSafetensorsError("safetensors __metadata__ must map str to str")
    body_len = len(data) - data_start
    entries = {name: _tensor_entry(name, entry) for name, entry in header.items()}
    _check_layout([(b, e, n) for n, (_, b, e) in entries.items()], body_len)
    tensors: dict[str, np.ndarray] = {}
    for name in sorted(entries):
        shape, begin, end = entries[name]
        arr = np.frombuffer(
            data, dtype=_LE_F32, count=(end - begin) // 4, offset=data_start + begin
        )
        arr = arr.reshape(shape).astype(np.float32, copy=False)
        if not np.isfinite(arr).all():
            raise NonFiniteWeightsError(f"tensor {name!r} contains NaN or Inf")
        tensors[name] = arr
    metadata = dict(metadata_raw)
    if require_canonical and encode_weights(tensors, metadata) != data:
        raise NonCanonicalWeightsError(
            "weights are valid safetensors but not in canonical layout (re-encode them)"
        )
    return tensors, metadata


def is_canonical(data: bytes) -> bool:
    """True when `data` decodes and re-encodes to exactly the same bytes."""
    try:
        decode_weights(data, require_canonical=True)
    except WeightsError:
        return False
    return True

"""CIDs as `ipfs add --cid-version=1 --raw-leaves` computes them (pure, no I/O but reading).

A CID here is CIDv1 with a sha2-256 multihash and codec raw (0x55, files of one chunk and every
leaf) or dag-pb (0x70, nodes of larger files). Its string form is multibase base32 (lower case,
no padding, prefix ``b``); its binary form ``0x01 codec 0x12 0x20 digest`` (36 bytes) is what
the contract stores. CIDv0 strings (``Qm…``) that some daemons print are parsed too and
compare equal to their CIDv1 dag-pb form only after `Cid.to_v1`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from flchain.storage.errors import InvalidCidError
from flchain.storage.unixfs import (
    CODEC_DAG_PB,
    CODEC_RAW,
    SHA2_256,
    FileDagBuilder,
    decode_varint,
    encode_varint,
    iter_chunks,
)

__all__ = [
    "CODEC_DAG_PB",
    "CODEC_RAW",
    "Cid",
    "cid_for_block",
    "cid_for_bytes",
    "cid_for_stream",
    "cid_from_bytes",
    "parse_cid",
]

_CODEC_NAMES = {CODEC_RAW: "raw", CODEC_DAG_PB: "dag-pb"}
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True, order=True)
class Cid:
    """A parsed content identifier (sha2-256 only)."""

    version: int
    codec: int
    digest: bytes  # the 32-byte sha2-256 digest

    @property
    def multihash(self) -> bytes:
        return bytes([SHA2_256, 32]) + self.digest

    def to_bytes(self) -> bytes:
        """Binary CID: for v1 ``0x01 codec multihash`` (36 bytes); for v0 the bare multihash."""
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    def to_v1(self) -> Cid:
        return Cid(1, self.codec, self.digest)

    def __str__(self) -> str:
        if self.version == 0:
            return _b58encode(self.multihash)
        return "b" + base64.b32encode(self.to_bytes()).decode("ascii").lower().rstrip("=")

    @property
    def codec_name(self) -> str:
        return _CODEC_NAMES.get(self.codec, hex(self.codec))

    def verify(self, block: bytes) -> bool:
        """True when `block` hashes to this CID."""
        return hashlib.sha256(block).digest() == self.digest


def _b58encode(raw: bytes) -> str:
    n = int.from_bytes(raw, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def _b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        idx = _B58.find(ch)
        if idx < 0:
            raise InvalidCidError(f"invalid base58 character {ch!r} in CID")
        n = n * 58 + idx
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def _short(text: object) -> str:
    s = repr(text)
    return s if len(s) <= 80 else s[:77] + "..."


def cid_from_bytes(raw: bytes) -> Cid:
    """Parse a binary CID (v1, or a bare v0 multihash).

    @raises InvalidCidError for anything else, including non-sha2-256 hashes.
    """
    raw = bytes(raw)
    if len(raw) == 34 and raw[:2] == bytes([SHA2_256, 32]):
        return Cid(0, CODEC_DAG_PB, raw[2:])
    try:
        version, pos = decode_varint(raw, 0)
        codec, pos = decode_varint(raw, pos)
        hash_code, pos = decode_varint(raw, pos)
        length, pos = decode_varint(raw, pos)
    except ValueError:
        raise InvalidCidError(f"binary CID is truncated ({len(raw)} bytes)") from None
    if version != 1:
        raise InvalidCidError(f"unsupported CID version {version}")
    if codec not in _CODEC_NAMES:
        raise InvalidCidError(f"unsupported CID codec {codec:#x} (expected raw or dag-pb)")
    if hash_code != SHA2_256 or length != 32:
        raise InvalidCidError(f"unsupported multihash {hash_code:#x}/{length} (expected sha2-256)")
    if len(raw) - pos != 32:
        raise InvalidCidError(f"binary CID digest has {len(raw) - pos} bytes, expected 32")
    return Cid(1, codec, raw[pos:])


def parse_cid(text: str) -> Cid:
    """Parse a CID string: CIDv1 in base32 (``b…``) or base58btc (``z…``), or CIDv0 (``Qm…``).

    @raises InvalidCidError with the offending string (shortened) in one line.
    """
    if not isinstance(text, str) or not text:
        raise InvalidCidError(f"not a CID: {_short(text)}")
    text = text.strip()
    if len(text) == 46 and text.startswith("Qm"):
        return cid_from_bytes(_b58decode(text))
    if text.startswith("z"):  # base58btc multibase, which js-ipfs prints by default
        return cid_from_bytes(_b58decode(text[1:]))
    if not text.startswith("b"):
        raise InvalidCidError(
            f"not a CID: {_short(text)} (expected base32 CIDv1 starting with 'b', or 'Qm…')"
        )
    body = text[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError:
        raise InvalidCidError(f"not a CID: {_short(text)} (invalid base32)") from None
    try:
        return cid_from_bytes(raw)
    except InvalidCidError as exc:
        raise InvalidCidError(f"not a CID: {_short(text)} ({exc.message})") from None


def cid_for_block(block: bytes, codec: int = CODEC_RAW) -> Cid:
    """CIDv1 of one block under `codec`."""
    return Cid(1, codec, hashlib.sha256(block).digest())


def cid_for_stream(stream: BinaryIO) -> str:
    """CID of a whole file read from `stream` in chunks; memory does not grow with the file."""
    builder = FileDagBuilder()
    for chunk in iter_chunks(stream):
        builder.add_chunk(chunk)
    _rest, root = builder.finish()
    return str(cid_from_bytes(root))


def cid_for_bytes(data: bytes) -> str:
    """CID of `data` as `ipfs add --cid-version=1 --raw-leaves` prints it."""
    import io

    return cid_for_stream(io.BytesIO(data))

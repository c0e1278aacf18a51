"""CARv1 (content-addressed archive) writing and reading, streaming.

A CARv1 file is ``varint(len(header)) header`` followed by sections
``varint(len(cid) + len(block)) cid block``. The header is DAG-CBOR ``{"roots": [CID…],
"version": 1}``; we write it canonically (keys by length, CIDs as tag 42 over ``0x00 ‖ cid``)
and read it with a CBOR decoder limited to what a header may contain. Blocks are verified
against their CIDs by whoever stores them, never trusted here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from flchain.storage.cid import Cid, cid_from_bytes
from flchain.storage.errors import CarFormatError, InvalidCidError
from flchain.storage.unixfs import decode_varint, encode_varint

__all__ = ["MAX_SECTION_BYTES", "encode_car_header", "read_car", "write_car"]

#: Largest section accepted; blocks we write are ≤ 256 KiB + a small node, Kubo's limit is 2 MiB.
MAX_SECTION_BYTES = 4 * 1024 * 1024
_MAX_HEADER_BYTES = 64 * 1024


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([(major << 5) | value])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([(major << 5) | info]) + value.to_bytes(size, "big")
    raise ValueError("CBOR value too large")


def _cbor_text(text: str) -> bytes:
    raw = text.encode()
    return _cbor_head(3, len(raw)) + raw


def encode_car_header(roots: list[Cid]) -> bytes:
    """DAG-CBOR bytes of the CARv1 header for `roots`."""
    out = _cbor_head(5, 2) + _cbor_text("roots") + _cbor_head(4, len(roots))
    for root in roots:
        payload = b"\x00" + root.to_bytes()
        out += _cbor_head(6, 42) + _cbor_head(2, len(payload)) + payload
    return out + _cbor_text("version") + _cbor_head(0, 1)


def write_car(out: BinaryIO, roots: list[Cid], blocks: Iterable[tuple[bytes, bytes]]) -> int:
    """Write a CARv1 of `blocks` ((binary cid, block) pairs) to `out`; return bytes written."""
    header = encode_car_header(roots)
    written = out.write(encode_varint(len(header)) + header)
    for cid, block in blocks:
        written += out.write(encode_varint(len(cid) + len(block)) + cid + block)
    return written


class _Cbor:
    """Just enough CBOR to read a CAR header (maps, arrays, text, bytes, ints, tag 42)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CarFormatError("CAR header is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def _arg(self, info: int) -> int:
        if info < 24:
            return info
        sizes = {24: 1, 25: 2, 26: 4, 27: 8}
        if info not in sizes:
            raise CarFormatError("CAR header uses indefinite-length CBOR")
        return int.from_bytes(self._take(sizes[info]), "big")

    def item(self, depth: int = 0) -> object:
        if depth > 8:
            raise CarFormatError("CAR header nests too deeply")
        first = self._take(1)[0]
        major, arg = first >> 5, self._arg(first & 0x1F)
        if major == 0:
            return arg
        if major == 2:
            return self._take(arg)
        if major == 3:
            try:
                return self._take(arg).decode()
            except UnicodeDecodeError:
                raise CarFormatError("CAR header has invalid UTF-8") from None
        if major == 4:
            return [self.item(depth + 1) for _ in range(arg)]
        if major == 5:
            pairs = [(self.item(depth + 1), self.item(depth + 1)) for _ in range(arg)]
            return {k: v for k, v in pairs if isinstance(k, str)}
        if major == 6 and arg == 42:
            raw = self.item(depth + 1)
            if not isinstance(raw, bytes) or not raw.startswith(b"\x00"):
                raise CarFormatError("CAR header has a malformed CID")
            try:
                return cid_from_bytes(raw[1:])
            except InvalidCidError as exc:
                raise CarFormatError(f"CAR header root: {exc.message}") from None
        raise CarFormatError(f"CAR header has unsupported CBOR item (major type {major})")


def _read_varint(stream: BinaryIO) -> int | None:
    value = 0
    shift = 0
    while True:
        byte = stream.read(1)
        if not byte:
            if shift == 0:
                return None
            raise CarFormatError("CAR file is truncated inside a length prefix")
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
        shift += 7
        if shift > 63:
            raise CarFormatError("CAR length prefix is too long")


def _read_exact(stream: BinaryIO, n: int, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise CarFormatError(f"CAR file is truncated inside {what}")
    return data


def _split_cid(section: bytes) -> tuple[bytes, bytes]:
    if section[:2] == b"\x12\x20":  # CIDv0: a bare sha2-256 multihash
        return section[:34], section[34:]
    if not section.startswith(b"\x01"):
        raise CarFormatError("CAR section does not start with a CIDv0 or CIDv1")
    # v1: version, codec, hash code, digest length (all varints), digest
    pos = 1
    values = []
    for _ in range(3):
        try:
            value, pos = decode_varint(section, pos)
        except ValueError:
            raise CarFormatError("CAR section CID is truncated") from None
        values.append(value)
    end = pos + values[2]
    if end > len(section):
        raise CarFormatError("CAR section CID is truncated")
    return section[:end], section[end:]


def read_car(stream: BinaryIO) -> tuple[list[Cid], Iterator[tuple[Cid, bytes]]]:
    """Parse a CARv1 stream: return its roots and an iterator over (cid, block) sections.

    @raises CarFormatError for anything that is not a well-formed CARv1 (raised lazily for
        sections, as they are read).
    """
    length = _read_varint(stream)
    if length is None or length == 0:
        raise CarFormatError("not a CAR file (empty)")
    if length > _MAX_HEADER_BYTES:
        raise CarFormatError(f"not a CAR file (header of {length} bytes)")
    header = _Cbor(_read_exact(stream, length, "the header")).item()
    if not isinstance(header, dict) or header.get("version") != 1:
        version = header.get("version") if isinstance(header, dict) else None
        raise CarFormatError(f"not a CARv1 file (version {version!r})")
    roots = header.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, Cid) for r in roots):
        raise CarFormatError("CAR header has no valid roots list")

    def sections() -> Iterator[tuple[Cid, bytes]]:
        while True:
            size = _read_varint(stream)
            if size is None:
                return
            if size > MAX_SECTION_BYTES:
                raise CarFormatError(f"CAR section of {size} bytes exceeds the limit")
            raw_cid, block = _split_cid(_read_exact(stream, size, "a block"))
            try:
                cid = cid_from_bytes(raw_cid)
            except InvalidCidError as exc:
                raise CarFormatError(f"CAR block: {exc.message}") from None
            yield cid, block

    return [r for r in roots if isinstance(r, Cid)], sections()

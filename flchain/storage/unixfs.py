"""UnixFS file DAGs exactly as `ipfs add --cid-version=1 --raw-leaves` builds them (pure).

Layout (Kubo's and js-ipfs's defaults): the file is cut into 262 144-byte chunks; each chunk is
a raw block (codec 0x55). A file of at most one chunk *is* that raw block. Otherwise the leaves
are grouped left to right into dag-pb nodes of at most 174 links, those nodes again into nodes
of at most 174 links, and so on until one node remains: Kubo's "balanced" layout, which fills
each subtree completely before starting the next, gives exactly this grouping.

Every node is a dag-pb ``PBNode`` whose ``Data`` is a UnixFS ``Data`` message of type File with
``filesize`` and one ``blocksizes`` entry per child (the file bytes under that child). Links
carry the child's binary CID, an empty ``Name`` and ``Tsize`` (the child's block size plus the
``Tsize`` of all its children). Protobuf is written by hand: the messages are tiny and fixed, and
the field order must match go-merkledag's (links before data) for the bytes to hash the same.

This module works on binary CIDs (``bytes``) so that `flchain.storage.cid` can build on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flchain.storage.errors import MalformedDagError

if TYPE_CHECKING:
    from flchain.storage.cid import Cid

__all__ = [
    "CHUNK_SIZE",
    "CODEC_DAG_PB",
    "CODEC_RAW",
    "MAX_LINKS",
    "DagNode",
    "FileDagBuilder",
    "PbLink",
    "dag_pb_cid_bytes",
    "decode_dag_pb",
    "iter_chunks",
    "raw_cid_bytes",
    "read_file_block",
]

CHUNK_SIZE = 262_144
MAX_LINKS = 174
CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
SHA2_256 = 0x12

_UNIXFS_RAW = 0
_UNIXFS_FILE = 2
_RAW_PREFIX = bytes([0x01, CODEC_RAW, SHA2_256, 0x20])
_DAG_PB_PREFIX = bytes([0x01, CODEC_DAG_PB, SHA2_256, 0x20])


def raw_cid_bytes(block: bytes) -> bytes:
    """Binary CIDv1 (raw, sha2-256) of a block."""
    return _RAW_PREFIX + hashlib.sha256(block).digest()


def dag_pb_cid_bytes(block: bytes) -> bytes:
    """Binary CIDv1 (dag-pb, sha2-256) of a block."""
    return _DAG_PB_PREFIX + hashlib.sha256(block).digest()


# --- protobuf wire format -------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128 varint (protobuf, multiformats)."""
    if value < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Read a varint at `pos`; return (value, next position). Raises ValueError if cut off."""
    value = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 64 bits")


def _field_varint(number: int, value: int) -> bytes:
    return encode_varint(number << 3) + encode_varint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return encode_varint((number << 3) | 2) + encode_varint(len(value)) + value


def _iter_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) of a protobuf message; only types 0 and 2."""
    pos = 0
    while pos < len(data):
        key, pos = decode_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = decode_varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = decode_varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated length-delimited field")
            yield number, wire, bytes(data[pos : pos + length])
            pos += length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


# --- encoding -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PbLink:
    """One child of a dag-pb node: binary CID, cumulative size, and file bytes beneath it."""

    cid: bytes
    tsize: int
    filesize: int


def encode_file_node(children: list[PbLink]) -> bytes:
    """dag-pb bytes of a UnixFS File node over `children` (links first, as go-merkledag)."""
    filesize = sum(c.filesize for c in children)
    unixfs = _field_varint(1, _UNIXFS_FILE) + _field_varint(3, filesize)
    unixfs += b"".join(_field_varint(4, c.filesize) for c in children)
    links = b"".join(
        _field_bytes(2, _field_bytes(1, c.cid) + _field_bytes(2, b"") + _field_varint(3, c.tsize))
        for c in children
    )
    return links + _field_bytes(1, unixfs)


@dataclass
class FileDagBuilder:
    """Streaming builder: `add_chunk` each chunk in order, then `finish`; both return new blocks.

    Memory is bounded by the tree's fan-out (≤ 174 pending links per level), never the file.
    Blocks come out children before parents; the last block of `finish` is the root.
    """

    _levels: list[list[PbLink]] = field(default_factory=lambda: [[]])
    _chunks: int = 0

    def add_chunk(self, chunk: bytes) -> list[tuple[bytes, bytes]]:
        """Add the next chunk (≤ CHUNK_SIZE bytes); return the (cid, block) pairs now complete."""
        self._chunks += 1
        cid = raw_cid_bytes(chunk)
        out = [(cid, chunk)]
        self._levels[0].append(PbLink(cid, len(chunk), len(chunk)))
        level = 0
        while len(self._levels[level]) == MAX_LINKS:
            out.append(self._close(level))
            level += 1
        return out

    def _close(self, level: int) -> tuple[bytes, bytes]:
        children = self._levels[level]
        block = encode_file_node(children)
        cid = dag_pb_cid_bytes(block)
        if len(self._levels) == level + 1:
            self._levels.append([])
        self._levels[level + 1].append(
            PbLink(
                cid, len(block) + sum(c.tsize for c in children), sum(c.filesize for c in children)
            )
        )
        self._levels[level] = []
        return cid, block

    def finish(self) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """Close the tree; return (remaining blocks, root CID)."""
        if self._chunks == 0:
            return [(raw_cid_bytes(b""), b"")], raw_cid_bytes(b"")
        out: list[tuple[bytes, bytes]] = []
        level = 0
        while True:
            higher = any(self._levels[level + 1 :])
            pending = self._levels[level]
            if not higher and len(pending) == 1:
                return out, pending[0].cid
            if pending:
                out.append(self._close(level))
            level += 1


def iter_chunks(stream: object, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield full `size`-byte chunks from a binary file object (last may be short).

    Short reads (pipes, sockets) are topped up so chunk boundaries never depend on the source.
    """
    read = getattr(stream, "read", None)
    if read is None:
        raise TypeError("expected a binary file object with .read()")
    while True:
        parts: list[bytes] = []
        have = 0
        while have < size:
            part = read(size - have)
            if not part:
                break
            if not isinstance(part, bytes | bytearray | memoryview):
                raise TypeError("stream must be opened in binary mode")
            parts.append(bytes(part))
            have += len(part)
        if not parts:
            return
        yield parts[0] if len(parts) == 1 else b"".join(parts)
        if have < size:
            return


def build_file_dag(chunks: Iterable[bytes]) -> Iterator[tuple[bytes, bytes]]:
    """All (cid, block) pairs of the file made of `chunks`; the last pair is the root."""
    builder = FileDagBuilder()
    for chunk in chunks:
        yield from builder.add_chunk(chunk)
    rest, _root = builder.finish()
    yield from rest


# --- decoding -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DagNode:
    """A decoded dag-pb node with its UnixFS payload."""

    links: tuple[tuple[bytes, int], ...]  # (binary CID, Tsize)
    unixfs_type: int
    data: bytes  # inline file bytes (leaf nodes of non-raw-leaves DAGs)
    filesize: int | None
    blocksizes: tuple[int, ...]


def decode_dag_pb(block: bytes) -> DagNode:
    """Decode a dag-pb block carrying a UnixFS File/Raw node. Raises ValueError if malformed."""
    links: list[tuple[bytes, int]] = []
    unixfs: bytes | None = None
    for number, wire, value in _iter_fields(block):
        if number == 2 and wire == 2 and isinstance(value, bytes):
            cid = b""
            tsize = 0
            for n, w, v in _iter_fields(value):
                if n == 1 and w == 2 and isinstance(v, bytes):
                    cid = v
                elif n == 3 and w == 0 and isinstance(v, int):
                    tsize = v
            if not cid:
                raise ValueError("dag-pb link without a hash")
            links.append((cid, tsize))
        elif number == 1 and wire == 2 and isinstance(value, bytes):
            unixfs = value
        else:
            raise ValueError(f"unexpected dag-pb field {number}")
    if unixfs is None:
        raise ValueError("dag-pb node has no UnixFS data")
    kind = -1
    data = b""
    filesize: int | None = None
    sizes: list[int] = []
    for number, wire, value in _iter_fields(unixfs):
        if number == 1 and wire == 0 and isinstance(value, int):
            kind = value
        elif number == 2 and wire == 2 and isinstance(value, bytes):
            data = value
        elif number == 3 and wire == 0 and isinstance(value, int):
            filesize = value
        elif number == 4 and wire == 0 and isinstance(value, int):
            sizes.append(value)
        elif number == 4 and wire == 2 and isinstance(value, bytes):  # packed encoding
            pos = 0
            while pos < len(value):
                size, pos = decode_varint(value, pos)
                sizes.append(size)
    if kind not in (_UNIXFS_RAW, _UNIXFS_FILE):
        raise ValueError(f"UnixFS node type {kind} is not a file")
    if len(sizes) != len(links):
        raise ValueError("UnixFS blocksizes do not match the links")
    return DagNode(tuple(links), kind, data, filesize, tuple(sizes))


def read_file_block(cid: Cid, block: bytes) -> tuple[bytes, list[tuple[bytes, int]]]:
    """What one verified block of a UnixFS file holds: its own file bytes, and its children in
    file order as (binary CID, file bytes under that child). A raw block is all data; a dag-pb
    block must be a UnixFS file node. Both stores walk files through it.

    @raises MalformedDagError for another codec, or a dag-pb block that is not a file node.
    """
    if cid.codec == CODEC_RAW:
        return block, []
    if cid.codec != CODEC_DAG_PB:
        raise MalformedDagError(f"block {cid} has codec {cid.codec:#x}, not a file")
    try:
        node = decode_dag_pb(block)
    except ValueError as exc:
        raise MalformedDagError(f"block {cid} is not a UnixFS file node: {exc}") from None
    return node.data, [
        (raw, size) for (raw, _), size in zip(node.links, node.blocksizes, strict=True)
    ]

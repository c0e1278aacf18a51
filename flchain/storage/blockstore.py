"""`LocalStore`: the embedded content store, a folder of blocks keyed by CID.

Layout under the store root::

    blocks/<xy>/<cid>   one file per block (xy = the CID's last two characters)
    blocks/<xy>/<cid>.tmp-<random>   a block being written (never read; gc removes leftovers)
    pins/<cid>          an empty file per pinned root (pins are recursive)
    tmp/                scratch (older versions staged blocks here; gc empties it)
    .lock               filelock taken by writers and by gc

Crash safety: each block is written to a temp file beside its final name, its data flushed
(fdatasync), and only then renamed into place, so a reader sees either no block or the whole
block, never a torn one. The writes of one put run in a small thread pool, so their fdatasync
calls share journal commits instead of paying one commit each, and hashing the next chunk
overlaps the I/O. Every block read is hashed and compared with its CID before a byte of it is
returned. Concurrent writers (threads or processes) serialise on the lock, which also keeps
`gc` from deleting the blocks of a put that has not pinned its root yet.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock

from flchain.storage.car import read_car, write_car
from flchain.storage.cid import CODEC_DAG_PB, CODEC_RAW, Cid, cid_from_bytes, parse_cid
from flchain.storage.errors import (
    BlockNotFoundError,
    ContentMismatchError,
    MalformedDagError,
    StorageError,
    TruncatedBlockError,
)
from flchain.storage.unixfs import FileDagBuilder, decode_dag_pb, iter_chunks

__all__ = ["DEFAULT_STORE_DIR", "GcReport", "LocalStore", "default_store_dir"]

DEFAULT_STORE_DIR = Path("~/.local/share/flchain/store")


def default_store_dir() -> Path:
    """The local store used when no directory is given: ``$XDG_DATA_HOME/flchain/store``.

    Falls back to ``~/.local/share/flchain/store``.
    """
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path("~/.local/share").expanduser()
    return base / "flchain" / "store"


class GcReport:
    """What a garbage collection removed."""

    def __init__(self, blocks: int, bytes_freed: int) -> None:
        self.blocks = blocks
        self.bytes_freed = bytes_freed

    def __repr__(self) -> str:
        return f"GcReport(blocks={self.blocks}, bytes_freed={self.bytes_freed})"


#: Blocks written (and flushed) concurrently. fdatasync calls issued together share one
#: journal commit (ext4/xfs group commit), which is where most of the put speed comes from.
_WRITER_THREADS = 8
#: Blocks handed to writers but not yet on disk; bounds memory at ~8 MiB whatever the file size.
_MAX_IN_FLIGHT = 32
_TMP_MARK = ".tmp-"  # temp files sit next to their block: ``<cid>.tmp-<random>``


def _write_durably(final: str, block: bytes, fsync: bool) -> None:
    """Write `block` to a temp file beside `final`, flush its data, then rename it into place.

    The rename comes after fdatasync, so after a crash `final` is either absent or whole.
    The temp file shares `final`'s directory so the rename stays within one directory (no
    filesystem-wide cross-directory rename lock) and creates spread over the fan-out dirs.
    """
    tmp = f"{final}{_TMP_MARK}{os.urandom(6).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        try:
            view = memoryview(block)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fdatasync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _BlockWriter:
    """Writes the blocks of one put through a small thread pool; `close` waits for all of them.

    The caller hashes the next chunk while earlier blocks are written (hashlib and os.write
    both release the GIL). Blocks already present with the right size are skipped: the store
    is content addressed and every read verifies, so an existing whole block is that block.
    """

    def __init__(self, store: LocalStore) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(_WRITER_THREADS, thread_name_prefix="flchain-store")
        self._in_flight: deque[Future[None]] = deque()
        self._seen: set[str] = set()

    def add(self, cid: Cid, block: bytes) -> None:
        name = str(cid.to_v1())
        if name in self._seen:
            return
        self._seen.add(name)
        final = self._store._shard_dir(name) / name
        try:
            if final.stat().st_size == len(block):
                return
        except FileNotFoundError:
            pass
        # A block of the wrong size (damaged by hand) is rewritten; os.replace swaps it whole.
        self._in_flight.append(
            self._pool.submit(_write_durably, str(final), block, self._store._fsync)
        )
        while len(self._in_flight) > _MAX_IN_FLIGHT:
            self._in_flight.popleft().result()

    def close(self) -> None:
        """Wait for every write; re-raise the first failure (after the others finished)."""
        try:
            while self._in_flight:
                self._in_flight.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._in_flight.clear()


def _as_cid(cid: str | Cid) -> Cid:
    return cid if isinstance(cid, Cid) else parse_cid(cid)


class LocalStore:
    """A verified, crash-safe block store in a directory (created if missing).

    @param path the store root.
    @param fsync flush every block to disk before it becomes visible (turn off only for
        throwaway stores, e.g. in benchmarks of the hashing path).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(path).expanduser()
        self._blocks = self.root / "blocks"
        self._pins = self.root / "pins"
        self._tmp = self.root / "tmp"
        for directory in (self._blocks, self._pins, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.root / ".lock"))
        self._fsync = fsync
        self._shards: set[str] = set()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # --- blocks -----------------------------------------------------------------------------

    def _block_path(self, cid: Cid) -> Path:
        name = str(cid.to_v1())
        return self._blocks / name[-2:] / name

    def _shard_dir(self, name: str) -> Path:
        """The fan-out directory of block `name` (created once per store object)."""
        shard = name[-2:]
        directory = self._blocks / shard
        if shard not in self._shards:
            directory.mkdir(exist_ok=True)
            self._shards.add(shard)
        return directory

    def put_block(self, cid: str | Cid, block: bytes) -> Cid:
        """Store one block under `cid` after checking that it hashes to it.

        @raises ContentMismatchError if it does not.
        """
        parsed = _as_cid(cid)
        if not parsed.verify(block):
            raise ContentMismatchError(f"block does not match its CID {parsed}")
        with self._lock:
            writer = _BlockWriter(self)
            try:
                writer.add(parsed, block)
            finally:
                writer.close()
        return parsed

    def read_block(self, cid: str | Cid, expected_size: int | None = None) -> bytes:
        """Read one block and verify it against its CID.

        @param expected_size the size its parent records, to tell truncation from corruption.
        @raises BlockNotFoundError, TruncatedBlockError, ContentMismatchError.
        """
        parsed = _as_cid(cid)
        try:
            block = self._block_path(parsed).read_bytes()
        except FileNotFoundError:
            raise BlockNotFoundError(f"block {parsed} is not in the local store") from None
        if parsed.verify(block):
            return block
        if expected_size is not None and len(block) < expected_size:
            raise TruncatedBlockError(
                f"block {parsed} is truncated: {len(block)} of {expected_size} bytes"
            )
        raise ContentMismatchError(f"block {parsed} is corrupt: its bytes do not match the CID")

    def has_block(self, cid: str | Cid) -> bool:
        return self._block_path(_as_cid(cid)).is_file()

    def iter_block_cids(self) -> Iterator[Cid]:
        """Every block CID present (unverified; names that do not parse are skipped)."""
        for path in self._blocks.glob("*/*"):
            with contextlib.suppress(StorageError):
                yield parse_cid(path.name)

    # --- files ------------------------------------------------------------------------------

    def put_stream(self, stream: BinaryIO, *, pin: bool = True) -> str:
        """Chunk, hash and store a file read from `stream`; return its CID (pinned by default).

        Memory stays bounded by one chunk plus the tree's fan-out, whatever the file size.
        """
        builder = FileDagBuilder()
        with self._lock:
            writer = _BlockWriter(self)
            try:
                for chunk in iter_chunks(stream):
                    for raw_cid, block in builder.add_chunk(chunk):  # each leaf hashed once
                        writer.add(cid_from_bytes(raw_cid), block)
                rest, root = builder.finish()
                for raw_cid, block in rest:
                    writer.add(cid_from_bytes(raw_cid), block)
            finally:
                writer.close()  # an exception mid-put: blocks written so far stay, unpinned
            root_cid = cid_from_bytes(root)
            if pin:
                self._pin_path(root_cid).touch()
        return str(root_cid)

    def put(self, data: bytes) -> str:
        """Store `data`; return its CID (as `ipfs add --cid-version=1 --raw-leaves`), pinned."""
        return self.put_stream(io.BytesIO(data))

    def _walk(self, cid: Cid, expected_size: int | None, *, data: bool) -> Iterator[bytes]:
        """Yield the file bytes under `cid` in order (or, with data=False, nothing but errors)."""
        block = self.read_block(cid, expected_size)
        if cid.codec == CODEC_RAW:
            if data:
                yield block
            return
        if cid.codec != CODEC_DAG_PB:
            raise MalformedDagError(f"block {cid} has codec {cid.codec:#x}, not a file")
        try:
            node = decode_dag_pb(block)
        except ValueError as exc:
            raise MalformedDagError(f"block {cid} is not a UnixFS file node: {exc}") from None
        if data and node.data:
            yield node.data
        for (raw_child, _tsize), size in zip(node.links, node.blocksizes, strict=True):
            child = cid_from_bytes(raw_child)
            expected = size if child.codec == CODEC_RAW else None
            yield from self._walk(child, expected, data=data)

    def iter_content(self, cid: str | Cid) -> Iterator[bytes]:
        """Stream the file `cid` chunk by chunk; every block is verified before it is yielded.

        @raises BlockNotFoundError, ContentMismatchError, TruncatedBlockError, MalformedDagError.
        """
        return self._walk(_as_cid(cid), None, data=True)

    def get(self, cid: str | Cid) -> bytes:
        """The whole file `cid`, verified block by block."""
        return b"".join(self.iter_content(cid))

    def has(self, cid: str | Cid) -> bool:
        """True when every block of `cid` is present (and the DAG nodes decode)."""
        try:
            return all(True for _ in self._iter_dag(_as_cid(cid), verify=False))
        except BlockNotFoundError:
            return False

    def _iter_dag(self, root: Cid, *, verify: bool) -> Iterator[tuple[Cid, bytes]]:
        """(cid, block) of the whole DAG, root first, depth first (CAR order)."""
        stack = [root]
        while stack:
            cid = stack.pop()
            if verify:
                block = self.read_block(cid)
            else:
                path = self._block_path(cid)
                if cid.codec == CODEC_RAW:
                    if not path.is_file():
                        raise BlockNotFoundError(f"block {cid} is not in the local store")
                    yield cid, b""
                    continue
                try:
                    block = path.read_bytes()
                except FileNotFoundError:
                    raise BlockNotFoundError(f"block {cid} is not in the local store") from None
            yield cid, block
            if cid.codec == CODEC_DAG_PB:
                try:
                    node = decode_dag_pb(block)
                except ValueError as exc:
                    raise MalformedDagError(f"block {cid} is not a UnixFS node: {exc}") from None
                stack.extend(cid_from_bytes(c) for c, _ in reversed(node.links))

    # --- pins and gc ------------------------------------------------------------------------

    def _pin_path(self, cid: Cid) -> Path:
        return self._pins / str(cid.to_v1())

    def pin(self, cid: str | Cid) -> None:
        """Pin `cid` (recursively) so `gc` keeps it. @raises BlockNotFoundError if incomplete."""
        parsed = _as_cid(cid)
        with self._lock:
            for _ in self._iter_dag(parsed, verify=False):
                pass
            self._pin_path(parsed).touch()

    def unpin(self, cid: str | Cid) -> None:
        """Remove the pin on `cid` (no error if it was not pinned)."""
        with self._lock, contextlib.suppress(FileNotFoundError):
            self._pin_path(_as_cid(cid)).unlink()

    def pins(self) -> list[str]:
        """Pinned roots, sorted."""
        return sorted(p.name for p in self._pins.iterdir())

    def gc(self) -> GcReport:
        """Delete every block not reachable from a pin, and stale temporary files."""
        with self._lock:
            keep: set[Cid] = set()
            for name in self.pins():
                with contextlib.suppress(BlockNotFoundError, MalformedDagError):
                    keep.update(c for c, _ in self._iter_dag(parse_cid(name), verify=False))
            removed = freed = 0
            for path in list(self._blocks.glob("*/*")):
                if _TMP_MARK in path.name:  # left by a crashed writer (writers hold the lock)
                    with contextlib.suppress(OSError):
                        freed += path.stat().st_size
                        path.unlink()
                    continue
                try:
                    cid: Cid | None = parse_cid(path.name)
                except StorageError:
                    cid = None
                if cid is None or cid not in keep:
                    freed += path.stat().st_size
                    path.unlink()
                    removed += 1
            for stale in self._tmp.iterdir():
                with contextlib.suppress(OSError):
                    stale.unlink()
        return GcReport(removed, freed)

    # --- CAR --------------------------------------------------------------------------------

    def export_car(self, cid: str | Cid, out: BinaryIO) -> int:
        """Write the DAG of `cid` as CARv1 to `out` (blocks verified); return bytes written."""
        root = _as_cid(cid)
        blocks = ((c.to_bytes(), b) for c, b in self._iter_dag(root, verify=True))
        return write_car(out, [root], blocks)

    def import_car(self, stream: BinaryIO, *, pin: bool = True) -> list[str]:
        """Import every block of a CARv1 stream (each verified); pin its roots if complete.

        @raises CarFormatError, ContentMismatchError (a block that does not match its CID),
            BlockNotFoundError (a root whose DAG the CAR does not complete).
        """
        roots, sections = read_car(stream)
        with self._lock:
            writer = _BlockWriter(self)
            try:
                for cid, block in sections:
                    if not cid.verify(block):
                        raise ContentMismatchError(f"CAR block does not match its CID {cid}")
                    writer.add(cid, block)
            finally:
                writer.close()
        for root in roots:
            if pin:
                self.pin(root)
            elif not self.has(root):
                raise BlockNotFoundError(f"CAR does not contain the whole DAG of {root}")
        return [str(r) for r in roots]

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

import base64
import contextlib
import io
import os
import threading
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
from flchain.storage.unixfs import (
    CHUNK_SIZE,
    FileDagBuilder,
    decode_dag_pb,
    iter_chunks,
    read_file_block,
)

__all__ = ["GcReport", "LocalStore"]


class GcReport:
    """What a garbage collection removed."""

    def __init__(self, blocks: int, bytes_freed: int) -> None:
        self.blocks = blocks
        self.bytes_freed = bytes_freed

    def __repr__(self) -> str:
        return f"GcReport(blocks={self.blocks}, bytes_freed={self.bytes_freed})"


_FLUSH_EVERY = 16 * 1024 * 1024  # pack bytes between two background fdatasync calls
_TMP_MARK = ".tmp-"  # a file being written: ``<final name>.tmp-<random>``, never read
_INDEX_HEADER = "flchain-pack-index v1"
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path) -> None:
    """Make the names created in `directory` durable (data was flushed before)."""
    fd = os.open(directory, os.O_RDONLY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(final: str, data: bytes, fsync: bool) -> None:
    """Write `data` to a temp file beside `final`, flush it, then rename it into place.

    The rename comes after fdatasync, so after a crash `final` is either absent or whole.
    """
    tmp = f"{final}{_TMP_MARK}{os.urandom(6).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o644)
    try:
        try:
            _write_all(fd, data)
            if fsync:
                os.fdatasync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _parse_index(text: str, pack: str) -> list[tuple[str, tuple[str, int, int]]]:
    """(block name, (pack, offset, length)) of an index file; malformed lines are skipped
    (their blocks then read as missing, never as wrong bytes: every read is verified)."""
    lines = text.splitlines()
    if not lines or lines[0] != _INDEX_HEADER:
        return []
    out = []
    for line in lines[1:]:
        parts = line.split(" ")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            out.append((parts[0], (pack, int(parts[1]), int(parts[2]))))
    return out


class _PackWriter:
    """Appends blocks to one new pack file, then commits its index.

    Why packs: on the filesystems measured, creating an inode costs 0.05–2 ms and
    fdatasync of a fresh file a journal commit, so one file per 256 KiB block capped put
    at ~100 MB/s. A pack is one file written sequentially and flushed as it grows: every
    _FLUSH_EVERY bytes a background thread runs fdatasync while the caller hashes and
    writes on (writes stay in the caller's thread: handing 256 KiB buffers to a writer thread
    cost more in GIL hand-offs than it saved).

    Commit order: pack data fdatasync → directory fsync → index written to a temp file,
    fdatasync, renamed to ``<id>.idx`` → directory fsync. The index is the commit point: a
    pack without one is invisible (a crash mid-put) and `gc` deletes it.
    """

    def __init__(self, directory: Path, fsync: bool) -> None:
        self._dir = directory
        self._fsync = fsync
        self.pack = f"{os.urandom(8).hex()}.pack"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC
        self._fd = os.open(directory / self.pack, flags, 0o644)
        self._flusher: ThreadPoolExecutor | None = None
        self._flushing: Future[None] | None = None
        self.entries: list[tuple[str, tuple[str, int, int]]] = []
        self._offset = 0

    def add(self, name: str, block: bytes) -> None:
        self.entries.append((name, (self.pack, self._offset, len(block))))
        _write_all(self._fd, block)
        before, self._offset = self._offset, self._offset + len(block)
        if self._fsync and before // _FLUSH_EVERY != self._offset // _FLUSH_EVERY:
            self._flush_in_background()

    def _flush_in_background(self) -> None:
        if self._flushing is not None:
            self._flushing.result()  # at most one flush in flight
        if self._flusher is None:
            self._flusher = ThreadPoolExecutor(1, thread_name_prefix="flchain-pack-flush")
        self._flushing = self._flusher.submit(os.fdatasync, self._fd)

    def _finish_writes(self) -> None:
        try:
            if self._flushing is not None:
                self._flushing.result()
            if self._fsync:
                os.fdatasync(self._fd)
        finally:
            if self._flusher is not None:
                self._flusher.shutdown(wait=True)
            self._flushing = None
            os.close(self._fd)

    def commit(self) -> str:
        """Make the pack durable and visible; return its index file name."""
        try:
            self._finish_writes()
            if self._fsync:
                _fsync_dir(self._dir)
            index = self.pack.removesuffix(".pack") + ".idx"
            lines = [_INDEX_HEADER] + [f"{n} {o} {ln}" for n, (_p, o, ln) in self.entries]
            _write_durably(str(self._dir / index), ("\n".join(lines) + "\n").encode(), self._fsync)
            if self._fsync:
                _fsync_dir(self._dir)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(self._dir / self.pack)
            raise
        return index

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._finish_writes()
        with contextlib.suppress(OSError):
            os.unlink(self._dir / self.pack)


def _cid_string(raw: bytes) -> str:
    """The base32 string of a binary CIDv1 the DAG builder made (same as ``str(Cid)``)."""
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def _reused_chunks(stream: BinaryIO) -> Iterator[bytes]:
    """`iter_chunks` (same boundaries) into one reused buffer when the stream has readinto.

    Each chunk is only valid until the next one is read; `_BlockWriter` writes it at once
    or copies it. Saves a fresh 256 KiB allocation (and its page faults) per chunk.
    """
    # Only types whose readinto is known to work: a RawIOBase subclass that defines read()
    # alone inherits a readinto that raises NotImplementedError.
    if not isinstance(stream, io.BufferedReader | io.FileIO | io.BytesIO):
        yield from iter_chunks(stream)
        return
    readinto = stream.readinto
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    while True:
        have = 0
        while have < CHUNK_SIZE:
            got = readinto(view[have:])
            if not got:
                break
            have += got
        if not have:
            return
        yield view[:have]  # type: ignore[misc]  # a buffer, used like bytes until next read
        if have < CHUNK_SIZE:
            return


class _BlockWriter:
    """Collects the blocks of one put or import (the caller holds the store lock).

    One new block becomes a block file (``blocks/<xy>/<cid>``); two or more go into one pack.
    Blocks already in the store are skipped: it is content addressed and every read verifies,
    so a present block of the right size is that block (a short one is written again).
    """

    def __init__(self, store: LocalStore) -> None:
        self._store = store
        store._refresh_index()  # under the lock: nobody else adds blocks meanwhile
        self._seen: set[str] = set()
        self._first: tuple[str, bytes] | None = None
        self._pack: _PackWriter | None = None

    def add(self, cid: Cid, block: bytes) -> None:
        self.add_named(str(cid.to_v1()), block)

    def add_named(self, name: str, block: bytes) -> None:
        """Add a block under its CIDv1 string `name` (the caller computed it)."""
        if name in self._seen or self._store._present(name, len(block)):
            return
        self._seen.add(name)
        if self._pack is None:
            if self._first is None:
                self._first = (name, bytes(block))  # the caller may reuse `block`'s buffer
                return
            self._pack = _PackWriter(self._store._packs, self._store._fsync)
            self._pack.add(*self._first)
            self._first = None
        self._pack.add(name, block)

    def commit(self) -> None:
        if self._pack is not None:
            index = self._pack.commit()
            self._store._adopt_index(index, self._pack.entries)
        elif self._first is not None:
            name, block = self._first
            final = self._store._blocks / name[-2:] / name
            final.parent.mkdir(exist_ok=True)
            _write_durably(str(final), block, self._store._fsync)

    def abort(self) -> None:
        if self._pack is not None:
            self._pack.abort()


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
        self._packs = self.root / "packs"
        self._blocks_dir = str(self._blocks)
        self._tmp = self.root / "tmp"
        for directory in (self._blocks, self._packs, self._pins, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.root / ".lock"))
        self._fsync = fsync
        # block name -> (pack file, offset, length), from every committed index file
        self._index: dict[str, tuple[str, int, int]] = {}
        self._index_files: dict[str, list[str]] = {}  # index file -> block names it lists
        self._index_lock = threading.Lock()  # readers in several threads may refresh at once

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # --- blocks -----------------------------------------------------------------------------

    def _block_path(self, cid: Cid) -> Path:
        name = str(cid.to_v1())
        return self._blocks / name[-2:] / name

    def _refresh_index(self) -> None:
        """Load index files committed since the last look; forget those gc removed."""
        try:
            present = {n for n in os.listdir(self._packs) if n.endswith(".idx")}
        except FileNotFoundError:
            present = set()
        with self._index_lock:
            self._sync_index(present)

    def _sync_index(self, present: set[str]) -> None:
        for gone in set(self._index_files) - present:
            pack = gone.removesuffix(".idx") + ".pack"
            for name in self._index_files.pop(gone):
                if self._index.get(name, ("",))[0] == pack:
                    del self._index[name]
        for new in sorted(present - set(self._index_files)):
            try:
                text = (self._packs / new).read_text(encoding="ascii", errors="replace")
            except FileNotFoundError:  # removed by gc in another process meanwhile
                continue
            self._adopt(new, _parse_index(text, new.removesuffix(".idx") + ".pack"))

    def _adopt_index(self, index: str, entries: list[tuple[str, tuple[str, int, int]]]) -> None:
        with self._index_lock:
            self._adopt(index, entries)

    def _adopt(self, index: str, entries: list[tuple[str, tuple[str, int, int]]]) -> None:
        self._index_files[index] = [name for name, _ in entries]
        self._index.update(entries)

    def _present(self, name: str, size: int) -> bool:
        """True when block `name` is stored whole (by its recorded or on-disk size)."""
        where = self._index.get(name)
        if where is not None and where[2] == size:
            return True
        try:  # plain strings: this runs once per block of every put
            return os.stat(f"{self._blocks_dir}/{name[-2:]}/{name}").st_size == size
        except FileNotFoundError:
            return False

    def _block_location(self, cid: Cid) -> tuple[Path, int, int | None]:
        """(file, offset, recorded length or None) holding `cid`; BlockNotFoundError if none."""
        name = str(cid.to_v1())
        where = self._index.get(name)
        if where is None:
            path = self._blocks / name[-2:] / name
            if path.is_file():
                return path, 0, None
            self._refresh_index()
            where = self._index.get(name)
            if where is None:
                raise BlockNotFoundError(f"block {cid} is not in the local store")
        pack, offset, length = where
        return self._packs / pack, offset, length

    def _load(self, cid: Cid) -> tuple[bytes, int | None]:
        """The stored bytes of `cid` (unverified) and the length its index records."""
        for _attempt in range(2):
            path, offset, length = self._block_location(cid)
            try:
                if length is None:
                    return path.read_bytes(), None
                with path.open("rb") as handle:
                    return os.pread(handle.fileno(), length, offset), length
            except FileNotFoundError:  # gc (maybe in another process) repacked it: look again
                self._refresh_index()
        raise BlockNotFoundError(f"block {cid} is not in the local store")

    def put_block(self, cid: str | Cid, block: bytes) -> Cid:
        """Store one block under `cid` after checking that it hashes to it.

        @raises ContentMismatchError if it does not.
        """
        parsed = _as_cid(cid)
        if not parsed.verify(block):
            raise ContentMismatchError(f"block does not match its CID {parsed}")
        with self._lock:
            writer = _BlockWriter(self)
            writer.add(parsed, block)
            writer.commit()
        return parsed

    def read_block(self, cid: str | Cid, expected_size: int | None = None) -> bytes:
        """Read one block and verify it against its CID.

        @param expected_size the size its parent records, to tell truncation from corruption.
        @raises BlockNotFoundError, TruncatedBlockError, ContentMismatchError.
        """
        parsed = _as_cid(cid)
        block, recorded = self._load(parsed)
        if parsed.verify(block):
            return block
        expected_size = expected_size if expected_size is not None else recorded
        if expected_size is not None and len(block) < expected_size:
            raise TruncatedBlockError(
                f"block {parsed} is truncated: {len(block)} of {expected_size} bytes"
            )
        raise ContentMismatchError(f"block {parsed} is corrupt: its bytes do not match the CID")

    def has_block(self, cid: str | Cid) -> bool:
        try:
            self._block_location(_as_cid(cid))
        except BlockNotFoundError:
            return False
        return True

    def iter_block_cids(self) -> Iterator[Cid]:
        """Every block CID present (unverified; names that do not parse are skipped)."""
        self._refresh_index()
        names = set(self._index)
        names.update(p.name for p in self._blocks.glob("*/*") if _TMP_MARK not in p.name)
        for name in sorted(names):
            with contextlib.suppress(StorageError):
                yield parse_cid(name)

    # --- files ------------------------------------------------------------------------------

    def put_stream(self, stream: BinaryIO, *, pin: bool = True) -> str:
        """Chunk, hash and store a file read from `stream`; return its CID (pinned by default).

        Memory stays bounded by one chunk plus the tree's fan-out, whatever the file size.
        """
        builder = FileDagBuilder()
        with self._lock:
            writer = _BlockWriter(self)
            try:
                for chunk in _reused_chunks(stream):
                    for raw_cid, block in builder.add_chunk(chunk):  # each leaf hashed once
                        writer.add_named(_cid_string(raw_cid), block)
                rest, root = builder.finish()
                for raw_cid, block in rest:
                    writer.add_named(_cid_string(raw_cid), block)
            except BaseException:
                writer.abort()  # an exception mid-put: its pack is deleted, nothing visible
                raise
            writer.commit()
            root_cid = cid_from_bytes(root)
            if pin:
                self._pin_path(root_cid).touch()
        return str(root_cid)

    def put(self, data: bytes) -> str:
        """Store `data`; return its CID (as `ipfs add --cid-version=1 --raw-leaves`), pinned."""
        return self.put_stream(io.BytesIO(data))

    def _walk(self, cid: Cid, expected_size: int | None, *, data: bool) -> Iterator[bytes]:
        """Yield the file bytes under `cid` in order (or, with data=False, nothing but errors)."""
        own, children = read_file_block(cid, self.read_block(cid, expected_size))
        if data and own:
            yield own
        for raw_child, size in children:
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
            elif cid.codec == CODEC_RAW:
                self._block_location(cid)  # raises BlockNotFoundError
                yield cid, b""
                continue
            else:
                block, _length = self._load(cid)
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
            packed = self._gc_packs({str(c.to_v1()) for c in keep})
        return GcReport(removed + packed.blocks, freed + packed.bytes_freed)

    def _gc_packs(self, keep: set[str]) -> GcReport:
        """Drop packs with no live block, repack those with some, delete uncommitted packs.

        A repack writes and commits the live blocks (verified) as a new pack before the old
        index and pack are deleted, so a crash in between leaves duplicates, never a loss.
        """
        self._refresh_index()
        removed = freed = 0
        for index, names in sorted(self._index_files.items()):
            pack = index.removesuffix(".idx") + ".pack"
            entries = [(n, self._index[n]) for n in names if self._index.get(n, ("",))[0] == pack]
            live = [n for n, _ in entries if n in keep]
            if len(live) == len(names):
                continue
            if live:
                writer = _PackWriter(self._packs, self._fsync)
                try:
                    for name in live:
                        with contextlib.suppress(StorageError):  # unreadable: nothing to keep
                            writer.add(name, self.read_block(name))
                except BaseException:
                    writer.abort()
                    raise
                if writer.entries:
                    self._adopt_index(writer.commit(), writer.entries)
                else:
                    writer.abort()
            removed += len(names) - len(live)
            freed += sum(where[2] for n, where in entries if n not in keep)
            (self._packs / index).unlink()
            (self._packs / pack).unlink(missing_ok=True)
            self._refresh_index()
        committed = {i.removesuffix(".idx") for i in self._index_files}
        for path in list(self._packs.iterdir()):
            uncommitted = path.suffix == ".pack" and path.stem not in committed
            if uncommitted or _TMP_MARK in path.name:  # a crashed put (writers hold the lock)
                with contextlib.suppress(OSError):
                    freed += path.stat().st_size
                    path.unlink()
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
            except BaseException:
                writer.abort()
                raise
            writer.commit()
        for root in roots:
            if pin:
                self.pin(root)
            elif not self.has(root):
                raise BlockNotFoundError(f"CAR does not contain the whole DAG of {root}")
        return [str(r) for r in roots]

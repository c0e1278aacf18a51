"""`LocalStore`: the embedded content store, a folder of blocks keyed by CID.

Layout under the store root::

    blocks/<xy>/<cid>   one file per block (xy = the CID's last two characters)
    pins/<cid>          an empty file per pinned root (pins are recursive)
    tmp/                blocks being written
    .lock               filelock taken by writers and by gc

Crash safety: a block is written to ``tmp/``, flushed to disk (fsync, or one syncfs per batch
of up to 256 blocks), then renamed into place, so a reader sees either no block or the whole
block, never a torn one. Every block read is hashed and
compared with its CID before a byte of it is returned. Concurrent writers (threads or
processes) serialise on the lock, which also keeps `gc` from deleting the blocks of a put that
has not pinned its root yet.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import tempfile
from collections.abc import Iterator
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


_BATCH_BLOCKS = 256  # 64 MiB of leaves per durability flush


def _syncfs(directory: Path) -> bool:
    """Flush the filesystem holding `directory` (Linux syncfs); False where unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(directory, os.O_RDONLY)
    try:
        return int(syncfs(fd)) == 0
    finally:
        os.close(fd)


def _flush_files(paths: list[str], directory: Path) -> None:
    if len(paths) > 1 and _syncfs(directory):
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # --- blocks -----------------------------------------------------------------------------

    def _block_path(self, cid: Cid) -> Path:
        name = str(cid.to_v1())
        return self._blocks / name[-2:] / name

    def _stage_block(self, cid: Cid, block: bytes, staged: list[tuple[str, Path]]) -> None:
        """Write `block` to a temp file (not yet visible); `_publish` makes it durable + visible."""
        path = self._block_path(cid)
        if path.exists() or any(final == path for _, final in staged):
            return
        fd, tmp = tempfile.mkstemp(dir=self._tmp, prefix=path.name[-16:] + ".")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(block)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        staged.append((tmp, path))

    def _publish(self, staged: list[tuple[str, Path]]) -> None:
        """Flush staged temp files to disk, then rename them into place.

        One filesystem-wide flush (syncfs) per batch instead of an fsync per 256 KiB block:
        same guarantee (data is durable before its name appears), ~10x the throughput.
        """
        if not staged:
            return
        if self._fsync:
            _flush_files([tmp for tmp, _ in staged], self._tmp)
        for tmp, final in staged:
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
        staged.clear()

    def _write_block(self, cid: Cid, block: bytes) -> None:
        staged: list[tuple[str, Path]] = []
        self._stage_block(cid, block, staged)
        self._publish(staged)

    def put_block(self, cid: str | Cid, block: bytes) -> Cid:
        """Store one block under `cid` after checking that it hashes to it.

        @raises ContentMismatchError if it does not.
        """
        parsed = _as_cid(cid)
        if not parsed.verify(block):
            raise ContentMismatchError(f"block does not match its CID {parsed}")
        with self._lock:
            self._write_block(parsed, block)
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
            staged: list[tuple[str, Path]] = []
            try:
                for chunk in iter_chunks(stream):
                    for raw_cid, block in builder.add_chunk(chunk):
                        self._stage_block(cid_from_bytes(raw_cid), block, staged)
                    if len(staged) >= _BATCH_BLOCKS:
                        self._publish(staged)
                rest, root = builder.finish()
                for raw_cid, block in rest:
                    self._stage_block(cid_from_bytes(raw_cid), block, staged)
                self._publish(staged)
            finally:
                for tmp, _ in staged:  # an exception mid-put: drop what was never published
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
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
        for cid, block in sections:
            self.put_block(cid, block)
        for root in roots:
            if pin:
                self.pin(root)
            elif not self.has(root):
                raise BlockNotFoundError(f"CAR does not contain the whole DAG of {root}")
        return [str(r) for r in roots]

"""Each bad input gets its own clear error: corrupt/truncated/missing blocks, dead or lying daemons."""

from __future__ import annotations

import http.server
import io
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flchain.devnet.ipfsd import free_port
from flchain.storage import IpfsClient, LocalStore, cid_for_bytes, parse_cid
from flchain.storage.cid import Cid, cid_from_bytes
from flchain.storage.errors import (
    BlockNotFoundError,
    CidDisagreementError,
    ContentMismatchError,
    IpfsProtocolError,
    IpfsUnavailableError,
    TruncatedBlockError,
)
from flchain.storage.unixfs import CHUNK_SIZE, decode_dag_pb

from .conftest import pseudo_random_bytes

DATA = pseudo_random_bytes(3 * CHUNK_SIZE + 100, seed=b"faults")


def _leaf(store: LocalStore, cid: str, index: int) -> Cid:
    return cid_from_bytes(decode_dag_pb(store.read_block(cid)).links[index][0])


def _damage(store: LocalStore, cid: Cid, edit: Callable[[bytearray], bytearray]) -> None:
    """Rewrite the stored bytes of one block in place (in its pack or its own file)."""
    path, offset, length = store._block_location(cid)
    raw = bytearray(path.read_bytes())
    end = offset + (length if length is not None else len(raw) - offset)
    path.write_bytes(bytes(raw[:offset] + edit(raw[offset:end]) + raw[end:]))


def _flip(at: int) -> Callable[[bytearray], bytearray]:
    def edit(block: bytearray) -> bytearray:
        block[at] ^= 0x01
        return block

    return edit


def test_multi_block_put_is_one_pack(local_store: LocalStore) -> None:
    cid = local_store.put(DATA)
    assert len(list((local_store.root / "packs").glob("*.pack"))) == 1
    assert len(list((local_store.root / "packs").glob("*.idx"))) == 1
    assert not list((local_store.root / "blocks").glob("*/*"))
    assert len(list(local_store.iter_block_cids())) == 5
    assert local_store.get(cid) == DATA


def test_flipped_byte_is_content_mismatch(local_store: LocalStore) -> None:
    cid = local_store.put(DATA)
    _damage(local_store, _leaf(local_store, cid, 1), _flip(1000))
    with pytest.raises(ContentMismatchError, match="corrupt") as info:
        local_store.get(cid)
    assert not isinstance(info.value, TruncatedBlockError)


def test_flipped_byte_in_single_block_file(local_store: LocalStore) -> None:
    cid = local_store.put(b"hello world\n")
    path = local_store._block_path(parse_cid(cid))
    path.write_bytes(b"hello World\n")
    with pytest.raises(ContentMismatchError):
        local_store.get(cid)


def test_truncated_leaf_is_truncated_block(local_store: LocalStore) -> None:
    cid = local_store.put(DATA)
    leaf = _leaf(local_store, cid, 2)
    path, offset, _length = local_store._block_location(leaf)
    with path.open("r+b") as handle:  # a torn pack: cut off 5000 bytes into leaf 2
        handle.truncate(offset + 5000)
    with pytest.raises(TruncatedBlockError, match="5000 of 262144"):
        local_store.read_block(leaf)
    with pytest.raises(TruncatedBlockError):
        local_store.get(cid)  # the root, written last, is cut off too


def test_truncated_single_block_file(local_store: LocalStore) -> None:
    data = pseudo_random_bytes(CHUNK_SIZE, seed=b"one")
    cid = local_store.put(data)
    local_store._block_path(parse_cid(cid)).write_bytes(data[:5000])
    with pytest.raises(ContentMismatchError):
        local_store.get(cid)
    assert local_store.put(data) == cid  # a re-put repairs the short block
    assert local_store.get(cid) == data


def test_missing_block_is_block_not_found(local_store: LocalStore) -> None:
    cid = local_store.put(DATA)
    path, _offset, _length = local_store._block_location(_leaf(local_store, cid, 0))
    path.unlink()
    assert not local_store.has(cid)
    with pytest.raises(BlockNotFoundError):
        local_store.get(cid)


def test_uncommitted_pack_is_invisible_and_collected(local_store: LocalStore) -> None:
    # A crash after writing pack data but before its index was committed.
    cid = local_store.put(DATA)
    packs = local_store.root / "packs"
    (index,) = packs.glob("*.idx")
    index.rename(packs / ("crashed.idx" + ".tmp-0123"))
    fresh = LocalStore(local_store.root)
    assert not fresh.has(cid)
    assert fresh.gc().bytes_freed > len(DATA)
    assert not any(packs.iterdir())
    assert fresh.put(DATA) == cid and fresh.get(cid) == DATA


def test_gc_repacks_a_pack_with_live_and_dead_blocks(tmp_path: Path) -> None:
    # A CAR import of two files lands in one pack; unpin one, gc keeps only the other's blocks.
    src = LocalStore(tmp_path / "src")
    a, b = DATA, pseudo_random_bytes(2 * CHUNK_SIZE + 1, seed=b"other")
    cid_a, cid_b = src.put(a), src.put(b)
    from flchain.storage.car import write_car

    blocks = [
        (c.to_bytes(), blk)
        for root in (cid_a, cid_b)
        for c, blk in src._iter_dag(parse_cid(root), verify=True)
    ]
    both = io.BytesIO()
    write_car(both, [parse_cid(cid_a), parse_cid(cid_b)], iter(blocks))
    both.seek(0)
    dst = LocalStore(tmp_path / "dst")
    assert dst.import_car(both) == [cid_a, cid_b]
    assert len(list((dst.root / "packs").glob("*.pack"))) == 1
    dst.unpin(cid_b)
    report = dst.gc()
    assert report.blocks == 4  # b's root and three leaves
    assert dst.get(cid_a) == a and not dst.has(cid_b)
    assert len(list((dst.root / "packs").glob("*.pack"))) == 1
    assert LocalStore(dst.root).get(cid_a) == a  # a fresh reader finds the new pack


def test_put_block_refuses_wrong_content(local_store: LocalStore) -> None:
    with pytest.raises(ContentMismatchError):
        local_store.put_block(cid_for_bytes(b"a"), b"b")


def test_gc_removes_only_unpinned(local_store: LocalStore) -> None:
    kept = local_store.put(DATA)
    dropped = local_store.put_stream(
        io.BytesIO(pseudo_random_bytes(CHUNK_SIZE + 1, b"x")), pin=False
    )
    (local_store.root / "tmp" / "stale.partial").write_bytes(b"torn")
    report = local_store.gc()
    assert report.blocks == 3  # the dropped file's root and two leaves
    assert local_store.get(kept) == DATA
    assert not local_store.has(dropped)
    assert not any((local_store.root / "tmp").iterdir())
    local_store.unpin(kept)
    assert local_store.gc().blocks == 5
    assert not local_store.has(kept)


def test_interrupted_write_leaves_no_visible_block(local_store: LocalStore) -> None:
    # A crash between write and rename leaves only a temp file; the block stays absent.
    (local_store.root / "tmp" / "half.block").write_bytes(b"hello wor")
    assert not local_store.has(cid_for_bytes(b"hello world\n"))


_WRITER = """
import hashlib, sys
from flchain.storage import LocalStore
def data(n, seed):
    out = b"".join(hashlib.sha256(seed + i.to_bytes(8, "big")).digest() for i in range(n // 32 + 1))
    return out[:n]
store = LocalStore(sys.argv[1])
shared = data(2 * 262144 + 9, b"shared")
own = data(262144 + 5, sys.argv[2].encode())
print(store.put(shared), store.put(own), store.put(shared))
"""


def test_concurrent_writers_in_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared-store")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, path, f"p{i}"], stdout=subprocess.PIPE, text=True
        )
        for i in range(3)
    ]
    outputs = [proc.communicate(timeout=120)[0].split() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    store = LocalStore(path)
    for cids in outputs:
        assert len(cids) == 3
        for cid in cids:
            store.get(cid)  # verified read of every block
    assert len({cids[0] for cids in outputs}) == 1
    assert len({cids[1] for cids in outputs}) == 3


def test_put_stream_of_a_read_only_file_object(local_store: LocalStore) -> None:
    data = pseudo_random_bytes(2 * CHUNK_SIZE + 3, seed=b"trickle")

    class Trickle(io.RawIOBase):  # defines read() only; RawIOBase.readinto would raise
        def __init__(self) -> None:
            self.pos = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            part = data[self.pos : self.pos + min(n, 1000)]
            self.pos += len(part)
            return part

    assert local_store.put_stream(Trickle()) == cid_for_bytes(data)  # type: ignore[arg-type]
    assert local_store.get(cid_for_bytes(data)) == data


def test_threads_sharing_one_store(local_store: LocalStore) -> None:
    datas = [pseudo_random_bytes(CHUNK_SIZE * 2 + i, seed=b"t%d" % i) for i in range(6)]
    first = local_store.put(datas[0])
    errors: list[BaseException] = []

    def work(data: bytes) -> None:
        try:
            cid = local_store.put(data)
            for _ in range(3):
                assert local_store.get(cid) == data
                assert local_store.get(first) == datas[0]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d,)) for d in datas[1:] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert [LocalStore(local_store.root).get(cid_for_bytes(d)) for d in datas] == datas


# --- daemon faults --------------------------------------------------------------------------


def test_daemon_down_is_unavailable_after_retries() -> None:
    client = IpfsClient(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01)
    with pytest.raises(IpfsUnavailableError, match=r"unreachable.*3 attempts"):
        client.version()
    with pytest.raises(IpfsUnavailableError):
        client.put(b"x")


class _FakeDaemon(http.server.BaseHTTPRequestHandler):
    """INJECTED FAULT: a local HTTP server that is not IPFS, started on purpose by the test."""

    body = b""
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        elif self.headers.get("Transfer-Encoding") == "chunked":
            while True:
                size = int(self.rfile.readline().strip(), 16)
                self.rfile.read(size + 2)
                if size == 0:
                    break
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_daemon() -> Iterator[tuple[str, type[_FakeDaemon]]]:
    handler = type("Handler", (_FakeDaemon,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_daemon_answering_garbage_is_protocol_error(
    fake_daemon: tuple[str, type[_FakeDaemon]],
) -> None:
    url, handler = fake_daemon
    handler.body = b"<html>not an ipfs api</html>"
    client = IpfsClient(url, retries=0)
    with pytest.raises(IpfsProtocolError, match="non-JSON"):
        client.version()
    handler.status = 502
    with pytest.raises(IpfsProtocolError, match="HTTP 502"):
        client.version()


def test_daemon_reporting_another_cid_is_disagreement(
    fake_daemon: tuple[str, type[_FakeDaemon]],
) -> None:
    url, handler = fake_daemon
    handler.body = json.dumps({"Name": "blob", "Hash": cid_for_bytes(b"other"), "Size": 5}).encode()
    with pytest.raises(CidDisagreementError, match="says"):
        IpfsClient(url, retries=0).put(b"hello world\n")


def test_daemon_serving_other_bytes_is_content_mismatch(
    fake_daemon: tuple[str, type[_FakeDaemon]],
) -> None:
    url, handler = fake_daemon
    handler.body = b"hello World\n"
    with pytest.raises(ContentMismatchError, match="do not match"):
        IpfsClient(url, retries=0).get(cid_for_bytes(b"hello world\n"))

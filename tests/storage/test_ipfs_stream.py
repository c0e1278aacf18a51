"""Verified streaming from a daemon (block by block) and a daemon that comes back mid-retry."""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from typer.testing import CliRunner

from flchain.cli.store import app
from flchain.devnet.ipfsd import IpfsDaemon, IpfsDaemonError, find_jsipfs_cli, free_port
from flchain.storage import IpfsClient, LocalStore, cid_for_bytes, parse_cid
from flchain.storage.errors import ContentMismatchError, IpfsProtocolError
from flchain.storage.ipfs import MAX_BLOCK_SIZE
from flchain.storage.unixfs import CHUNK_SIZE

from .conftest import pseudo_random_bytes

DATA = pseudo_random_bytes(3 * CHUNK_SIZE + 17, seed=b"stream")
runner = CliRunner()


# --- real daemon ------------------------------------------------------------------------------


@pytest.mark.ipfs
def test_iter_content_streams_verified_blocks_from_the_daemon(ipfs: IpfsClient) -> None:
    cid = ipfs.put(DATA)
    parts = list(ipfs.iter_content(cid))
    assert b"".join(parts) == DATA
    assert [len(p) for p in parts] == [CHUNK_SIZE] * 3 + [17]  # one leaf at a time


@pytest.mark.ipfs
def test_cli_cat_to_file_from_the_daemon(ipfs: IpfsClient, tmp_path: Path) -> None:
    cid = ipfs.put(DATA)
    out = tmp_path / "out.bin"
    result = runner.invoke(app, ["cat", cid, "-o", str(out), "--ipfs", ipfs.url])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == DATA
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


# --- injected faults: a local HTTP server that serves blocks, some of them wrong ----------------


class _BlockServer(http.server.BaseHTTPRequestHandler):
    """INJECTED FAULT: serves ``block/get`` from a dict (filled by the test, possibly with wrong
    bytes). Not IPFS; started on purpose on 127.0.0.1 to make a daemon lie."""

    blocks: ClassVar[dict[str, bytes]] = {}

    def do_POST(self) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        block = self.blocks.get(query.get("arg", [""])[0])
        if block is None:
            body, status = b'{"Message":"block not found","Code":0,"Type":"error"}', 500
        else:
            body, status = block, 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def block_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, bytes], str]]:
    """(url, the blocks it serves keyed by CID string, root CID of DATA)."""
    local = LocalStore(tmp_path / "src")
    root = local.put(DATA)
    blocks = {str(c): local.read_block(c) for c in local.iter_block_cids()}
    handler = type("Handler", (_BlockServer,), {"blocks": blocks})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", blocks, root
    finally:
        server.shutdown()
        server.server_close()


def _leaf(blocks: dict[str, bytes], index: int) -> str:
    leaves = sorted(
        (c for c, b in blocks.items() if parse_cid(c).codec == 0x55),
        key=lambda c: DATA.find(blocks[c]),
    )
    return leaves[index]


def test_stream_stops_at_the_first_block_that_does_not_match(
    block_server: tuple[str, dict[str, bytes], str],
) -> None:
    url, blocks, root = block_server
    bad = _leaf(blocks, 2)
    blocks[bad] = blocks[bad][:-1] + bytes([blocks[bad][-1] ^ 1])
    stream = IpfsClient(url, retries=0).iter_content(root)
    assert next(stream) == DATA[:CHUNK_SIZE]
    assert next(stream) == DATA[CHUNK_SIZE : 2 * CHUNK_SIZE]
    with pytest.raises(ContentMismatchError, match="does not match"):
        next(stream)


def test_a_lying_root_is_refused_before_any_byte(
    block_server: tuple[str, dict[str, bytes], str],
) -> None:
    url, blocks, root = block_server
    blocks[root] = blocks[_leaf(blocks, 0)]  # well-formed bytes, but not the root's
    with pytest.raises(ContentMismatchError):
        next(IpfsClient(url, retries=0).iter_content(root))


def test_an_oversized_block_is_refused(block_server: tuple[str, dict[str, bytes], str]) -> None:
    url, blocks, _root = block_server
    huge = cid_for_bytes(b"huge")
    blocks[huge] = b"\0" * (MAX_BLOCK_SIZE + 1)
    with pytest.raises(IpfsProtocolError, match="more than"):
        IpfsClient(url, retries=0).get_block(huge)


def test_cli_cat_leaves_no_file_when_a_block_is_corrupt(
    block_server: tuple[str, dict[str, bytes], str], tmp_path: Path
) -> None:
    url, blocks, root = block_server
    bad = _leaf(blocks, 3)
    blocks[bad] = blocks[bad][::-1]
    out = tmp_path / "out" / "w.bin"
    out.parent.mkdir()
    result = runner.invoke(app, ["cat", root, "-o", str(out), "--ipfs", url])
    assert result.exit_code != 0
    assert list(out.parent.iterdir()) == []  # neither w.bin nor w.bin.partial
    blocks[bad] = blocks[bad][::-1]
    assert runner.invoke(app, ["cat", root, "-o", str(out), "--ipfs", url]).exit_code == 0
    assert out.read_bytes() == DATA


# --- a real daemon that comes up while the client is retrying ---------------------------------


class _CountingTransport(httpx.HTTPTransport):
    """The real transport, instrumented: signals the first refused connection."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0
        self.first_refusal = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except httpx.ConnectError:
            self.refused += 1
            self.first_refusal.set()
            raise


@pytest.mark.ipfs
@pytest.mark.slow
def test_daemon_starting_mid_retry_gets_the_upload(tmp_path: Path) -> None:
    try:
        find_jsipfs_cli()
    except IpfsDaemonError as exc:
        pytest.skip(str(exc))
    port = free_port()
    transport = _CountingTransport()
    # backoff 0.5 s doubling, 9 retries: ~255 s of patience, far more than a daemon start
    client = IpfsClient(f"http://127.0.0.1:{port}", retries=9, backoff=0.5, transport=transport)
    outcome: dict[str, object] = {}

    def upload() -> None:
        try:
            outcome["cid"] = client.put(DATA)
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    worker = threading.Thread(target=upload)
    worker.start()
    daemon = IpfsDaemon(tmp_path / "repo", api_port=port)
    try:
        assert transport.first_refusal.wait(timeout=60), "client never tried the dead port"
        daemon.start(attempts=1)  # the client is now sleeping between attempts
        worker.join(timeout=300)
        assert not worker.is_alive()
        assert outcome.get("cid") == cid_for_bytes(DATA), outcome.get("error")
        assert transport.refused >= 1
        assert b"".join(client.iter_content(str(outcome["cid"]))) == DATA
    finally:
        client.close()
        daemon.stop()

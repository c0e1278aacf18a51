"""`IpfsClient`: a thin client for the Kubo HTTP RPC API (``/api/v0``), built on httpx.

Why not `ipfshttpclient`: its last release (0.7.0, 2021) refuses every daemon ≥ 0.8 in
``connect()``; see docs/storage.md. This client speaks the handful of endpoints flchain needs,
with timeouts, retries with exponential backoff on connection errors, and one rule: the CID a
daemon reports for content we add must equal the one computed locally, else
`CidDisagreementError` — a daemon with another chunker or layout would silently break every
commitment otherwise. Content read back with `get` is re-hashed locally before it is returned;
`iter_content` streams large files block by block, each block verified against its CID.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import httpx

from flchain.storage.car import read_car
from flchain.storage.cid import Cid, cid_from_bytes, parse_cid
from flchain.storage.errors import (
    BlockNotFoundError,
    CarFormatError,
    CidDisagreementError,
    ContentMismatchError,
    InvalidCidError,
    IpfsProtocolError,
    IpfsUnavailableError,
    StorageError,
)
from flchain.storage.unixfs import CHUNK_SIZE, FileDagBuilder, read_file_block

__all__ = ["ADD_PARAMS", "MAX_BLOCK_SIZE", "IpfsClient"]

#: Parameters that make `add` produce the protocol's CIDs (DESIGN §5). js-ipfs ignores
#: ``--raw-leaves`` implied by ``cid-version=1``, so it is always sent explicitly.
ADD_PARAMS: Mapping[str, str] = {
    "cid-version": "1",
    "raw-leaves": "true",
    "chunker": f"size-{CHUNK_SIZE}",
    "hash": "sha2-256",
    "cid-base": "base32",
    "pin": "true",
}

#: Largest block we accept from a daemon (Kubo refuses blocks over 2 MiB; ours are <= 256 KiB).
MAX_BLOCK_SIZE = 2 * 1024 * 1024

_RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


class _HashingReader:
    """A read-only file object that feeds what is read through the local DAG builder."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._builder = FileDagBuilder()
        self._pending = bytearray()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = bytes(self._stream.read(n if n and n > 0 else CHUNK_SIZE))
        self.feed(data)
        return data

    def feed(self, data: bytes) -> None:
        """Account for `data` as the next bytes of the file."""
        if not data:
            return
        self.size += len(data)
        self._pending += data
        while len(self._pending) >= CHUNK_SIZE:
            self._builder.add_chunk(bytes(self._pending[:CHUNK_SIZE]))
            del self._pending[:CHUNK_SIZE]

    def root(self) -> Cid:
        if self._pending:
            self._builder.add_chunk(bytes(self._pending))
            self._pending.clear()
        _blocks, root = self._builder.finish()
        return cid_from_bytes(root)


def _consumed(files: dict[str, Any]) -> bool:
    """True when an upload has started reading its stream (so it cannot be resent)."""
    for value in files.values():
        stream = value[1] if isinstance(value, tuple) else value
        if isinstance(stream, _HashingReader) and stream.size:
            return True
        if not isinstance(stream, bytes | _HashingReader):
            return True  # an arbitrary stream: assume it moved
    return False


#: Extra attempts of a request after a connection error (the `retry_attempts` setting's default).
RETRIES = 4


class IpfsClient:
    """Client for one IPFS daemon's HTTP RPC API (Kubo or js-ipfs).

    @param url API base URL, e.g. ``http://127.0.0.1:5001``.
    @param timeout seconds for a whole request without progress (connect/read/write).
    @param retries extra attempts after a connection error; waits backoff·2^k between them.
    @param block_timeout how long the daemon may look for a block before we call it missing.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60.0,
        retries: int = RETRIES,
        backoff: float = 0.2,
        block_timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.block_timeout = block_timeout
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v0/", timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"IpfsClient({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> IpfsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport --------------------------------------------------------------------------

    def _send(
        self, endpoint: str, params: Mapping[str, str], files: Any = None, *, stream: bool = False
    ) -> httpx.Response:
        """POST with retries on connection errors; map failures to storage errors."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                request = self._http.build_request("POST", endpoint, params=params, files=files)
                response = self._http.send(request, stream=stream)
            except _RETRYABLE as exc:
                last = exc
                if isinstance(files, dict) and _consumed(files):
                    break  # a half-sent upload stream cannot be replayed
                continue
            except httpx.TimeoutException:
                raise IpfsUnavailableError(
                    f"IPFS daemon at {self.url} timed out on {endpoint}"
                ) from None
            except httpx.HTTPError as exc:
                raise IpfsUnavailableError(
                    f"IPFS daemon at {self.url} failed on {endpoint}: {type(exc).__name__}"
                ) from None
            if response.status_code != 200:
                if stream:
                    response.read()
                self._raise_for_error(endpoint, params, response)
            return response
        reason = type(last).__name__ if last else "no attempt"
        raise IpfsUnavailableError(
            f"IPFS daemon at {self.url} is unreachable ({reason} after {attempt + 1} attempts)"
        )

    def _raise_for_error(
        self, endpoint: str, params: Mapping[str, str], response: httpx.Response
    ) -> None:
        try:
            message = str(response.json().get("Message", ""))
        except (ValueError, AttributeError):
            raise IpfsProtocolError(
                f"IPFS daemon at {self.url} answered {endpoint} with HTTP "
                f"{response.status_code} and no RPC error body"
            ) from None
        lowered = message.lower()
        arg = params.get("arg", "")
        if any(s in lowered for s in ("not found", "timed out", "timeout", "could not find")):
            raise BlockNotFoundError(f"{arg or 'content'} is not available from {self.url}")
        if "invalid" in lowered and arg:
            raise InvalidCidError(f"IPFS daemon rejected {arg!r}: {message}")
        raise IpfsProtocolError(f"IPFS daemon error on {endpoint}: {message[:200]}")

    def _objects(self, endpoint: str, params: Mapping[str, str], files: Any = None) -> list[Any]:
        """The JSON objects of a reply, one a line (the RPC API's newline-delimited JSON)."""
        response = self._send(endpoint, params, files)
        try:
            return [json.loads(ln) for ln in response.text.splitlines() if ln.strip()]
        except ValueError:
            raise IpfsProtocolError(
                f"IPFS daemon at {self.url} answered {endpoint} with non-JSON data"
            ) from None

    def _json(self, endpoint: str, params: Mapping[str, str], files: Any = None) -> Any:
        """The last JSON object of a reply (None for an empty one)."""
        objects = self._objects(endpoint, params, files)
        return objects[-1] if objects else None

    def _field(self, reply: Any, key: str, endpoint: str) -> Any:
        if not isinstance(reply, dict) or key not in reply:
            raise IpfsProtocolError(f"IPFS daemon reply to {endpoint} has no {key!r}")
        return reply[key]

    # --- API --------------------------------------------------------------------------------

    def version(self) -> str:
        """The daemon's version string."""
        return str(self._field(self._json("version", {}), "Version", "version"))

    def put_stream(self, stream: BinaryIO, *, pin: bool = True) -> str:
        """Add a file (streamed); return its CID after checking it equals the local computation.

        @raises CidDisagreementError if the daemon's CID differs from ours.
        """
        reader = _HashingReader(stream)
        params = dict(ADD_PARAMS, pin="true" if pin else "false")
        reply = self._json("add", params, files={"file": ("blob", reader)})
        try:
            theirs = parse_cid(str(self._field(reply, "Hash", "add")))
        except InvalidCidError:
            raise IpfsProtocolError(
                f"IPFS daemon at {self.url} returned an unparsable CID"
            ) from None
        ours = reader.root()
        if theirs.to_v1() != ours:
            raise CidDisagreementError(
                f"IPFS daemon at {self.url} says {theirs} but the content's CID is {ours} "
                "(is the daemon using another chunker or layout?)"
            )
        return str(ours)

    def put(self, data: bytes) -> str:
        """Add `data`; return its CID (checked against the local computation)."""
        return self.put_stream(io.BytesIO(data))

    def _cat(self, cid: Cid) -> Iterator[bytes]:
        """The file's bytes as the daemon's ``cat`` sends them (unverified: `get` verifies)."""
        params = {"arg": str(cid), "timeout": f"{self.block_timeout}s"}
        response = self._send("cat", params, stream=True)
        try:
            yield from response.iter_bytes(CHUNK_SIZE)
        except httpx.HTTPError as exc:
            raise IpfsUnavailableError(
                f"IPFS daemon at {self.url} broke off cat of {cid}: {type(exc).__name__}"
            ) from None
        finally:
            response.close()

    def get_block(self, cid: str | Cid) -> bytes:
        """One raw block (``block/get``), verified against its CID before it is returned.

        @raises ContentMismatchError if the daemon served other bytes, IpfsProtocolError if
            it sent more than any block can hold, BlockNotFoundError if it does not have it.
        """
        parsed = cid if isinstance(cid, Cid) else parse_cid(cid)
        params = {"arg": str(parsed), "timeout": f"{self.block_timeout}s"}
        response = self._send("block/get", params, stream=True)
        parts: list[bytes] = []
        size = 0
        try:
            for part in response.iter_bytes(CHUNK_SIZE):
                size += len(part)
                if size > MAX_BLOCK_SIZE:
                    raise IpfsProtocolError(
                        f"IPFS daemon at {self.url} sent more than {MAX_BLOCK_SIZE} bytes "
                        f"for block {parsed}"
                    )
                parts.append(part)
        except httpx.HTTPError as exc:
            raise IpfsUnavailableError(
                f"IPFS daemon at {self.url} broke off block/get of {parsed}: {type(exc).__name__}"
            ) from None
        finally:
            response.close()
        block = b"".join(parts)
        if not parsed.verify(block):
            raise ContentMismatchError(
                f"IPFS daemon at {self.url} served a block that does not match {parsed}"
            )
        return block

    def _walk_verified(self, root: Cid) -> Iterator[bytes]:
        stack = [root]  # at most the tree depth x 174 CIDs: memory is flat in the file size
        while stack:
            cid = stack.pop()
            own, children = read_file_block(cid, self.get_block(cid))
            if own:
                yield own
            stack.extend(cid_from_bytes(raw) for raw, _size in reversed(children))

    def iter_content(self, cid: str | Cid) -> Iterator[bytes]:
        """Stream the file block by block (``block/get``), each block verified before a byte
        of it is yielded; a parent is verified before its children are fetched, so every byte
        yielded is the content `cid` names. Memory: one block plus the tree's pending links.

        @raises ContentMismatchError, MalformedDagError, BlockNotFoundError, IpfsUnavailableError.
        """
        return self._walk_verified(cid if isinstance(cid, Cid) else parse_cid(cid))

    def get(self, cid: str | Cid) -> bytes:
        """Fetch the file `cid` and verify that its bytes hash back to `cid`.

        @raises ContentMismatchError if the daemon served other bytes.
        """
        parsed = cid if isinstance(cid, Cid) else parse_cid(cid)
        reader = _HashingReader(io.BytesIO())
        parts = []
        for part in self._cat(parsed):  # one request; the whole file is checked below
            parts.append(part)
            reader.feed(part)
        if reader.root() != parsed.to_v1():
            raise ContentMismatchError(
                f"IPFS daemon at {self.url} served bytes that do not match {parsed}"
            )
        return b"".join(parts)

    def has(self, cid: str | Cid) -> bool:
        """True when the daemon holds the root block of `cid` locally."""
        parsed = cid if isinstance(cid, Cid) else parse_cid(cid)
        params = {"arg": str(parsed), "offline": "true", "timeout": f"{self.block_timeout}s"}
        try:
            self._json("block/stat", params)
        except BlockNotFoundError:
            return False
        return True

    def pin(self, cid: str | Cid) -> None:
        """Pin `cid` recursively on the daemon."""
        parsed = cid if isinstance(cid, Cid) else parse_cid(cid)
        params = {"arg": str(parsed), "timeout": f"{self.block_timeout}s"}
        self._json("pin/add", params)

    def pins(self) -> list[str]:
        """Recursively pinned roots, as CIDv1 base32 strings, sorted."""
        out: set[str] = set()
        for item in self._objects("pin/ls", {"type": "recursive"}):
            keys = item.get("Keys", {}) if isinstance(item, dict) else {}
            names = list(keys) if isinstance(keys, dict) else []
            if isinstance(item, dict) and "Cid" in item:
                names.append(str(item["Cid"]))
            for name in names:
                try:
                    out.add(str(parse_cid(name).to_v1()))
                except StorageError:
                    continue
        return sorted(out)

    def export_car(self, cid: str | Cid, out: BinaryIO) -> int:
        """Write the DAG of `cid` as CARv1 (``dag/export``) to `out`; return bytes written.

        Each block is verified against its CID on the way through.
        """
        parsed = cid if isinstance(cid, Cid) else parse_cid(cid)
        params = {"arg": str(parsed), "timeout": f"{self.block_timeout}s"}
        response = self._send("dag/export", params, stream=True)
        try:
            data = response.read()
        except httpx.HTTPError as exc:
            raise IpfsUnavailableError(f"dag/export from {self.url} broke off: {exc}") from None
        finally:
            response.close()
        roots, sections = read_car(io.BytesIO(data))
        if [r.to_v1() for r in roots] != [parsed.to_v1()]:
            raise CarFormatError(f"IPFS daemon exported a CAR for other roots than {parsed}")
        for block_cid, block in sections:
            if not block_cid.verify(block):
                raise ContentMismatchError(f"IPFS daemon exported a corrupt block {block_cid}")
        return out.write(data)

    def import_car(self, stream: BinaryIO, *, pin: bool = True) -> list[str]:
        """Import a CARv1 (``dag/import``); return its roots (pinned by default)."""
        params = {"pin-roots": "true" if pin else "false"}
        roots: list[str] = []
        for item in self._objects("dag/import", params, files={"file": ("import.car", stream)}):
            root = item.get("Root") if isinstance(item, dict) else None
            if isinstance(root, dict):
                if root.get("PinErrorMsg"):
                    raise IpfsProtocolError(f"dag/import could not pin: {root['PinErrorMsg']}")
                cid_field = root.get("Cid", {})
                roots.append(str(parse_cid(str(cid_field.get("/", ""))).to_v1()))
        return roots

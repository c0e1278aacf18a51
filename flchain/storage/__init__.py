"""flchain.storage — content-addressed storage for model weights.

CIDs exactly as ``ipfs add --cid-version=1 --raw-leaves`` (`flchain.storage.cid`), canonical
safetensors (`flchain.storage.weights`), CARv1 (`flchain.storage.car`) and two stores with one
interface, `ContentStore`: the embedded `LocalStore` (a verified block folder) and
`IpfsClient` (a Kubo-compatible daemon over its HTTP RPC API). Which store a command uses is a
setting (`store`, `store_dir`, `ipfs_url`: `flchain.node.context.open_store`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Protocol, runtime_checkable

from flchain.storage.blockstore import LocalStore
from flchain.storage.cid import Cid, cid_for_bytes, cid_for_stream, cid_from_bytes, parse_cid
from flchain.storage.ipfs import IpfsClient

__all__ = [
    "Cid",
    "ContentStore",
    "IpfsClient",
    "LocalStore",
    "cid_for_bytes",
    "cid_for_stream",
    "cid_from_bytes",
    "parse_cid",
]


@runtime_checkable
class ContentStore(Protocol):
    """What the node, merge glue and audit need from storage; the same for both backends."""

    def put(self, data: bytes) -> str:
        """Store `data` (pinned); return its CIDv1 string."""
        ...

    def put_stream(self, stream: BinaryIO, *, pin: bool = True) -> str:
        """Store a file read in chunks; return its CID."""
        ...

    def get(self, cid: str | Cid) -> bytes:
        """Return the content of `cid`, verified against it (raises on any mismatch)."""
        ...

    def iter_content(self, cid: str | Cid) -> Iterator[bytes]:
        """Stream the content of `cid` in chunks, each block verified before it is yielded."""
        ...

    def has(self, cid: str | Cid) -> bool:
        """True when the content is available here."""
        ...

    def pin(self, cid: str | Cid) -> None:
        """Keep `cid` through garbage collection."""
        ...

    def export_car(self, cid: str | Cid, out: BinaryIO) -> int:
        """Write the DAG of `cid` as CARv1; return bytes written."""
        ...

    def import_car(self, stream: BinaryIO, *, pin: bool = True) -> list[str]:
        """Import a CARv1; return its roots."""
        ...

"""`flchain store …`: add, cat, pin, gc and CAR export/import, on the local store or a daemon.

The local store lives in ``$XDG_DATA_HOME/flchain/store`` (``~/.local/share/flchain/store``)
unless ``--store DIR`` is given; ``--ipfs URL`` talks to a Kubo-compatible daemon instead.
"""

# ruff: noqa: B008  (typer declares parameters through call defaults)
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from flchain.storage import ContentStore, LocalStore, default_store_dir, open_store
from flchain.storage.errors import StorageError

app = typer.Typer(help="Content-addressed storage: local blockstore or an IPFS daemon.")

_err = Console(stderr=True)
_PROGRESS_FROM = 8 * 1024 * 1024  # show a bar only for files large enough to wait on

IpfsOpt = typer.Option(None, "--ipfs", help="IPFS HTTP RPC API URL, e.g. http://127.0.0.1:5001")
StoreOpt = typer.Option(None, "--store", help="local store directory (default: see docs)")


def _store(ipfs: str | None, store: Path | None) -> ContentStore:
    return open_store(ipfs, str(store) if store else None)


class _ProgressReader:
    def __init__(self, stream: BinaryIO, progress: Progress | None, task: int | None) -> None:
        self._stream, self._progress, self._task = stream, progress, task

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=len(data))  # type: ignore[arg-type]
        return data


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=_err,
        transient=True,
    )


@app.command()
def add(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="file to add"),
    ipfs: str | None = IpfsOpt,
    store: Path | None = StoreOpt,
    pin: bool = typer.Option(True, help="pin the content (default)"),
) -> None:
    """Add a file; print its CID (as `ipfs add --cid-version=1 --raw-leaves`)."""
    target = _store(ipfs, store)
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size >= _PROGRESS_FROM and _err.is_terminal:
            with _progress() as progress:
                task = progress.add_task(f"adding {path.name}", total=size)
                cid = target.put_stream(_ProgressReader(handle, progress, task), pin=pin)  # type: ignore[arg-type]
        else:
            cid = target.put_stream(handle, pin=pin)
    typer.echo(cid)


@app.command()
def cat(
    cid: str = typer.Argument(..., help="CID to read"),
    output: Path | None = typer.Option(None, "-o", "--output", help="write to FILE, not stdout"),
    ipfs: str | None = IpfsOpt,
    store: Path | None = StoreOpt,
) -> None:
    """Write the content of CID to stdout or a file (verified against the CID)."""
    source = _store(ipfs, store)
    # Both stores stream block by block and verify each block (a parent before its children)
    # before yielding it, so no unverified byte is written; memory stays one block.
    chunks: Iterator[bytes] = source.iter_content(cid)
    if output is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    # Written beside the target and renamed only once the whole DAG verified: a failure
    # midway (corrupt block, daemon gone) leaves neither a half-written FILE nor the temp file.
    tmp = output.with_name(output.name + ".partial")
    try:
        with tmp.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)


@app.command("export-car")
def export_car(
    cid: str = typer.Argument(...),
    file: Path = typer.Argument(..., help="CAR file to write"),
    ipfs: str | None = IpfsOpt,
    store: Path | None = StoreOpt,
) -> None:
    """Export the DAG of CID as a CARv1 file (importable with `ipfs dag import`)."""
    source = _store(ipfs, store)
    tmp = file.with_name(file.name + ".partial")
    try:
        with tmp.open("wb") as handle:
            written = source.export_car(cid, handle)
        tmp.replace(file)
    finally:
        tmp.unlink(missing_ok=True)
    _err.print(f"wrote {written} bytes to {file}")


@app.command("import-car")
def import_car(
    file: Path = typer.Argument(..., exists=True, dir_okay=False),
    ipfs: str | None = IpfsOpt,
    store: Path | None = StoreOpt,
) -> None:
    """Import a CARv1 file (every block verified); print and pin its roots."""
    with file.open("rb") as handle:
        for root in _store(ipfs, store).import_car(handle):
            typer.echo(root)


@app.command()
def pin(
    cid: str = typer.Argument(...),
    ipfs: str | None = IpfsOpt,
    store: Path | None = StoreOpt,
    remove: bool = typer.Option(False, "--rm", help="unpin instead (local store only)"),
) -> None:
    """Pin CID so gc keeps it (or `--rm` to unpin in the local store)."""
    target = _store(ipfs, store)
    if remove:
        if not isinstance(target, LocalStore):
            raise StorageError("--rm is only supported on the local store")
        target.unpin(cid)
    else:
        target.pin(cid)


@app.command()
def gc(store: Path | None = StoreOpt) -> None:
    """Delete every block of the local store not reachable from a pin."""
    report = LocalStore(store or default_store_dir()).gc()
    typer.echo(f"removed {report.blocks} blocks, {report.bytes_freed} bytes")

"""`flchain store …`: init, add, cat, pin, gc and CAR export/import, on the local store or a daemon.

Which store is the node's: the same settings as every other command (flags > `FLCHAIN_*` >
`flchain.toml` > devnet profile > defaults), so the local store is `store_dir`
(``<data_dir>/store``, i.e. ``~/.flchain/store``) unless ``--store DIR`` is given, and
``--ipfs URL`` (or ``store = "ipfs"`` with ``ipfs_url``) talks to a Kubo-compatible daemon.
Commands that read refuse a folder that is not a store (`flchain store init` makes one);
`add` and `import-car` create the store in a missing or empty folder and say so.
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

from flchain.cli.config import settings_from_options
from flchain.config import LoadedSettings, check_local_store
from flchain.storage import ContentStore, IpfsClient, LocalStore
from flchain.storage.errors import StorageError

app = typer.Typer(help="Content-addressed storage: local blockstore or an IPFS daemon.")

_err = Console(stderr=True)
_PROGRESS_FROM = 8 * 1024 * 1024  # show a bar only for files large enough to wait on

IpfsOpt = typer.Option(
    None, "--ipfs", help="IPFS HTTP RPC API URL, e.g. http://127.0.0.1:5001 (setting ipfs_url)."
)
StoreOpt = typer.Option(
    None, "--store", help="Local store folder (setting store_dir, default ~/.flchain/store)."
)
ConfigOpt = typer.Option(None, "--config", help="TOML settings file.", show_default=False)
DataDirOpt = typer.Option(None, "--data-dir", help="flchain data folder.")


def _local_path(config: Path | None, data_dir: Path | None, store_dir: Path | None) -> Path:
    return settings_from_options(config, store_dir=store_dir, data_dir=data_dir).settings.store_dir


def _store(
    config: Path | None,
    data_dir: Path | None,
    ipfs_url: str | None,
    store_dir: Path | None,
    *,
    create: bool = False,
) -> ContentStore:
    loaded = settings_from_options(config, data_dir=data_dir)
    return open_settings_store(loaded, ipfs_url=ipfs_url, store_dir=store_dir, create=create)


def open_settings_store(
    loaded: LoadedSettings,
    *,
    ipfs_url: str | None = None,
    store_dir: Path | None = None,
    create: bool = False,
) -> ContentStore:
    """The store the settings name, with `--ipfs`/`--store` values on top: a daemon (`ipfs_url`,
    or store = "ipfs"), else the local folder, which must be a store unless the command may
    `create` one (in a missing or empty folder, said on stderr)."""
    if ipfs_url or store_dir:
        loaded = settings_from_options(
            loaded.config_file, ipfs_url=ipfs_url, store_dir=store_dir,
            data_dir=loaded.settings.data_dir, store="ipfs" if ipfs_url else "local",
        )  # fmt: skip
    settings = loaded.settings
    if settings.store == "ipfs":
        loaded.require("ipfs_url")
        return IpfsClient(settings.ipfs_url or "", retries=settings.retry_attempts)
    if check_local_store(settings.store_dir, create=create, flag="--store"):
        _err.print(f"created a new content store at {settings.store_dir}", highlight=False)
    return LocalStore(settings.store_dir)


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
    ipfs_url: str | None = IpfsOpt,
    store_dir: Path | None = StoreOpt,
    pin: bool = typer.Option(True, help="pin the content (default)"),
    config: Path | None = ConfigOpt,
    data_dir: Path | None = DataDirOpt,
) -> None:
    """Add a file; print its CID (as `ipfs add --cid-version=1 --raw-leaves`)."""
    target = _store(config, data_dir, ipfs_url, store_dir, create=True)
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
    ipfs_url: str | None = IpfsOpt,
    store_dir: Path | None = StoreOpt,
    config: Path | None = ConfigOpt,
    data_dir: Path | None = DataDirOpt,
) -> None:
    """Write the content of CID to stdout or a file (verified against the CID)."""
    source = _store(config, data_dir, ipfs_url, store_dir)
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
    ipfs_url: str | None = IpfsOpt,
    store_dir: Path | None = StoreOpt,
    config: Path | None = ConfigOpt,
    data_dir: Path | None = DataDirOpt,
) -> None:
    """Export the DAG of CID as a CARv1 file (importable with `ipfs dag import`)."""
    source = _store(config, data_dir, ipfs_url, store_dir)
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
    ipfs_url: str | None = IpfsOpt,
    store_dir: Path | None = StoreOpt,
    config: Path | None = ConfigOpt,
    data_dir: Path | None = DataDirOpt,
) -> None:
    """Import a CARv1 file (every block verified); print and pin its roots."""
    target = _store(config, data_dir, ipfs_url, store_dir, create=True)
    with file.open("rb") as handle:
        for root in target.import_car(handle):
            typer.echo(root)


@app.command()
def pin(
    cid: str = typer.Argument(...),
    ipfs_url: str | None = IpfsOpt,
    store_dir: Path | None = StoreOpt,
    remove: bool = typer.Option(False, "--rm", help="unpin instead (local store only)"),
    config: Path | None = ConfigOpt,
    data_dir: Path | None = DataDirOpt,
) -> None:
    """Pin CID so gc keeps it (or `--rm` to unpin in the local store)."""
    target = _store(config, data_dir, ipfs_url, store_dir)
    if remove:
        if not isinstance(target, LocalStore):
            raise StorageError("--rm is only supported on the local store")
        target.unpin(cid)
    else:
        target.pin(cid)


@app.command()
def gc(
    store_dir: Path | None = StoreOpt,
    config: Path | None = ConfigOpt,
    data_dir: Path | None = DataDirOpt,
) -> None:
    """Delete every block of the local store not reachable from a pin."""
    path = _local_path(config, data_dir, store_dir)
    check_local_store(path, flag="--store")
    report = LocalStore(path).gc()
    typer.echo(f"removed {report.blocks} blocks, {report.bytes_freed} bytes")


@app.command()
def init(
    store_dir: Path | None = StoreOpt,
    config: Path | None = ConfigOpt,
    data_dir: Path | None = DataDirOpt,
) -> None:
    """Create the local content store (nothing changes if it is one already)."""
    path = _local_path(config, data_dir, store_dir)
    if check_local_store(path, create=True, flag="--store"):
        LocalStore(path)
        typer.echo(f"created content store {path}")
    else:
        typer.echo(f"{path} is already a content store")

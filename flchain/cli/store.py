"""`flchain store …`: init, add, cat, pin, gc and CAR export/import, on the local store or a daemon.

Which store is the node's: the same settings as every other command (flags > `FLCHAIN_*` >
`flchain.toml` > devnet profile > defaults), so the local store is `store_dir`
(``<data_dir>/store``, i.e. ``~/.flchain/store``) unless ``--store DIR`` is given, and
``--ipfs URL`` (or ``store = "ipfs"`` with ``ipfs_url``) talks to a Kubo-compatible daemon.
Commands that read refuse a folder that is not a store (`flchain store init` makes one);
`add` and `import-car` create the store in a missing or empty folder and say so.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from flchain.cli.config import (
    ConfigFileOption,
    DataDirOption,
    OptionGroup,
    settings_from_options,
    with_options,
)
from flchain.config import check_local_store
from flchain.storage import ContentStore, IpfsClient, LocalStore
from flchain.storage.errors import StorageError

app = typer.Typer(help="Content-addressed storage: local blockstore or an IPFS daemon.")

_err = Console(stderr=True)
_PROGRESS_FROM = 8 * 1024 * 1024  # show a bar only for files large enough to wait on

#: Which local store: `--store DIR` over the settings.
LOCAL_STORE_OPTIONS: OptionGroup = {
    "store_dir": (
        Annotated[
            Path | None,
            typer.Option(
                "--store", help="Local store folder (setting store_dir, default ~/.flchain/store)."
            ),
        ],
        None,
    ),
    "config_file": (ConfigFileOption, None),
    "data_dir": (DataDirOption, None),
}
#: Which store: `--ipfs URL` (a daemon) or the local one.
STORE_OPTIONS: OptionGroup = {
    "ipfs_url": (
        Annotated[
            str | None,
            typer.Option(
                "--ipfs",
                help="IPFS HTTP RPC API URL, e.g. http://127.0.0.1:5001 (setting ipfs_url).",
            ),
        ],
        None,
    ),
    **LOCAL_STORE_OPTIONS,
}


def open_settings_store(
    *,
    create: bool = False,
    ipfs_url: str | None = None,
    store_dir: Path | None = None,
    **flags: Any,
) -> ContentStore:
    """The store the settings name, with `--ipfs`/`--store` on top: a daemon (`ipfs_url`, or
    store = "ipfs"), else the local folder, which must be a store unless the command may
    `create` one (in a missing or empty folder, said on stderr)."""
    chosen = ("ipfs" if ipfs_url else "local") if ipfs_url or store_dir else None
    loaded = settings_from_options(ipfs_url=ipfs_url, store_dir=store_dir, store=chosen, **flags)
    settings = loaded.settings
    if settings.store == "ipfs":
        loaded.require("ipfs_url")
        return IpfsClient(settings.ipfs_url or "", retries=settings.retry_attempts)
    if check_local_store(settings.store_dir, create=create, flag="--store"):
        _err.print(f"created a new content store at {settings.store_dir}", highlight=False)
    return LocalStore(settings.store_dir)


def _local_path(**flags: Any) -> Path:
    return settings_from_options(**flags).settings.store_dir


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
@with_options(STORE_OPTIONS)
def add(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="file to add")],
    pin: Annotated[bool, typer.Option(help="pin the content (default)")] = True,
    **flags: Any,
) -> None:
    """Add a file; print its CID (as `ipfs add --cid-version=1 --raw-leaves`)."""
    target = open_settings_store(create=True, **flags)
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
@with_options(STORE_OPTIONS)
def cat(
    cid: Annotated[str, typer.Argument(help="CID to read")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write to FILE, not stdout")
    ] = None,
    **flags: Any,
) -> None:
    """Write the content of CID to stdout or a file (verified against the CID)."""
    source = open_settings_store(**flags)
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
@with_options(STORE_OPTIONS)
def export_car(
    cid: Annotated[str, typer.Argument()],
    file: Annotated[Path, typer.Argument(help="CAR file to write")],
    **flags: Any,
) -> None:
    """Export the DAG of CID as a CARv1 file (importable with `ipfs dag import`)."""
    source = open_settings_store(**flags)
    tmp = file.with_name(file.name + ".partial")
    try:
        with tmp.open("wb") as handle:
            written = source.export_car(cid, handle)
        tmp.replace(file)
    finally:
        tmp.unlink(missing_ok=True)
    _err.print(f"wrote {written} bytes to {file}")


@app.command("import-car")
@with_options(STORE_OPTIONS)
def import_car(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)], **flags: Any
) -> None:
    """Import a CARv1 file (every block verified); print and pin its roots."""
    target = open_settings_store(create=True, **flags)
    with file.open("rb") as handle:
        for root in target.import_car(handle):
            typer.echo(root)


@app.command()
@with_options(STORE_OPTIONS)
def pin(
    cid: Annotated[str, typer.Argument()],
    remove: Annotated[bool, typer.Option("--rm", help="unpin instead (local store only)")] = False,
    **flags: Any,
) -> None:
    """Pin CID so gc keeps it (or `--rm` to unpin in the local store)."""
    target = open_settings_store(**flags)
    if remove:
        if not isinstance(target, LocalStore):
            raise StorageError("--rm is only supported on the local store")
        target.unpin(cid)
    else:
        target.pin(cid)


@app.command()
@with_options(LOCAL_STORE_OPTIONS)
def gc(**flags: Any) -> None:
    """Delete every block of the local store not reachable from a pin."""
    path = _local_path(**flags)
    check_local_store(path, flag="--store")
    report = LocalStore(path).gc()
    typer.echo(f"removed {report.blocks} blocks, {report.bytes_freed} bytes")


@app.command()
@with_options(LOCAL_STORE_OPTIONS)
def init(**flags: Any) -> None:
    """Create the local content store (nothing changes if it is one already)."""
    path = _local_path(**flags)
    if check_local_store(path, create=True, flag="--store"):
        LocalStore(path)
        typer.echo(f"created content store {path}")
    else:
        typer.echo(f"{path} is already a content store")

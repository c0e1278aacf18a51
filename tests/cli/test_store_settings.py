"""`flchain store` uses the node's store and the same settings as every other command, and a
path that is not a store is refused by everything that reads one.

Both failed before the fix: `store add` wrote to ~/.local/share/flchain/store whatever
flchain.toml or FLCHAIN_* said (the node reads <data_dir>/store), and a typo'd `--store` was
created empty, so `cat`/`audit` reported content missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from flchain.config import StoreNotFound, load_settings
from flchain.node.context import open_store
from flchain.storage import LocalStore, cid_for_bytes
from flchain.storage.errors import IpfsUnavailableError

from .conftest import Run, error_line

DATA = b"the genesis model, say\n"


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "model.bin"
    path.write_bytes(DATA)
    return path


def test_store_add_goes_where_the_node_reads(flchain: Run, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    added = flchain("store", "add", str(_file(tmp_path)), env={"FLCHAIN_DATA_DIR": str(data_dir)})
    assert added.returncode == 0, added.stderr
    cid = added.stdout.strip()
    assert cid == cid_for_bytes(DATA)
    node_store = load_settings({"data_dir": data_dir}).settings.store_dir
    assert node_store == data_dir / "store"
    assert LocalStore(node_store).get(cid) == DATA
    assert not (tmp_path / "home" / ".local" / "share" / "flchain").exists()
    assert "created a new content store" in added.stderr  # said, not silent


def test_store_reads_flchain_toml(flchain: Run, isolated_env: Path, tmp_path: Path) -> None:
    (isolated_env / "flchain.toml").write_text(f'store_dir = "{tmp_path / "from-toml"}"\n')
    added = flchain("store", "add", str(_file(tmp_path)))
    assert added.returncode == 0, added.stderr
    assert LocalStore(tmp_path / "from-toml").get(added.stdout.strip()) == DATA
    shown = flchain("store", "cat", added.stdout.strip())
    assert shown.returncode == 0 and shown.stdout.encode() == DATA


@pytest.mark.parametrize("command", ["cat", "export-car", "pin"])
def test_reading_a_typoed_store_is_refused(flchain: Run, tmp_path: Path, command: str) -> None:
    real = tmp_path / "store"
    cid = LocalStore(real).put(DATA)
    typo = tmp_path / "stroe"
    args = {"cat": [cid], "export-car": [cid, str(tmp_path / "x.car")], "pin": [cid]}[command]
    line = error_line(flchain("store", command, *args, "--store", str(typo)))
    assert f"content store {typo} does not exist" in line
    assert f"flchain store init --store {typo}" in line
    assert not typo.exists()  # nothing created


def test_gc_refuses_a_folder_that_is_not_a_store(flchain: Run, tmp_path: Path) -> None:
    other = tmp_path / "documents"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    line = error_line(flchain("store", "gc", "--store", str(other)))
    assert f"content store {other} is not a flchain content store" in line
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    # Writers do not take over a folder that holds something else either.
    line = error_line(flchain("store", "add", str(_file(tmp_path)), "--store", str(other)))
    assert "is not a flchain content store" in line


def test_store_init_creates_once(flchain: Run, tmp_path: Path) -> None:
    target = tmp_path / "new"
    made = flchain("store", "init", "--store", str(target))
    assert made.returncode == 0 and f"created content store {target}" in made.stdout
    again = flchain("store", "init", "--store", str(target))
    assert again.returncode == 0 and "already a content store" in again.stdout
    assert flchain("store", "gc", "--store", str(target)).returncode == 0


def test_audit_refuses_a_typoed_store(flchain: Run, tmp_path: Path) -> None:
    typo = tmp_path / "stroe"
    result = flchain(
        "audit", "--rpc", "http://127.0.0.1:9", "--contract", "0x" + "11" * 20,
        "--store", str(typo), "--round", "0",
    )  # fmt: skip
    assert f"content store {typo} does not exist" in error_line(result, code=2)
    assert not typo.exists()


def test_node_store_must_exist(tmp_path: Path) -> None:
    settings = load_settings({"data_dir": tmp_path / "data"}).settings
    with pytest.raises(StoreNotFound, match="flchain store init"):
        open_store(settings)
    assert not (tmp_path / "data").exists()


NO_DAEMON = "http://127.0.0.1:9"  # nothing listens: every request is a connection error


def test_retry_attempts_is_how_often_the_ipfs_daemon_is_tried(flchain: Run) -> None:
    """Failed before it was wired: the setting was read by nothing (always 4 retries)."""
    cid = cid_for_bytes(DATA)
    for attempts in (0, 2):
        env = {"FLCHAIN_RETRY_ATTEMPTS": str(attempts)}
        line = error_line(flchain("store", "cat", cid, "--ipfs", NO_DAEMON, env=env), code=2)
        assert f"after {attempts + 1} attempts" in line
    settings = load_settings({"store": "ipfs", "ipfs_url": NO_DAEMON, "retry_attempts": 1}).settings
    with pytest.raises(IpfsUnavailableError, match="after 2 attempts"):
        open_store(settings).get(cid)

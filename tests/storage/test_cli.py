"""`flchain store` end to end on a local store directory."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from flchain.cli.store import app
from flchain.storage import cid_for_bytes

from .conftest import pseudo_random_bytes

runner = CliRunner()


def test_add_cat_export_import_gc(tmp_path: Path) -> None:
    data = pseudo_random_bytes(300_000, seed=b"cli")
    src = tmp_path / "w.bin"
    src.write_bytes(data)
    store_a, store_b = str(tmp_path / "a"), str(tmp_path / "b")

    added = runner.invoke(app, ["add", str(src), "--store", store_a])
    assert added.exit_code == 0, added.output
    cid = added.stdout.strip()
    assert cid == cid_for_bytes(data)

    out = tmp_path / "out.bin"
    assert runner.invoke(app, ["cat", cid, "-o", str(out), "--store", store_a]).exit_code == 0
    assert out.read_bytes() == data

    car = tmp_path / "w.car"
    assert runner.invoke(app, ["export-car", cid, str(car), "--store", store_a]).exit_code == 0
    imported = runner.invoke(app, ["import-car", str(car), "--store", store_b])
    assert imported.exit_code == 0 and imported.stdout.strip() == cid

    assert runner.invoke(app, ["pin", cid, "--rm", "--store", store_b]).exit_code == 0
    collected = runner.invoke(app, ["gc", "--store", store_b])
    assert "removed 3 blocks" in collected.stdout
    missing = runner.invoke(app, ["cat", cid, "--store", store_b])
    assert missing.exit_code != 0

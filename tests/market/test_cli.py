"""`flchain market info|backtest|load-csv` through the real typer app and the console entry."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flchain.backtest import roi_bps
from flchain.cli import app
from flchain.errors import FlchainError
from flchain.market import OHLCV
from flchain.market.benchmark import SHIPPED_WINDOWS, shipped_window
from flchain.market.errors import MarketDataError, UnknownBenchmarkError
from flchain.market.loaders import load_btc_15min, load_btc_daily
from flchain.model import ModelConfig, ModelError, config_to_metadata, reference_positions, train
from flchain.storage.weights import encode_weights

runner = CliRunner()


def _field(output: str, name: str) -> str:
    [line] = [ln for ln in output.splitlines() if ln.split(" ", 1)[0] == name]
    return line.split()[1]


@pytest.fixture(scope="module")
def model(btc_train: OHLCV) -> tuple[dict[str, object], ModelConfig]:
    cfg = ModelConfig(epochs=1)
    return dict(train(None, cfg, btc_train, seed=3)), cfg


@pytest.fixture()
def weights_file(tmp_path: Path, model: tuple[dict[str, object], ModelConfig]) -> Path:
    tensors, cfg = model
    path = tmp_path / "model.safetensors"
    path.write_bytes(encode_weights(tensors, config_to_metadata(cfg)))  # type: ignore[arg-type]
    return path


def test_info_lists_datasets_reports_and_window_ids() -> None:
    result = runner.invoke(app, ["market", "info"])
    assert result.exit_code == 0, result.output
    for loaded in (load_btc_daily(), load_btc_15min()):
        r = loaded.report
        assert r.source in result.output
        assert f"rows {r.rows_in} in, {r.rows_out} out" in result.output
    assert f"duplicates {load_btc_15min().report.duplicates}" in result.output
    for i in range(SHIPPED_WINDOWS):
        bench = shipped_window(i)
        assert f"bars hash    {bench.id}" in result.output
        assert f"file digest  {bench.digest}" in result.output
        assert f"cid          {bench.cid}" in result.output
    assert f"{shipped_window(0).name}  (default)" in result.output


def test_backtest_reports_the_claimed_roi_bps(
    weights_file: Path, model: tuple[dict[str, object], ModelConfig]
) -> None:
    tensors, cfg = model
    for args, bench, fee in (
        ([], shipped_window(0), 1_000),
        (["--round", "6", "--fee-ppm", "0"], shipped_window(2), 0),
        (
            ["--benchmark", shipped_window(1).id.upper().replace("0X", "0x")],
            shipped_window(1),
            1_000,
        ),
    ):
        result = runner.invoke(app, ["market", "backtest", str(weights_file), *args])
        assert result.exit_code == 0, result.output
        w = reference_positions(tensors, cfg, bench.bars)  # type: ignore[arg-type]
        assert int(_field(result.output, "roi_bps")) == roi_bps(bench.exec_prices, w, fee)
        assert bench.id in result.output
        assert int(_field(result.output, "trades")) >= 0
        assert f"fee {fee} ppm" in result.output


def _invoke_error(*args: str) -> BaseException:
    result = runner.invoke(app, ["market", *args])
    assert result.exit_code != 0
    assert result.exception is not None
    return result.exception


def test_backtest_bad_input_raises_clear_errors(
    tmp_path: Path, model: tuple[dict[str, object], ModelConfig], weights_file: Path
) -> None:
    tensors, _ = model
    other = tmp_path / "other.safetensors"
    other.write_bytes(encode_weights(tensors, config_to_metadata(ModelConfig(hidden=8))))  # type: ignore[arg-type]
    exc = _invoke_error("backtest", str(other))
    assert isinstance(exc, ModelError) and "hidden=8" in str(exc)

    bare = tmp_path / "bare.safetensors"
    bare.write_bytes(encode_weights(tensors, {}))  # type: ignore[arg-type]
    exc = _invoke_error("backtest", str(bare))
    assert isinstance(exc, ModelError) and "no flchain model config" in str(exc)

    pickled = tmp_path / "model.pt"
    pickled.write_bytes(pickle.dumps({"l1.weight": [1.0]}))
    exc = _invoke_error("backtest", str(pickled))
    assert isinstance(exc, ModelError) and "not usable flchain model weights" in str(exc)

    exc = _invoke_error("backtest", str(tmp_path / "missing.safetensors"))
    assert isinstance(exc, ModelError) and "no such file" in str(exc)

    exc = _invoke_error("backtest", str(weights_file), "--benchmark", "0x" + "ab" * 32)
    assert isinstance(exc, UnknownBenchmarkError)

    exc = _invoke_error("backtest", str(weights_file), "--benchmark", "0x12", "--round", "1")
    assert isinstance(exc, MarketDataError) and "not both" in str(exc)

    usage = runner.invoke(app, ["market", "backtest", str(weights_file), "--fee-ppm", "-5"])
    assert usage.exit_code == 2 and "fee-ppm" in usage.output


CCXT_ROWS = [
    "timestamp,open,high,low,close,volume",
    "1700000000000,100,101,99,100.5,10",
    "1700000900000,100.5,102,100,101,12",
    "1700000900000,100.5,102,100,101.5,12",  # re-published bar: last wins
    "1700002700000,101,103,100.5,102,0",  # listed before the bar it follows
    "1700001800000,101.5,102,101,101,9",
    "1700003600000,,103,100,102,5",  # missing open
]


def test_load_csv_prints_summary_and_cleaning_report(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("\n".join(CCXT_ROWS) + "\n")
    result = runner.invoke(app, ["market", "load-csv", str(path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "4 bars" in out and "step 15 min" in out
    assert "rows 6 in, 4 out" in out
    for action in ("nan_rows 1", "duplicates 1", "unsorted 1", "zero_volume 1"):
        assert action in out
    assert "too short for a benchmark" in out


def test_load_csv_long_file_gets_a_content_id(tmp_path: Path) -> None:
    rows = ["timestamp,open,high,low,close,volume"]
    for i in range(200):
        p = 100.0 + (i % 7)
        rows.append(f"{1_700_000_000_000 + i * 60_000},{p},{p + 1},{p - 1},{p + 0.5},1")
    path = tmp_path / "long.csv"
    path.write_text("\n".join(rows))
    result = runner.invoke(app, ["market", "load-csv", str(path), "--grid-minutes", "1"])
    assert result.exit_code == 0, result.output
    assert "71 signal bars, content id 0x" in result.output


def test_load_csv_bad_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty CSV" in str(_invoke_error("load-csv", str(empty)))
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("1700000000000,1,2,0.5\n")
    exc = _invoke_error("load-csv", str(narrow))
    assert isinstance(exc, MarketDataError) and "4 columns" in str(exc)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    assert isinstance(_invoke_error("load-csv", str(binary)), MarketDataError)
    assert isinstance(_invoke_error("load-csv", str(tmp_path / "nope.csv")), FlchainError)


def _flchain(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from flchain.cli import main; main()", "market", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_console_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    pickled = tmp_path / "model.safetensors"
    pickled.write_bytes(pickle.dumps(["not", "weights"]))
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("1,2,3\n")
    for args in (["backtest", str(pickled)], ["load-csv", str(narrow)]):
        proc = _flchain(*args)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr

"""Market data: shipped-data cleaning, user CSV layouts, OHLCV invariants, benchmarks, partitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flchain.market import OHLCV, Benchmark, MarketDataError, UnknownBenchmarkError
from flchain.market.benchmark import (
    WARMUP,
    default_benchmark,
    register,
    resolve,
    shipped_window,
)
from flchain.market.loaders import load_btc_15min, load_btc_daily, load_csv, parse_csv_text
from flchain.market.partition import node_partition, resample
from flchain.market.synthetic import synthetic_bars


def test_shipped_daily_cleaning_report() -> None:
    loaded = load_btc_daily()
    r = loaded.report
    assert (r.rows_in == 665 and r.nan_rows == 4 and r.rows_out == 661) or r.rows_out == len(
        loaded.bars
    )
    assert r.nan_rows == 4  # the four `null` days of the CSV
    assert np.all(np.diff(loaded.bars.timestamps) > 0)
    assert loaded.bars.median_step_ms() == 86_400_000


def test_shipped_15min_cleaning_report() -> None:
    loaded = load_btc_15min()
    r = loaded.report
    assert r.offset_converted > 0  # the file mixes +01:00 and +00:00
    assert r.duplicates > 0 and r.unsorted > 0
    assert r.off_grid >= 1  # the trailing 13:50:02 zero-volume snapshot
    assert r.zero_volume > 0  # kept on purpose, counted
    assert r.rows_out == len(loaded.bars)
    assert np.all(loaded.bars.timestamps % 900_000 == 0)
    assert loaded.bars.median_step_ms() == 900_000


CCXT = """timestamp,open,high,low,close,volume
1700000900000,101,103,100,102,5
1700000000000,100,102,99,101,4
1700000900000,101,104,100,103,6
1700001800000,,104,100,103,6
1700002700000,103,105,102,104,0
"""


def test_ccxt_csv_with_header_is_cleaned_and_reported() -> None:
    loaded = parse_csv_text(CCXT, source="t.csv")
    r = loaded.report
    assert (r.rows_in, r.nan_rows, r.unsorted, r.duplicates, r.zero_volume) == (5, 1, 1, 1, 1)
    assert loaded.bars.timestamps.tolist() == [1700000000000, 1700000900000, 1700002700000]
    assert loaded.bars.close[1] == 103.0  # the later duplicate row wins


def test_headerless_ccxt_and_kline_layouts(tmp_path: Path) -> None:
    ccxt = "1700000000000,1,2,0.5,1.5,10\n1700000060000,1.5,2,1,1.8,11\n"
    kline = (
        "1700000000000,1,2,0.5,1.5,10,1700000059999,15,3,5,7,0\n"
        "1700000060000,1.5,2,1,1.8,11,1700000119999,19,4,5,8,0\n"
    )
    a = parse_csv_text(ccxt).bars
    p = tmp_path / "k.csv"
    p.write_text(kline)
    b = load_csv(p).bars
    assert a == b


def test_seconds_epoch_is_scaled_to_ms() -> None:
    bars = parse_csv_text("1700000000,1,2,0.5,1.5,10\n1700000060,1.5,2,1,1.8,11\n").bars
    assert bars.timestamps.tolist() == [1_700_000_000_000, 1_700_000_060_000]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty CSV"),
        ("a,b\n1,2\n", "no time column"),
        ("1,2,3\n", "expected 6"),
        ("timestamp,open,high,low,close,volume\n", "no rows"),
        ("timestamp,open,high,low,close\n1,1,1,1,1\n", "missing column"),
        ("timestamp,open,high,low,close,volume\n1,x,1,1,1,1\n", "no usable rows"),
    ],
)
def test_bad_csv_is_refused(text: str, message: str) -> None:
    with pytest.raises(MarketDataError, match=message):
        parse_csv_text(text)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError, match="cannot read"):
        load_csv(tmp_path / "nope.csv")


def _cols(n: int) -> list[np.ndarray]:
    p = np.full(n, 10.0)
    return [p, p + 1, p - 1, p, np.ones(n)]


@pytest.mark.parametrize(
    ("ts", "message"),
    [
        ([1, 1, 2], "duplicate timestamp"),
        ([1, 3, 2], "non-monotonic timestamp"),
        ([], "empty"),
    ],
)
def test_ohlcv_refuses_bad_timestamps(ts: list[int], message: str) -> None:
    with pytest.raises(MarketDataError, match=message):
        OHLCV.of(ts, *_cols(len(ts)))


def test_ohlcv_refuses_bad_prices() -> None:
    o, h, lo, c, v = _cols(3)
    with pytest.raises(MarketDataError, match="non-positive price at row 1"):
        OHLCV.of([1, 2, 3], o, h, lo, np.array([10.0, 0.0, 10.0]), v)
    with pytest.raises(MarketDataError, match="NaN"):
        OHLCV.of([1, 2, 3], o, h, lo, np.array([10.0, np.nan, 10.0]), v)
    with pytest.raises(MarketDataError, match="equal length"):
        OHLCV.of([1, 2, 3], o, h, lo, c, v[:2])


def test_benchmark_ids_are_content_hashes_and_resolve() -> None:
    d = default_benchmark()
    assert d.id == d.bars.content_hash() and len(d.id) == 66
    assert d.signal_count == 1_000 and d.exec_prices.shape == (1_001,)
    assert d.exec_prices[0] == d.bars.open[WARMUP + 1]
    assert d.exec_prices[-1] == d.bars.close[-1]
    ids = {shipped_window(i).id for i in range(4)}
    assert len(ids) == 4
    for i in range(4):
        assert resolve(shipped_window(i).id.upper().replace("0X", "0x")) is shipped_window(i)
    with pytest.raises(UnknownBenchmarkError):
        resolve("0x" + "00" * 32)


def test_register_synthetic_benchmark() -> None:
    bench = Benchmark.from_bars(synthetic_bars(WARMUP + 50, seed=3), name="syn")
    register(bench)
    assert resolve(bench.id) is bench
    with pytest.raises(MarketDataError, match="does not match"):
        register(Benchmark(id="0x" + "11" * 32, bars=bench.bars))
    with pytest.raises(MarketDataError, match="no signal bar"):
        Benchmark.from_bars(synthetic_bars(WARMUP + 1, seed=3))


def test_synthetic_is_seeded_and_fat_tailed() -> None:
    a, b = synthetic_bars(5_000, seed=1), synthetic_bars(5_000, seed=1)
    assert a == b and a != synthetic_bars(5_000, seed=2)
    r = np.diff(np.log(a.close))
    kurtosis = float(np.mean((r - r.mean()) ** 4) / np.var(r) ** 2)
    assert kurtosis > 4.0  # a Gaussian walk has 3


def test_partitions_are_non_iid_and_avoid_benchmark() -> None:
    from flchain.market.benchmark import held_out_start

    held_ts = load_btc_15min().bars.timestamps[held_out_start()]
    specs = []
    for i in range(12):
        bars, spec = node_partition(f"0x{i:040x}", seed=0)
        assert bars.timestamps[-1] < held_ts
        specs.append(spec)
        again, _ = node_partition(f"0x{i:040x}", seed=0)
        assert again == bars
    assert len({s.bar_size for s in specs}) >= 2
    assert len({(s.start, s.stop) for s in specs}) == len(specs)


def test_resample_aggregates() -> None:
    bars = synthetic_bars(10, seed=0)
    r = resample(bars, 4)
    assert len(r) == 2
    assert r.high[0] == bars.high[:4].max() and r.close[1] == bars.close[7]
    assert r.volume[0] == pytest.approx(bars.volume[:4].sum())

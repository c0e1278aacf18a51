"""Benchmark windows as content: the canonical file, its digest and CID, fetch by CID, the CLI."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from flchain.cli import app
from flchain.market import OHLCV, WARMUP, UnknownBenchmarkError
from flchain.market.benchfile import (
    MAGIC,
    MAX_BENCHMARK_BYTES,
    MAX_GAP_BARS,
    BenchmarkFile,
    benchmark_cid,
    decode,
    encode,
)
from flchain.market.benchmark import (
    Benchmark,
    fetch_benchmark,
    register,
    resolve,
    shipped_window,
)
from flchain.market.errors import BenchmarkFormatError, BenchmarkUnavailableError
from flchain.market.planted import planted_bars, planted_window
from flchain.merge.core import check_benchmark
from flchain.merge.errors import MergeInputError
from flchain.protocol import Rules
from flchain.replay import benchmark_for_rules
from flchain.storage import LocalStore, cid_for_bytes

runner = CliRunner()

# The bars hashes the shipped windows had before benchmark files existed: rules that name them
# must keep resolving to the same bars.
LEGACY_SHIPPED_IDS = (
    "0x75d188db13ed9e5c6653ee0b931d7c10d333df93479026fe89848cec322408ab",
    "0x9416a9f7c8751ebfca725341ecd8915ca1f10198371fa3629b5147b3e7047f48",
    "0xaa43d6e4eeca32aaa7c7abff17e949034149f92497baf31c28978de928b550f1",
    "0x161aa4b0fc6a1c3024d1c5103b5101d7119dd927aef256e267055e29e6fad12e",
)
SHIPPED_FILE_DIGESTS = (
    "0xa6192189c0c120f7b0f247867ac679a06bca13839a76a71373cc0b1e560cf587",
    "0xffe21d7859b3e7b23ac60c0f79c3da5b88c1d37e606cb6ca69852d618fc6a2b7",
    "0xae81cbd219c46e64df2df73ea46e162bbe556e098501fa95b3b826bd2aa5edca",
    "0x75b8753a260f6401987459b38efcaff6fbf26ee684ebf4068899634f1ccefb0c",
)


def window(n: int = WARMUP + 40, seed: int = 3) -> OHLCV:
    return planted_bars(n, seed)


def split(data: bytes) -> tuple[bytes, dict[str, object], bytes]:
    end = data.index(b"\n", len(MAGIC))
    return data[: len(MAGIC)], json.loads(data[len(MAGIC) : end]), data[end + 1 :]


def rebuild(header: dict[str, object], body: bytes) -> bytes:
    raw = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return MAGIC + raw + b"\n" + body


def test_shipped_windows_keep_their_ids_and_get_files() -> None:
    for i, (legacy, digest) in enumerate(
        zip(LEGACY_SHIPPED_IDS, SHIPPED_FILE_DIGESTS, strict=True)
    ):
        bench = shipped_window(i)
        assert bench.id == legacy
        assert bench.digest == digest
        assert bench.file is not None and bench.file.bars == bench.bars  # exact, bit for bit
        assert bench.cid == cid_for_bytes(bench.file.data) == benchmark_cid(digest)
        assert bench.cid is not None and bench.cid.startswith("bafkrei")  # one raw leaf
        assert resolve(legacy) is bench and resolve(digest) is bench
        assert resolve(digest.upper().replace("0X", "0x")) is bench


def test_round_trip_is_exact_and_the_encoding_unique() -> None:
    bars = window()
    file = encode(bars, "binance", "BTC/USDT", WARMUP)
    assert file.bars == bars
    assert decode(file.data).data == file.data
    assert encode(file.bars, "binance", "BTC/USDT", WARMUP).data == file.data
    _, header, body = split(file.data)
    assert header["rows"] == len(bars) and header["signals"] == len(bars) - WARMUP - 1
    assert header["price_decimals"] == 8 and header["gap_rule"] == "skip"
    assert len(body) == 48 * len(bars)
    assert encode(bars, "kraken", "BTC/USDT", WARMUP).digest != file.digest  # names count


def test_more_decimals_are_rounded_half_even_and_large_values_lose_decimals() -> None:
    bars = window()
    noisy = OHLCV.of(
        bars.timestamps, bars.open, bars.high * (1 + 1e-13), bars.low, bars.close,
        bars.volume * 1e9,
    )  # fmt: skip
    file = encode(noisy, "binance", "BTC/USDT", WARMUP)
    _, header, _ = split(file.data)
    assert header["price_decimals"] == 8
    assert int(header["volume_decimals"]) < 8  # volumes of ~1e12 keep 15 significant digits
    assert file.bars != noisy  # the 1e-13 wiggles were rounded away
    assert np.all(np.abs(file.bars.high - noisy.high) <= 0.5e-8)
    assert decode(file.data).bars == file.bars


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"X" + d[1:], "bad magic"),
        (lambda d: d[:-1], "body has"),
        (lambda d: d + b"\0" * 48, "body has"),
        (lambda d: d.replace(b'"bar_ms":900000', b'"bar_ms": 900000'), "canonical form"),
        (lambda d: d.replace(b'"exchange":"binance"', b'"exchange":"Binance"'), "exchange"),
        (lambda d: d.replace(b"BTC/USDT", b"btc/usdt"), "symbol"),
        (lambda d: d.replace(b'"gap_rule":"skip"', b'"gap_rule":"fill"'), "gap rule skip"),
        (lambda d: d.replace(b'"version":1', b'"version":2'), "version-1"),
        (lambda d: d.replace(b'"kind":"flchain-benchmark",', b""), "exactly the fields"),
        (lambda d: d.replace(b'"price_decimals":8', b'"price_decimals":7'), "canonical form"),
        (lambda d: d.replace(b'"price_decimals":8', b'"price_decimals":9'), "price_decimals"),
        (lambda d: d.replace(b'"warmup":128', b'"warmup":true'), "warmup"),
    ],
)
def test_non_canonical_bytes_are_refused_by_name(mutate: object, message: str) -> None:
    data = encode(window(), "binance", "BTC/USDT", WARMUP).data
    with pytest.raises(BenchmarkFormatError, match=message):
        decode(mutate(data))  # type: ignore[operator]


def _with_row(data: bytes, row: int, field: int, value: int) -> bytes:
    _, header, body = split(data)
    cells = bytearray(body)
    struct.pack_into("<q", cells, row * 48 + field * 8, value)
    return rebuild(header, bytes(cells))


def test_bad_bars_are_refused_by_name() -> None:
    data = encode(window(), "binance", "BTC/USDT", WARMUP).data
    ts0 = split(data)[1]["first_ms"]
    assert isinstance(ts0, int)
    cases = [
        (_with_row(data, 5, 0, ts0 + 5 * 900_000 + 1), "not on the UTC 15-minute grid"),
        (_with_row(data, 5, 0, ts0), "strictly increasing"),
        (_with_row(data, 5, 2, 1), "do not enclose"),  # high below open/close
        (_with_row(data, 5, 3, 0), "non-positive low"),
        (_with_row(data, 5, 5, -1), "negative volume"),
    ]
    for bad, message in cases:
        with pytest.raises(BenchmarkFormatError, match=message):
            decode(bad)
    with pytest.raises(BenchmarkFormatError, match="larger than a benchmark file"):
        decode(data + b"\0" * MAX_BENCHMARK_BYTES)


def test_gap_rule_and_window_bounds() -> None:
    bars = window()
    ts = bars.timestamps.copy()
    ts[60:] += 900_000 * MAX_GAP_BARS  # exactly the largest allowed gap
    ok = OHLCV.of(ts, bars.open, bars.high, bars.low, bars.close, bars.volume)
    assert decode(encode(ok, "binance", "BTC/USDT", WARMUP).data).bars == ok
    ts[60:] += 900_000  # one bar more missing
    too_long = OHLCV.of(ts, bars.open, bars.high, bars.low, bars.close, bars.volume)
    with pytest.raises(BenchmarkFormatError, match="more than the 288"):
        encode(too_long, "binance", "BTC/USDT", WARMUP)
    with pytest.raises(BenchmarkFormatError, match="no signal bar"):
        encode(window(WARMUP + 1), "binance", "BTC/USDT", WARMUP)
    with pytest.raises(BenchmarkFormatError, match="at most 262144 bytes"):
        encode(planted_bars(6_000, 1), "binance", "BTC/USDT", WARMUP)
    with pytest.raises(BenchmarkFormatError, match="warm-up"):
        Benchmark.from_file(encode(window(), "binance", "BTC/USDT", 16))


def test_fetch_by_cid_and_digest_from_the_store(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    bench = planted_window(4, 2)
    assert bench.file is not None and bench.cid is not None and bench.digest is not None
    assert store.put(bench.file.data) == bench.cid
    for name in (bench.cid, bench.digest):
        got = resolve(name, store)
        assert got.id == bench.id and got.bars == bench.bars and got.digest == bench.digest
    rules = Rules(benchmark_id=bench.digest)
    assert benchmark_for_rules(rules, 0, store).id == bench.id
    check_benchmark(rules, bench)  # the merge accepts a rule naming the file digest
    with pytest.raises(MergeInputError):
        check_benchmark(rules, planted_window(4, 3))


def test_fetch_failures_are_named(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    missing = encode(window(seed=9), "binance", "BTC/USDT", WARMUP)
    with pytest.raises(UnknownBenchmarkError, match="unknown benchmark"):
        resolve(missing.digest)  # no store: nothing to fetch from
    with pytest.raises(BenchmarkUnavailableError, match="could not be fetched"):
        resolve(missing.digest, store)
    not_bars = store.put(b"definitely not a benchmark")
    with pytest.raises(BenchmarkFormatError, match="does not parse: not a flchain benchmark"):
        resolve(not_bars, store)
    huge = store.put(b"\0" * (MAX_BENCHMARK_BYTES + 1))
    with pytest.raises(BenchmarkUnavailableError, match="larger than 262144 bytes"):
        fetch_benchmark(store, huge)
    with pytest.raises(UnknownBenchmarkError, match="neither a digest nor a CID"):
        resolve("0x1234", store)


def test_register_finds_a_window_by_both_names() -> None:
    file = encode(window(seed=11), "binance", "ETH/USDT", WARMUP)
    bench = Benchmark.from_file(file)
    register(bench)
    assert resolve(bench.id) is bench and resolve(file.digest) is bench
    assert isinstance(bench.file, BenchmarkFile)


def write_ccxt_csv(path: Path, bars: OHLCV, header: bool = True) -> None:
    lines = ["timestamp,open,high,low,close,volume"] if header else []
    for t, o, h, lo, c, v in zip(
        bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume, strict=True
    ):
        lines.append(",".join([str(int(t)), *(repr(float(x)) for x in (o, h, lo, c, v))]))
    path.write_text("\n".join(lines) + "\n")


def _field(output: str, name: str) -> str:
    [line] = [ln for ln in output.splitlines() if ln.split(" ", 1)[0] == name]
    return line.split()[1]


def test_cli_builds_stores_and_shows_a_benchmark(tmp_path: Path) -> None:
    bars = planted_bars(WARMUP + 300, 21)
    csv = tmp_path / "btc.csv"
    write_ccxt_csv(csv, bars)
    store_dir = tmp_path / "store"
    out = tmp_path / "w.bench"
    end = int(bars.timestamps[-11]) + 900_000  # the bar opening at [-11] has just closed
    result = runner.invoke(
        app,
        [
            "market", "benchmark", "build", str(csv), "--exchange", "binance",
            "--symbol", "BTC/USDT", "--signals", "200", "--end", str(end),
            "--out", str(out), "--store", str(store_dir),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    digest, cid = _field(result.output, "id"), _field(result.output, "cid")
    expected = encode(bars.slice(len(bars) - 10 - WARMUP - 201, len(bars) - 10), "binance",
                      "BTC/USDT", WARMUP)  # fmt: skip
    assert digest == expected.digest and cid == expected.cid and out.read_bytes() == expected.data
    assert _field(result.output, "stored") == cid
    for name in (cid, digest, str(out)):
        shown = runner.invoke(app, ["market", "benchmark", "show", name, "--store", str(store_dir)])
        assert shown.exit_code == 0, shown.output
        assert _field(shown.output, "id") == digest and _field(shown.output, "cid") == cid
    iso = runner.invoke(
        app,
        [
            "market", "benchmark", "build", str(csv), "--exchange", "binance", "--symbol",
            "BTC/USDT", "--signals", "200", "--end", "2021-01-05T00:00Z", "--no-store",
            "--out", str(tmp_path / "iso.bench"),
        ],
    )  # fmt: skip
    assert iso.exit_code == 0, iso.output
    first_day_bars = 4 * 96  # the planted market starts at 2021-01-01T00:00Z
    assert _field(iso.output, "id") == (
        encode(bars.slice(first_day_bars - WARMUP - 201, first_day_bars), "binance", "BTC/USDT",
               WARMUP).digest
    )  # fmt: skip


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    csv = tmp_path / "short.csv"
    write_ccxt_csv(csv, planted_bars(WARMUP + 20, 2), header=False)
    for args, message in (
        (["--exchange", "binance", "--symbol", "BTC/USDT"], "needs 1129"),
        (["--exchange", "Bin Ance", "--symbol", "BTC/USDT", "--signals", "5"], "exchange"),
        (["--exchange", "binance", "--symbol", "BTC/USDT", "--end", "soon"], "--end"),
    ):
        result = runner.invoke(app, ["market", "benchmark", "build", str(csv), *args, "--no-store"])
        assert result.exit_code != 0
        assert message in str(result.exception) or message in result.output
    typo = runner.invoke(
        app, ["market", "benchmark", "show", "0x" + "12" * 32, "--store", str(tmp_path / "s")]
    )
    assert typo.exit_code != 0 and "does not exist" in str(typo.exception)
    assert not (tmp_path / "s").exists()  # a path to read from is never created
    LocalStore(tmp_path / "s")
    shown = runner.invoke(
        app, ["market", "benchmark", "show", "0x" + "12" * 32, "--store", str(tmp_path / "s")]
    )
    assert isinstance(shown.exception, BenchmarkUnavailableError)
    assert shown.exception.exit_code == 2  # `flchain` exits 2: content it could not fetch
    assert "could not be fetched" in str(shown.exception)

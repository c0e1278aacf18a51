"""`flchain market info|backtest|load-csv|benchmark`: shipped data, backtests, CSVs, benchmarks.

- ``info``: the shipped BTC-USD datasets with their cleaning reports, and the benchmark windows
  with the names a round's rules may use (bars hash, file digest) and their CIDs.
- ``backtest WEIGHTS``: reference positions of a canonical safetensors model on a benchmark and
  the report figures (ROI in bps as claimed on-chain, trades, max drawdown, Sharpe).
- ``load-csv FILE``: validate a user's OHLCV CSV the way the loaders clean it, and summarise it.
- ``benchmark build CSV``: cut a benchmark window from a CCXT-layout CSV into a canonical
  benchmark file, store it like weights, print its id and CID.
- ``benchmark show NAME``: resolve a benchmark (id, CID or file), verify it and summarise it.

Only ``benchmark build`` writes (the file and the store); errors are `FlchainError` lines (no
traceback) via `flchain.cli`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from flchain.backtest import stats
from flchain.errors import FlchainError
from flchain.market import OHLCV, WARMUP, Benchmark
from flchain.market.benchfile import BAR_MS, MAX_BENCHMARK_BYTES, decode
from flchain.market.benchfile import encode as encode_benchmark_file
from flchain.market.benchmark import (
    SHIPPED_WINDOWS,
    WINDOW_SIGNALS,
    BenchmarkStore,
    benchmark_for_round,
    default_benchmark,
    resolve,
    shipped_window,
)
from flchain.market.errors import BenchmarkFormatError, MarketDataError
from flchain.market.loaders import CleaningReport, load_btc_15min, load_btc_daily, load_csv
from flchain.model import ModelError, config_from_metadata, reference_positions
from flchain.protocol import Rules

app = typer.Typer(help="Market data, benchmarks and backtests.", no_args_is_help=True)
benchmark_app = typer.Typer(
    help="Benchmark windows as content: build from a CSV, show and verify.", no_args_is_help=True
)
app.add_typer(benchmark_app, name="benchmark")

IpfsOpt = typer.Option(None, "--ipfs", help="IPFS HTTP RPC API URL, e.g. http://127.0.0.1:5001")
StoreOpt = typer.Option(None, "--store", help="local store directory (default: see `store`)")

DEFAULT_FEE_PPM = Rules.model_fields["fee_ppm"].default
MAX_WEIGHTS_BYTES = 64 * 1024 * 1024  # far above any model this config allows


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _span(bars: OHLCV) -> str:
    step = bars.median_step_ms()
    return (
        f"{len(bars)} bars, {_utc(int(bars.timestamps[0]))} … {_utc(int(bars.timestamps[-1]))} UTC"
        f", step {step // 60_000} min"
    )


def _report_lines(report: CleaningReport) -> list[str]:
    actions = {
        k: v
        for k, v in report.model_dump().items()
        if k not in ("source", "rows_in", "rows_out") and v
    }
    done = ", ".join(f"{k} {v}" for k, v in actions.items()) or "nothing to repair"
    return [f"  rows {report.rows_in} in, {report.rows_out} out; {done}"]


@app.command()
def info() -> None:
    """Shipped datasets with their cleaning reports, and the benchmark windows with their ids."""
    for loaded in (load_btc_daily(), load_btc_15min()):
        typer.echo(f"{loaded.report.source}: {_span(loaded.bars)}")
        for line in _report_lines(loaded.report):
            typer.echo(line)
    default_id = default_benchmark().id
    typer.echo(
        f"benchmark windows ({WARMUP} warm-up bars + signal bars; round r uses window "
        f"r mod {SHIPPED_WINDOWS} unless its rules name another id):"
    )
    for i in range(SHIPPED_WINDOWS):
        bench = shipped_window(i)
        mark = "  (default)" if bench.id == default_id else ""
        typer.echo(f"  {bench.name}{mark}")
        typer.echo(f"    bars hash    {bench.id}")
        typer.echo(f"    file digest  {bench.digest}")
        typer.echo(f"    cid          {bench.cid}")
        typer.echo(f"    {bench.signal_count} signal bars; {_span(bench.bars)}")


def _read_weights(path: Path) -> bytes:
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise ModelError(f"{path}: {size} bytes is too large for flchain model weights")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}") from exc


def _store(
    ipfs: str | None, store: Path | None, *, default: bool = True, create: bool = False
) -> BenchmarkStore | None:
    """The store `--ipfs` / `--store` name, else the settings' store (the node's and `flchain
    store`'s); None when ``default`` is False and neither is given (a backtest then resolves
    only shipped windows, creating nothing). Only a command that writes may `create` one: a
    mistyped path to read from is refused, not turned into an empty store."""
    from flchain.cli.store import open_settings_store

    if ipfs is None and store is None and not default:
        return None
    return open_settings_store(ipfs_url=ipfs, store_dir=store, create=create)


def _choose_benchmark(
    benchmark_id: str | None, round_number: int | None, source: BenchmarkStore | None = None
) -> Benchmark:
    if benchmark_id is not None and round_number is not None:
        raise MarketDataError("pass --benchmark or --round, not both")
    if benchmark_id is not None:
        return resolve(benchmark_id, source)
    if round_number is not None:
        return benchmark_for_round(round_number)
    return default_benchmark()


@app.command()
def backtest(
    weights: Annotated[Path, typer.Argument(help="Canonical safetensors weights (.safetensors).")],
    benchmark: Annotated[
        str | None,
        typer.Option("--benchmark", help="Benchmark id (0x…) or CID (see `market info`)."),
    ] = None,
    round_number: Annotated[
        int | None,
        typer.Option("--round", min=0, help="Use the shipped window round R rotates to."),
    ] = None,
    fee_ppm: Annotated[
        int, typer.Option("--fee-ppm", min=0, max=999_999, help="Fee per side, ppm of notional.")
    ] = DEFAULT_FEE_PPM,
    ipfs: str | None = IpfsOpt,
    store: Path | None = StoreOpt,
) -> None:
    """Reference positions of WEIGHTS on a benchmark → ROI bps, trades, max drawdown, Sharpe."""
    from flchain.hashing import sha256_hex
    from flchain.storage.weights import decode_weights

    data = _read_weights(weights)
    try:
        tensors, metadata = decode_weights(data)
        config = config_from_metadata(metadata)
    except FlchainError as exc:
        raise ModelError(f"{weights} is not usable flchain model weights: {exc.message}") from exc
    bench = _choose_benchmark(benchmark, round_number, _store(ipfs, store, default=False))
    positions = reference_positions(tensors, config, bench.bars)
    result = stats(bench.exec_prices, positions, fee_ppm)
    typer.echo(f"weights    {weights.name}  {sha256_hex(data)}")
    typer.echo(
        f"model      feature set {config.feature_set}, lookback x{config.lookback_scale}, "
        f"hidden {config.hidden}"
    )
    typer.echo(f"benchmark  {bench.name or 'registered'}  {bench.id}")
    typer.echo(f"           {bench.signal_count} signal bars, fee {fee_ppm} ppm per side")
    typer.echo(f"roi_bps    {result.roi_bps}")
    typer.echo(f"roi        {result.roi:.6%}")
    typer.echo(f"trades     {result.trades}")
    typer.echo(f"exposure   {result.exposure:.2%}")
    typer.echo(f"max dd     {result.max_drawdown:.2%}")
    typer.echo(f"sharpe     {result.sharpe:.4f} (per bar, not annualised)")


@app.command("load-csv")
def load_csv_command(
    file: Annotated[Path, typer.Argument(help="OHLCV CSV: CCXT layout or exchange klines.")],
    grid_minutes: Annotated[
        int | None,
        typer.Option(
            "--grid-minutes", min=1, help="Bar size; zero-volume bars off this grid are dropped."
        ),
    ] = None,
) -> None:
    """Validate a user's OHLCV CSV (cleaned like the shipped data) and print a summary."""
    loaded = load_csv(file, grid_ms=grid_minutes * 60_000 if grid_minutes else None)
    bars = loaded.bars
    typer.echo(f"{file}: {_span(bars)}")
    for line in _report_lines(loaded.report):
        typer.echo(line)
    typer.echo(
        f"  close {bars.close[0]:.8g} → {bars.close[-1]:.8g}; "
        f"low {bars.low.min():.8g}, high {bars.high.max():.8g}"
    )
    signals = max(len(bars) - 1 - WARMUP, 0)
    if signals:
        bench = Benchmark.from_bars(bars, name=file.name)
        typer.echo(f"  usable as a benchmark window: {signals} signal bars, content id {bench.id}")
    else:
        typer.echo(f"  too short for a benchmark: needs at least {WARMUP + 2} bars")


def _parse_end(text: str) -> int:
    """``--end`` as UTC milliseconds: an integer (ms) or an ISO time (naive = UTC)."""
    if text.strip().lstrip("-").isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise MarketDataError(
            f"--end {text!r} is neither milliseconds nor an ISO time (2021-12-01T00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def window_from_csv(csv: Path, signals: int, end_ms: int | None) -> OHLCV:
    """The last ``WARMUP + signals + 1`` closed 15-minute bars of ``csv`` (cleaned like every
    user CSV) whose bar closed at or before ``end_ms`` (all bars when None)."""
    bars = load_csv(csv, grid_ms=BAR_MS).bars
    closed = (
        len(bars)
        if end_ms is None
        else int(np.searchsorted(bars.timestamps, end_ms - BAR_MS, side="right"))
    )
    size = WARMUP + signals + 1
    if closed < size:
        raise MarketDataError(
            f"{csv}: {closed} bars closed by the end time; a window of {signals} signal bars "
            f"needs {size} ({WARMUP} warm-up + signals + the execution bar)"
        )
    return bars.slice(closed - size, closed)


@benchmark_app.command("build")
def benchmark_build(
    csv: Annotated[Path, typer.Argument(help="OHLCV CSV in the CCXT layout (or exchange klines).")],
    exchange: Annotated[str, typer.Option("--exchange", help="Venue, e.g. binance.")],
    symbol: Annotated[str, typer.Option("--symbol", help="CCXT pair, e.g. BTC/USDT.")],
    signals: Annotated[
        int, typer.Option("--signals", min=1, help="Signal bars in the window.")
    ] = WINDOW_SIGNALS,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Keep bars closed by this UTC time (ISO or ms); default all."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the file here (default: <digest>.bench).")
    ] = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Only write the file, do not add it to a store.")
    ] = False,
    ipfs: str | None = IpfsOpt,
    store: Path | None = StoreOpt,
) -> None:
    """Cut the latest window of CSV into a canonical benchmark file; store it; print id and CID."""
    window = window_from_csv(csv, signals, _parse_end(end) if end is not None else None)
    file = encode_benchmark_file(window, exchange, symbol, WARMUP)
    bench = Benchmark.from_file(file)
    target = out or Path(f"{file.digest[2:18]}.bench")
    try:
        target.write_bytes(file.data)
    except OSError as exc:
        raise MarketDataError(f"cannot write {target}: {exc.strerror}") from exc
    typer.echo(f"benchmark  {exchange} {symbol}: {_span(bench.bars)}")
    typer.echo(f"           {bench.signal_count} signal bars, {len(file.data)} bytes → {target}")
    if file.bars != window:
        typer.echo("           prices/volume rounded to the file's fixed-point decimals")
    typer.echo(f"id         {file.digest}")
    typer.echo(f"cid        {file.cid}")
    typer.echo(f"bars hash  {bench.id}")
    if not no_store:
        from flchain.storage import ContentStore

        target_store = _store(ipfs, store, create=True)
        assert isinstance(target_store, ContentStore)  # the default is always a store
        stored = target_store.put(file.data)
        typer.echo(f"stored     {stored}")


@benchmark_app.command("show")
def benchmark_show(
    name: Annotated[str, typer.Argument(help="Benchmark id (0x…), CID (b…) or a .bench file.")],
    ipfs: str | None = IpfsOpt,
    store: Path | None = StoreOpt,
) -> None:
    """Resolve a benchmark (shipped, in a store, or a file), verify it and summarise it."""
    path = Path(name)
    if not name.startswith(("0x", "0X", "b")) and path.is_file():
        if path.stat().st_size > MAX_BENCHMARK_BYTES:
            raise BenchmarkFormatError(
                f"{path}: larger than a benchmark file may be ({MAX_BENCHMARK_BYTES} bytes)"
            )
        bench = Benchmark.from_file(decode(path.read_bytes()))
    else:
        bench = resolve(name, _store(ipfs, store))
    typer.echo(f"benchmark  {bench.name}: {_span(bench.bars)}")
    typer.echo(f"           {bench.signal_count} signal bars after a {WARMUP}-bar warm-up")
    typer.echo(f"id         {bench.digest or '(no file)'}")
    typer.echo(f"cid        {bench.cid or '(no file)'}")
    typer.echo(f"bars hash  {bench.id}")

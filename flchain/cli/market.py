"""`flchain market info|backtest|load-csv`: the shipped data, benchmark backtests, user CSVs.

- ``info``: the shipped BTC-USD datasets with their cleaning reports, and the benchmark windows
  with the ids a round's rules name.
- ``backtest WEIGHTS``: reference positions of a canonical safetensors model on a benchmark and
  the report figures (ROI in bps as claimed on-chain, trades, max drawdown, Sharpe).
- ``load-csv FILE``: validate a user's OHLCV CSV the way the loaders clean it, and summarise it.

Everything here is read-only; errors are `FlchainError` lines (no traceback) via `flchain.cli`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from flchain.backtest import stats
from flchain.errors import FlchainError
from flchain.market import OHLCV, WARMUP, Benchmark
from flchain.market.benchmark import (
    SHIPPED_WINDOWS,
    benchmark_for_round,
    default_benchmark,
    resolve,
    shipped_window,
)
from flchain.market.errors import MarketDataError
from flchain.market.loaders import CleaningReport, load_btc_15min, load_btc_daily, load_csv
from flchain.model import ModelError, config_from_metadata, reference_positions
from flchain.protocol import Rules

app = typer.Typer(help="Market data, benchmarks and backtests.", no_args_is_help=True)

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
        typer.echo(f"  {bench.name}  {bench.id}{mark}")
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


def _choose_benchmark(benchmark_id: str | None, round_number: int | None) -> Benchmark:
    if benchmark_id is not None and round_number is not None:
        raise MarketDataError("pass --benchmark or --round, not both")
    if benchmark_id is not None:
        return resolve(benchmark_id)
    if round_number is not None:
        return benchmark_for_round(round_number)
    return default_benchmark()


@app.command()
def backtest(
    weights: Annotated[Path, typer.Argument(help="Canonical safetensors weights (.safetensors).")],
    benchmark: Annotated[
        str | None, typer.Option("--benchmark", help="Benchmark id (0x…, see `market info`).")
    ] = None,
    round_number: Annotated[
        int | None,
        typer.Option("--round", min=0, help="Use the shipped window round R rotates to."),
    ] = None,
    fee_ppm: Annotated[
        int, typer.Option("--fee-ppm", min=0, max=999_999, help="Fee per side, ppm of notional.")
    ] = DEFAULT_FEE_PPM,
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
    bench = _choose_benchmark(benchmark, round_number)
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

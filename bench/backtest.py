"""Benchmark: backtests per second for one model over one year of 15-minute bars, and the
agreement of flchain's ROI (DESIGN §4) with vectorbt and backtesting.py on the same positions.

Measured in one run:
- throughput: flchain reference inference (features + fixed-order float64 forward pass) and
  flchain ROI (`roi_bps`, the claim path) in backtests per second, the inference as it was before
  the block-wise rewrite (tests/model/_reference_v1.py, same positions), and the time vectorbt and
  backtesting.py take for the ROI alone on the same positions, as ratios against flchain's ROI
  and against flchain's inference + ROI;
- agreement: the ROI of each peer on the same positions, for two realistic position series
  (a model trained on the synthetic regime, run on an unseen synthetic year; a model trained on
  the shipped BTC-USD 15-minute bars, run on those bars stitched into one year) at three fees
  (0, 100 ppm, the protocol's default 1000 ppm). ``|Δ|`` is the absolute ROI difference,
  ``rel`` is ``|(1 + peer) / (1 + flchain) − 1|`` (scale-free: it does not shrink when the
  ROI is near −1).

How each peer is configured to run DESIGN's trade model exactly
(entry at ``x[i]``, exit at ``x[j]``, fee ``f`` on both sides, ``m = (1 + s(ρ−1) − fρ)/(1+f)``,
i.e. each trade buys or sells short ``u = E / (x[i]·(1+f))`` units with the whole equity E):

vectorbt (`Portfolio.from_orders`, ``direction="both"``, ``close = price = x``, ``fees=f``):
- a long entry is ``size=+inf`` (``size_type="amount"``): vectorbt spends all cash with the fee
  inside, ``u = cash / (x·(1+f))``;
- a short entry is ``size=-inf``: vectorbt turns it into "100 % of free cash to short",
  ``u = free_cash / (x·(1+f))`` — DESIGN's short sizing exactly;
- an exit to flat is ``size=0`` with ``size_type="targetamount"``;
- a flip is one order: ``-inf`` from a long closes the long and shorts the freed cash;
  ``+inf`` from a short spends all cash, which (short proceeds included) covers the short and
  buys ``E·m / (x·(1+f))`` units long — both the same as two orders;
- ``min_size=0`` is required: vectorbt's default ``min_size`` is 1e-8 *units*, so once
  ``E / x`` falls below 1e-8 (init_cash 1 and a 7e5 price after a loss) it silently rejects
  entries and the account drifts from the model. That, not the arithmetic, caused the 3.4e-3
  difference this bench used to print.
What remains is float rounding (vectorbt computes cash and units, flchain multiplies ratios).

backtesting.py (`FractionalBacktest`, ``commission=f``, ``finalize_trades=True``):
- it first calls ``Strategy.next`` on bar 1, never bar 0, so one bar is prepended;
- a market order placed at bar t's close fills at bar t+1's open: that is DESIGN's ``x_t``;
- finalize closes open trades at the *open* of the last bar, so a bar whose open is ``x_T``
  (the last close) is appended and the replay itself closes the book there;
- a relative size must be < 1 and is a share of ``margin_available · leverage``, with the
  commission inside the unit price; ``margin=0.5`` with ``size=±0.5`` spends exactly 100 % of
  equity, i.e. ``u = E / (x·(1+f))``;
- units are whole multiples of ``fractional_unit``; the truncation changes exposure by at most
  ``fractional_unit·x / E`` per trade (≈1e-12 here with ``cash = 1e12``; it was 1e-9
  with 1e9 once the 1000-ppm synthetic run had lost 99 %).
So backtesting.py is exact up to that truncation and float rounding.

Run: ``python bench/backtest.py [--bars 35040] [--repeat 30]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from flchain.backtest import fee_from_ppm, roi, roi_bps, stats
from flchain.market import OHLCV, WARMUP, Benchmark
from flchain.market.benchmark import held_out_start
from flchain.market.loaders import load_btc_15min
from flchain.market.synthetic import synthetic_bars
from flchain.model import ModelConfig, init_weights, reference_positions, train

FEE_PPM = 1_000  # the protocol default (Rules.fee_ppm)
AGREEMENT_FEES_PPM = (0, 100, FEE_PPM)
BT_CASH = 1e12
BT_UNIT = 1e-8

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]


def reference_v1() -> Callable[..., I8] | None:
    """The reference inference before the speed work (tests/model/_reference_v1.py), when this
    checkout has its tests: the "before" figure measured in the same run."""
    here = Path(__file__).resolve().parent.parent / "tests" / "model"
    if not (here / "_reference_v1.py").is_file():
        return None
    sys.path.insert(0, str(here))
    import _reference_v1

    fn: Callable[..., I8] = _reference_v1.reference_positions
    return fn


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Smallest wall time of ``repeat`` calls (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def vectorbt_orders(w: I8) -> tuple[F64, npt.NDArray[np.int64]]:
    """Order sizes and size types (length T + 1) that replay ``w`` (see the module docstring)."""
    from vectorbt.portfolio.enums import SizeType

    before = np.concatenate(([0], w)).astype(np.int8)
    after = np.concatenate((w, [0])).astype(np.int8)
    change = before != after
    size = np.full(after.shape[0], np.nan)
    size_type = np.full(after.shape[0], SizeType.Amount, dtype=np.int64)
    size[change & (after == 1)] = np.inf
    size[change & (after == -1)] = -np.inf
    to_flat = change & (after == 0)
    size[to_flat] = 0.0
    size_type[to_flat] = SizeType.TargetAmount
    return size, size_type


def vectorbt_roi(x: F64, w: I8, fee: float) -> float:
    """vectorbt's total return for positions ``w`` executed at ``x`` (DESIGN's trade model)."""
    import vectorbt as vbt

    size, size_type = vectorbt_orders(w)
    pf = vbt.Portfolio.from_orders(
        close=x,
        size=size,
        size_type=size_type,
        fees=fee,
        init_cash=1.0,
        min_size=0.0,  # default 1e-8 units would reject orders once equity / price < 1e-8
        direction="both",
        freq="15min",
    )
    return float(pf.final_value()) - 1.0


def backtesting_frame(bars: OHLCV) -> object:
    """The benchmark's signal bars as a backtesting.py frame, one bar prepended (backtesting.py
    never calls ``next`` on bar 0) and one appended whose open is ``x_T`` (the book closes there)."""
    import pandas as pd

    start = WARMUP - 1
    n = len(bars)
    last = float(bars.close[-1])
    step = int(bars.timestamps[-1] - bars.timestamps[-2])

    def col(a: F64) -> F64:
        return np.concatenate((a[start:n], [last]))

    return pd.DataFrame(
        {
            "Open": col(bars.open),
            "High": col(bars.high),
            "Low": col(bars.low),
            "Close": col(bars.close),
            "Volume": col(bars.volume),
        },
        index=pd.to_datetime(
            np.concatenate((bars.timestamps[start:n], [bars.timestamps[-1] + step])), unit="ms"
        ),
    )


def backtesting_roi(frame: object, w: I8, fee: float) -> float:
    """backtesting.py's return for positions ``w`` (see the module docstring for the set-up)."""
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest

    positions = w

    class Replay(Strategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            t = len(self.data) - 2  # data index 1 is signal bar 0
            want = int(positions[t]) if t < positions.shape[0] else 0
            have = 0 if not self.position else (1 if self.position.is_long else -1)
            if want == have:
                return
            if have:
                self.position.close()
            if want == 1:
                self.buy(size=0.5)  # half of 2x buying power = all equity, fee inside
            elif want == -1:
                self.sell(size=0.5)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            frame,
            Replay,
            cash=BT_CASH,
            commission=fee,
            margin=0.5,
            finalize_trades=True,
            fractional_unit=BT_UNIT,
        )
        out = bt.run()
    return float(out["Equity Final [$]"]) / BT_CASH - 1.0


def stitched(bars: OHLCV, n: int) -> OHLCV:
    """``n`` bars made of copies of ``bars`` back to back, each copy rescaled so it starts at
    the previous copy's last close, on a regular 15-minute grid (a year from a quarter)."""
    scale = 1.0
    cols: list[list[F64]] = [[], [], [], [], []]
    have = 0
    while have < n:
        for k, a in enumerate((bars.open, bars.high, bars.low, bars.close)):
            cols[k].append(a * scale)
        cols[4].append(np.asarray(bars.volume))
        have += len(bars)
        scale *= float(bars.close[-1]) / float(bars.open[0])
    o, h, lo, c, v = (np.concatenate(p)[:n] for p in cols)
    ts = int(bars.timestamps[0]) + 900_000 * np.arange(n, dtype=np.int64)
    return OHLCV.of(ts, o, h, lo, c, v)


@dataclass(frozen=True)
class Series:
    name: str
    bench: Benchmark
    positions: I8
    weights: dict[str, npt.NDArray[np.float32]]


def position_series(bars: int) -> list[Series]:
    """The two realistic position series the agreement is measured on (module docstring)."""
    cfg = ModelConfig()
    out: list[Series] = []
    syn = Benchmark.from_bars(synthetic_bars(bars + WARMUP + 1, seed=2024), name="synthetic")
    syn_model = train(init_weights(cfg), cfg, synthetic_bars(20_000, seed=7), seed=1)
    out.append(Series("synthetic", syn, reference_positions(syn_model, cfg, syn.bars), syn_model))
    shipped = load_btc_15min().bars
    year = Benchmark.from_bars(stitched(shipped, bars + WARMUP + 1), name="btc-15m-stitched")
    btc_model = train(init_weights(cfg), cfg, shipped.slice(0, held_out_start()), seed=1)
    out.append(
        Series("btc-stitched", year, reference_positions(btc_model, cfg, year.bars), btc_model)
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--bars", type=int, default=35_040, help="signal bars (one year = 35040)")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar garbles the table

    series = position_series(args.bars)
    main_series = series[0]
    cfg = ModelConfig()
    bench = main_series.bench
    x, w = bench.exec_prices, main_series.positions
    fee = fee_from_ppm(FEE_PPM)

    t_inf = best_of(
        lambda: reference_positions(main_series.weights, cfg, bench.bars), max(3, args.repeat // 3)
    )
    t_roi = best_of(lambda: roi_bps(x, w, FEE_PPM), args.repeat)
    print(
        f"throughput: {w.shape[0]} signal bars (15-minute, synthetic), "
        f"{stats(x, w, FEE_PPM).trades} trades, fee {FEE_PPM} ppm"
    )
    print(f"  flchain reference inference: {t_inf * 1e3:9.2f} ms  ({1 / t_inf:9.1f} /s)")
    banded = cfg.model_copy(update={"decision_band_micro": 250_000})
    t_band = best_of(
        lambda: reference_positions(main_series.weights, banded, bench.bars),
        max(3, args.repeat // 3),
    )
    print(f"    with a 0.25 decision band: {t_band * 1e3:9.2f} ms")
    v1 = reference_v1()
    if v1 is not None:
        t_v1 = best_of(lambda: v1(main_series.weights, cfg, bench.bars), max(3, args.repeat // 10))
        print(
            f"  (before: v1 inference        {t_v1 * 1e3:9.2f} ms; same positions: "
            f"{np.array_equal(v1(main_series.weights, cfg, bench.bars), w)})"
        )
    print(f"  flchain roi_bps:             {t_roi * 1e3:9.3f} ms  ({1 / t_roi:9.1f} backtests/s)")
    both = t_inf + t_roi
    print(
        f"  flchain inference + roi:     {both * 1e3:9.2f} ms  ({1 / both:9.1f} model backtests/s)"
    )

    peers: list[tuple[str, Callable[[Series, float], float]]] = [
        ("vectorbt", lambda s, f: vectorbt_roi(s.bench.exec_prices, s.positions, f)),
        (
            "backtesting.py",
            lambda s, f: backtesting_roi(backtesting_frame(s.bench.bars), s.positions, f),
        ),
    ]
    available: list[tuple[str, Callable[[Series, float], float]]] = []
    for name, fn in peers:
        try:
            fn(main_series, fee)  # also warms up numba / imports
        except ImportError:
            print(f"  {name}: not installed, skipped (pip install -e '.[bench]')")
            continue
        available.append((name, fn))
        reps = max(3, args.repeat // 3) if name == "vectorbt" else 1
        t_peer = best_of(lambda fn=fn: fn(main_series, fee), reps)  # type: ignore[misc]
        print(
            f"  {name + ':':28s} {t_peer * 1e3:9.2f} ms  → flchain roi_bps is "
            f"{t_peer / t_roi:8.1f}x faster, inference + roi {t_peer / both:6.2f}x faster"
        )

    print("ROI agreement on the same positions (|Δ| absolute, rel = |(1+peer)/(1+flchain) − 1|):")
    head = f"  {'series':13s} {'fee ppm':>7s} {'trades':>6s} {'flchain ROI':>19s}"
    for name, _ in available:
        head += f"  {name + ' |Δ|':>18s} {'rel':>8s}"
    print(head)
    worst = {name: 0.0 for name, _ in available}
    for s in series:
        for fee_ppm in AGREEMENT_FEES_PPM:
            f = fee_from_ppm(fee_ppm)
            ours = roi(s.bench.exec_prices, s.positions, f)
            trades = stats(s.bench.exec_prices, s.positions, fee_ppm).trades
            line = f"  {s.name:13s} {fee_ppm:7d} {trades:6d} {ours:19.15f}"
            for name, fn in available:
                value = fn(s, f)
                rel = abs((1.0 + value) / (1.0 + ours) - 1.0)
                worst[name] = max(worst[name], rel)
                line += f"  {abs(value - ours):18.2e} {rel:8.1e}"
            print(line)
    for name, rel in worst.items():
        print(f"  worst rel {name}: {rel:.1e}")


if __name__ == "__main__":
    main()

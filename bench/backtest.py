"""Benchmark: backtests per second for one model over one year of 15-minute bars.

Measures, in one run on the same positions:
- flchain reference inference (features + fixed-order float64 forward pass),
- flchain ROI (`roi_bps`, the claim path) — backtests per second,
- vectorbt `Portfolio.from_orders` (target percent) and backtesting.py (fractional) when they
  are importable (optional `bench` extra), with their time and ROI, as ratios against flchain.

Run: `python bench/backtest.py [--bars 35040] [--repeat 50]`
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np

from flchain.backtest import fee_from_ppm, roi, roi_bps
from flchain.market import WARMUP, Benchmark
from flchain.market.synthetic import synthetic_bars
from flchain.model import ModelConfig, init_weights, reference_positions

FEE_PPM = 1_000


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Smallest wall time of ``repeat`` calls (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def vectorbt_roi(x: np.ndarray, w: np.ndarray, fee: float) -> float:
    """vectorbt's accounting of the same trades. Orders are unit amounts: each trade buys (or
    sells short) ``equity / (price · (1 + fee))`` units at entry and unwinds them at exit, which is
    the sizing DESIGN §4 defines (vectorbt's own ``targetpercent`` sizes shorts differently)."""
    import vectorbt as vbt

    from flchain.backtest import _trade_bounds, trade_multipliers

    entries, exits, sides = _trade_bounds(w.astype(np.int8))
    m = trade_multipliers(x, w, fee)
    before = np.concatenate(([1.0], np.multiply.accumulate(m)[:-1]))
    units = before / (x[entries] * (1.0 + fee))
    size = np.zeros(x.shape[0])
    np.add.at(size, entries, sides * units)
    np.add.at(size, exits, -sides * units)
    pf = vbt.Portfolio.from_orders(
        close=x,
        size=size,
        size_type="amount",
        fees=fee,
        init_cash=1.0,
        direction="both",
        freq="15min",
    )
    return float(pf.total_return())


def backtesting_roi(bench: Benchmark, w: np.ndarray, fee: float) -> float:
    import pandas as pd
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest

    bars = bench.bars.slice(WARMUP, len(bench.bars))
    df = pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=pd.to_datetime(bars.timestamps, unit="ms"),
    )
    positions = w

    class Replay(Strategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            t = len(self.data) - 1
            if t >= positions.shape[0]:
                return
            want = int(positions[t])
            have = 0 if not self.position else (1 if self.position.is_long else -1)
            if want == have:
                return
            if have:
                self.position.close()
            if want == 1:
                self.buy(size=0.9999)
            elif want == -1:
                self.sell(size=0.9999)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            df, Replay, cash=1_000_000, commission=fee, finalize_trades=True, fractional_unit=1e-8
        )
        out = bt.run()
    return float(out["Return [%]"]) / 100.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=35_040, help="signal bars (one year = 35040)")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()

    bench = Benchmark.from_bars(synthetic_bars(args.bars + WARMUP + 1, seed=2024), name="synthetic")
    cfg = ModelConfig()
    # a briefly trained model: an untrained one churns every bar and is wiped out by fees
    from flchain.market.partition import node_partition
    from flchain.model import train

    train_bars, _ = node_partition("0x" + "00" * 19 + "01", seed=0)
    weights = train(init_weights(cfg), cfg, train_bars, seed=1)
    x = bench.exec_prices
    fee = fee_from_ppm(FEE_PPM)

    t_inf = best_of(
        lambda: reference_positions(weights, cfg, bench.bars), max(3, args.repeat // 10)
    )
    w = reference_positions(weights, cfg, bench.bars)
    t_roi = best_of(lambda: roi_bps(x, w, FEE_PPM), args.repeat)
    ours = roi(x, w, fee)
    trades = int(np.count_nonzero(np.diff(np.concatenate(([0], w))) != 0))
    print(f"signal bars: {w.shape[0]}  position changes: {trades}  fee: {FEE_PPM} ppm")
    print(f"flchain reference inference: {t_inf * 1e3:8.2f} ms  ({1 / t_inf:8.1f} /s)")
    print(f"flchain roi_bps:             {t_roi * 1e3:8.3f} ms  ({1 / t_roi:8.1f} backtests/s)")
    print(
        f"flchain inference + roi:     {(t_inf + t_roi) * 1e3:8.2f} ms  ({1 / (t_inf + t_roi):8.1f} model backtests/s)"
    )
    print(f"flchain ROI: {ours:.15f}  ({roi_bps(x, w, FEE_PPM)} bps)")

    peers: list[tuple[str, Callable[[], float]]] = [
        ("vectorbt", lambda: vectorbt_roi(x, w, fee)),
        ("backtesting.py", lambda: backtesting_roi(bench, w, fee)),
    ]
    for name, fn in peers:
        try:
            value = fn()  # also warms up numba / imports
        except ImportError:
            print(f"{name}: not installed, skipped (pip install -e '.[bench]')")
            continue
        t_peer = best_of(fn, max(1, args.repeat // 10) if name == "vectorbt" else 1)
        print(
            f"{name:15s} ROI {value:.15f}  |diff| {abs(value - ours):.2e}  time {t_peer * 1e3:9.2f} ms"
            f"  → flchain roi_bps is {t_peer / t_roi:8.1f}x faster"
        )


if __name__ == "__main__":
    main()

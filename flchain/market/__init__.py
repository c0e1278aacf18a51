"""Market data: the OHLCV type, loaders and cleaning, synthetic bars, partitions, benchmarks.

`flchain.market.planted` is the exact planted-signal market (integer arithmetic only), with its
own non-IID node partitions and held-out benchmark windows.

Public API: `OHLCV`, `Benchmark`, `MarketDataError`; `flchain.market.benchmark.resolve(id)`,
`default_benchmark()`, `benchmark_for_round(r)`; loaders in `flchain.market.loaders`.
"""

from __future__ import annotations

from flchain.market.benchmark import (
    WARMUP,
    Benchmark,
    default_benchmark,
    exec_prices,
    resolve,
    signal_count,
)
from flchain.market.errors import MarketDataError, UnknownBenchmarkError
from flchain.market.ohlcv import OHLCV

__all__ = [
    "OHLCV",
    "WARMUP",
    "Benchmark",
    "MarketDataError",
    "UnknownBenchmarkError",
    "default_benchmark",
    "exec_prices",
    "resolve",
    "signal_count",
]

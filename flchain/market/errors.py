"""Errors raised by market data loading, cleaning and benchmarks."""

from __future__ import annotations

from flchain.errors import FlchainError, UnavailableError


class MarketDataError(FlchainError):
    """Market data is missing, malformed or violates the OHLCV invariants."""


class UnknownBenchmarkError(MarketDataError):
    """A benchmark id names no benchmark this installation knows."""


class BenchmarkFormatError(MarketDataError):
    """Bytes offered as a benchmark file are not a canonical flchain benchmark file."""


class BenchmarkUnavailableError(UnknownBenchmarkError, UnavailableError):
    """A benchmark named by digest or CID could not be fetched from the content store
    (absent, too large, or the store failed): it does not resolve, and — like any content that
    cannot be fetched — a node retries later and an audit says it could not verify (exit 2)."""


class ForwardWindowError(BenchmarkFormatError):
    """Bytes offered as a round's forward window are not its window: not a canonical benchmark
    file, another market, or bars outside the window (one that overlaps the reveal window)."""

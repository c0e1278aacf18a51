"""Errors raised by market data loading, cleaning and benchmarks."""

from __future__ import annotations

from flchain.errors import FlchainError


class MarketDataError(FlchainError):
    """Market data is missing, malformed or violates the OHLCV invariants."""


class UnknownBenchmarkError(MarketDataError):
    """A benchmark id names no benchmark this installation knows."""

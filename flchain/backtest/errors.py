"""Errors raised by the backtest."""

from __future__ import annotations

from flchain.errors import FlchainError


class BacktestError(FlchainError):
    """Inputs to a backtest are malformed (lengths, positions outside {-1,0,1}, bad prices)."""

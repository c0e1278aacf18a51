"""Shared fixtures for market/model/backtest tests: small real data, no mocks."""

from __future__ import annotations

import pytest

from flchain.market import OHLCV
from flchain.market.benchmark import held_out_start
from flchain.market.loaders import load_btc_15min


@pytest.fixture(scope="session")
def btc_train() -> OHLCV:
    """A small slice of the shipped 15-minute bars before the benchmark windows."""
    bars = load_btc_15min().bars
    stop = held_out_start()
    return bars.slice(stop - 1_500, stop)

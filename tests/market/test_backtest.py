"""ROI (DESIGN §4): hand-computed cases, an independent plain-loop implementation, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flchain.backtest import (
    BacktestError,
    equity_curve,
    roi,
    roi_bps,
    roi_to_bps,
    stats,
)


def plain_loop_roi(prices: list[float], positions: list[int], fee: float) -> float:
    """Independent implementation: walk the bars, open/close trades one by one."""
    growth = 1.0
    side = 0
    entry = 0.0
    for t in range(len(positions) + 1):
        want = positions[t] if t < len(positions) else 0
        if want != side:
            if side != 0:
                rho = prices[t] / entry
                m = (1 + side * (rho - 1) - fee * rho) / (1 + fee)
                if m <= 0:
                    return -1.0
                growth *= m
            side = want
            entry = prices[t]
    return growth - 1.0


def test_no_trades_is_zero() -> None:
    assert roi([1.0, 2.0, 3.0], [0, 0], 0.001) == 0.0
    assert roi([5.0], [], 0.01) == 0.0


def test_single_long_without_fee() -> None:
    # buy at 100, hold two bars, sell at 121
    assert roi([100.0, 110.0, 121.0], [1, 1], 0.0) == pytest.approx(0.21, abs=1e-15)


def test_single_short_with_fee() -> None:
    f = 0.001
    rho = 90.0 / 100.0
    expected = (1 - (rho - 1) - f * rho) / (1 + f) - 1
    assert roi([100.0, 90.0], [-1], f) == pytest.approx(expected, abs=1e-16)
    assert expected == pytest.approx(0.0980020, abs=1e-7)  # (1.1 - 0.0009) / 1.001 - 1


def test_flip_is_two_trades_sharing_a_price() -> None:
    f = 0.002
    x = [100.0, 120.0, 90.0, 95.0]
    m1 = (1 + (120 / 100 - 1) - f * 1.2) / (1 + f)
    rho2 = 95.0 / 120.0
    m2 = (1 - (rho2 - 1) - f * rho2) / (1 + f)
    assert roi(x, [1, -1, -1], f) == pytest.approx(m1 * m2 - 1, abs=1e-15)
    assert stats(x, [1, -1, -1], 2_000).trades == 2


def test_position_open_at_end_closes_at_last_price() -> None:
    assert roi([10.0, 10.0, 20.0], [0, 1], 0.0) == pytest.approx(1.0)


def test_wipe_out_gives_minus_one() -> None:
    # short and the price triples: m = 1 - 2 < 0
    assert roi([1.0, 3.0, 3.0], [-1, 0], 0.0) == -1.0
    assert roi_bps([1.0, 3.0, 3.0], [-1, 0], 0) == -10_000


def test_round_trip_fee_only() -> None:
    f = 0.001
    assert roi([50.0, 50.0], [1], f) == pytest.approx((1 - f) / (1 + f) - 1, abs=1e-16)


def test_bps_rounding_rule_half_to_even() -> None:
    assert roi_to_bps(0.00005) in (0, 1)  # 0.00005 is not exactly representable
    assert roi_to_bps(0.5) == 5_000
    assert roi_to_bps(-0.123456) == -1_235
    assert roi_to_bps(0.000149999) == 1
    assert roi_to_bps(0.00015000001) == 2


def test_roi_bps_uses_ppm_fee() -> None:
    x, w = [100.0, 110.0], [1]
    assert roi_bps(x, w, 1_000) == roi_to_bps(roi(x, w, 0.001))


positions_strategy = st.lists(st.sampled_from([-1, 0, 1]), min_size=0, max_size=60)


@settings(max_examples=300, deadline=None)
@given(
    positions=positions_strategy,
    data=st.data(),
    fee=st.floats(min_value=0.0, max_value=0.01),
)
def test_matches_plain_loop(positions: list[int], data: st.DataObject, fee: float) -> None:
    prices = data.draw(
        st.lists(
            st.floats(min_value=0.5, max_value=2.0),
            min_size=len(positions) + 1,
            max_size=len(positions) + 1,
        )
    )
    got = roi(prices, positions, fee)
    want = plain_loop_roi(prices, positions, fee)
    assert math.isclose(got, want, rel_tol=0.0, abs_tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(positions=positions_strategy.filter(len), seed=st.integers(0, 2**32 - 1))
def test_equity_curve_ends_at_roi(positions: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    prices = 100.0 * np.cumprod(1.0 + rng.normal(0, 0.01, len(positions) + 1))
    eq = equity_curve(prices, positions, 0.001)
    assert eq.shape == (len(positions) + 1,)
    assert eq[-1] == pytest.approx(1.0 + roi(prices, positions, 0.001), rel=1e-12)


@pytest.mark.parametrize(
    ("prices", "positions", "fee", "message"),
    [
        ([1.0, 2.0], [1, 1], 0.0, r"len\(prices\) == len\(positions\) \+ 1"),
        ([1.0, 0.0], [1], 0.0, "finite and positive"),
        ([1.0, -2.0], [1], 0.0, "finite and positive"),
        ([1.0, float("nan")], [1], 0.0, "finite and positive"),
        ([1.0, 2.0], [2], 0.0, r"-1, 0 or \+1"),
        ([1.0, 2.0], [1], -0.1, "fee must be"),
        ([[1.0, 2.0]], [1], 0.0, "one-dimensional"),
    ],
)
def test_bad_input_is_refused(prices: object, positions: object, fee: float, message: str) -> None:
    with pytest.raises(BacktestError, match=message):
        roi(prices, positions, fee)


def test_bad_fee_ppm_is_refused() -> None:
    with pytest.raises(BacktestError, match="fee_ppm"):
        roi_bps([1.0, 2.0], [1], -1)
    with pytest.raises(BacktestError, match="integer"):
        roi_bps([1.0, 2.0], [1], 0.5)  # type: ignore[arg-type]


def test_stats_report_figures() -> None:
    x = [100.0, 110.0, 99.0, 99.0, 120.0]
    s = stats(x, [1, 1, 0, 1], 0)
    assert s.trades == 2
    assert s.exposure == 0.75
    assert s.max_drawdown == pytest.approx(0.1)
    assert s.roi == pytest.approx(0.99 * 120 / 99 - 1)

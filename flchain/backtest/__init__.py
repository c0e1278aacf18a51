"""The deterministic backtest behind every ROI claim (DESIGN.md §4).

Definition, written down once and implemented here only:

- ``positions`` ``w_t ∈ {-1, 0, +1}`` for ``T`` signal bars; ``prices`` ``x_0 … x_T`` are the
  execution prices (``x_t`` = the open of the bar after signal bar ``t``; ``x_T`` closes the
  book). The book is flat before ``w_0`` and after ``w_{T-1}``.
- A trade ``k`` is a maximal stretch of constant non-zero ``w`` with side ``s_k``; it opens at
  ``x[i_k]`` (the first index of the stretch) and closes at ``x[j_k]`` (one past its last index).
  A flip from +1 to -1 is two trades that share the price ``x[j]``.
- ``ρ_k = x[j_k] / x[i_k]``, ``m_k = (1 + s_k (ρ_k − 1) − f ρ_k) / (1 + f)``,
  ``ROI = ∏ m_k − 1``, and ``ROI = −1`` if any ``m_k ≤ 0`` (the account is wiped out).

Bit-identity: every ``m_k`` is computed by IEEE-754 float64 element-wise operations in the order
written above (numpy element-wise ufuncs round each operation exactly once, with no fused
multiply-add and no reordering), and the product is a strictly sequential left-to-right
accumulation in trade order (``np.multiply.accumulate``, never ``np.prod``). The same inputs give
the same float64 on every machine.

Cross-checks (``bench/backtest.py``, ``tests/market/test_peers.py``): vectorbt's
``Portfolio.from_orders`` reproduces this trade model exactly with ``size=±inf`` entries and
flips (all cash long / 100 % of free cash short, fee inside), ``targetamount`` 0 exits,
``fees=f`` and ``min_size=0`` (its default 1e-8-unit minimum silently drops orders once equity
per unit price is small); backtesting.py's ``FractionalBacktest`` does with one bar prepended,
one appended at ``x_T``, ``margin=0.5`` and relative size 0.5 (100 % of equity), and a large
cash so that whole ``fractional_unit`` truncation is negligible. Measured on one year of
15-minute bars: both agree to ≲ 2e-13 relative on ``1 + ROI``; only float rounding remains.

``roi_bps`` converts that float64 exactly (as a rational) to basis points and rounds half to
even, so there is exactly one rounding between the float64 ROI and the integer claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from flchain.backtest.errors import BacktestError
from flchain.protocol.constants import BPS, PPM

__all__ = [
    "BacktestError",
    "BacktestStats",
    "equity_curve",
    "roi",
    "roi_bps",
    "stats",
    "trade_multipliers",
]


def _validated(prices: Any, positions: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int8]]:
    x = np.asarray(prices, dtype=np.float64)
    w_raw = np.asarray(positions)
    if x.ndim != 1 or w_raw.ndim != 1:
        raise BacktestError("prices and positions must be one-dimensional")
    if x.shape[0] != w_raw.shape[0] + 1:
        raise BacktestError(
            f"need len(prices) == len(positions) + 1, got {x.shape[0]} prices "
            f"for {w_raw.shape[0]} positions"
        )
    if not np.all(np.isfinite(x)) or not np.all(x > 0.0):
        raise BacktestError("execution prices must be finite and positive")
    if w_raw.size and not np.all(np.isin(w_raw, (-1, 0, 1))):
        raise BacktestError("positions must be -1, 0 or +1")
    return x, w_raw.astype(np.int8)


def _validated_fee(fee: float) -> float:
    if not math.isfinite(fee) or fee < 0.0 or fee >= 1.0:
        raise BacktestError(f"fee must be in [0, 1), got {fee!r}")
    return float(fee)


def _trade_bounds(
    w: npt.NDArray[np.int8],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Entry index, exit index and side of every trade, in time order."""
    padded = np.zeros(w.shape[0] + 2, dtype=np.int8)
    padded[1:-1] = w
    # change[t] is True when the position held after price index t differs from before it
    change = padded[1:] != padded[:-1]  # length T + 1, index = price index
    change_idx = np.flatnonzero(change)
    held_after = padded[1:][change_idx]  # position opened at each change point
    entries = change_idx[held_after != 0]
    # a trade opened at change point c closes at the next change point
    nxt = np.searchsorted(change_idx, entries, side="right")
    exits = change_idx[nxt]
    sides = padded[1:][entries].astype(np.float64)
    return entries, exits, sides


def trade_multipliers(prices: Any, positions: Any, fee: float) -> npt.NDArray[np.float64]:
    """Per-trade growth factors ``m_k`` in time order (see the module docstring)."""
    x, w = _validated(prices, positions)
    f = _validated_fee(fee)
    entries, exits, sides = _trade_bounds(w)
    rho = x[exits] / x[entries]
    return (1.0 + sides * (rho - 1.0) - f * rho) / (1.0 + f)


def _roi_from_multipliers(m: npt.NDArray[np.float64]) -> float:
    if m.size == 0:
        return 0.0
    if np.any(m <= 0.0):
        return -1.0
    growth = float(np.multiply.accumulate(m)[-1])  # sequential, left to right
    return growth - 1.0


def roi(prices: Any, positions: Any, fee: float) -> float:
    """ROI of ``positions`` executed at ``prices`` with proportional ``fee`` (DESIGN.md §4).

    @param prices execution prices, length T + 1, finite and > 0
    @param positions T values in {-1, 0, +1}
    @param fee fee rate per unit notional per side, in [0, 1)
    @return the ROI as a float64 (0.0 for no trades, -1.0 if any trade wipes the account out)
    """
    return _roi_from_multipliers(trade_multipliers(prices, positions, fee))


def fee_from_ppm(fee_ppm: int) -> float:
    """The float fee for an integer ppm rate (one correctly rounded division)."""
    if isinstance(fee_ppm, bool) or not isinstance(fee_ppm, int | np.integer):
        raise BacktestError(f"fee_ppm must be an integer, got {type(fee_ppm).__name__}")
    if fee_ppm < 0 or fee_ppm >= PPM:
        raise BacktestError(f"fee_ppm must be in [0, 1000000), got {fee_ppm}")
    return int(fee_ppm) / PPM


def roi_to_bps(value: float) -> int:
    """Round a float64 ROI to integer basis points: exact rational × 10 000, half to even."""
    if not math.isfinite(value):
        raise BacktestError("ROI is not finite")
    return round(Fraction(value) * BPS)


def roi_bps(prices: Any, positions: Any, fee_ppm: int) -> int:
    """ROI in integer basis points, the number claimed on-chain and checked by the merge.

    ``fee = fee_ppm / 1e6`` (one IEEE division), ``roi`` as above, then ``roi_to_bps``:
    the float64 ROI is converted exactly to a rational, multiplied by 10 000 and rounded half to
    even. The result is identical on every machine.
    """
    return roi_to_bps(roi(prices, positions, fee_from_ppm(fee_ppm)))


def equity_curve(prices: Any, positions: Any, fee: float) -> npt.NDArray[np.float64]:
    """Mark-to-market equity (start 1.0) at each execution price, length T + 1.

    For reports only (it is not on the claim path): equity at price index t includes every
    closed trade and the open trade marked at ``x_t`` net of its exit fee. Its last value equals
    ``1 + roi(...)`` up to float rounding.
    """
    x, w = _validated(prices, positions)
    f = _validated_fee(fee)
    entries, exits, sides = _trade_bounds(w)
    rho_all = x[exits] / x[entries]
    m = np.maximum((1.0 + sides * (rho_all - 1.0) - f * rho_all) / (1.0 + f), 0.0)
    before = np.concatenate(([1.0], np.multiply.accumulate(m)[:-1])) if m.size else m
    out = np.ones(x.shape[0], dtype=np.float64)
    # trades are in time order, so a later trade overwrites the tail a former one left behind
    for k in range(entries.shape[0]):
        i, j, s = int(entries[k]), int(exits[k]), float(sides[k])
        rho = x[i : j + 1] / x[i]
        out[i : j + 1] = before[k] * np.maximum((1.0 + s * (rho - 1.0) - f * rho) / (1.0 + f), 0.0)
        out[j + 1 :] = before[k] * m[k]
    return out


@dataclass(frozen=True)
class BacktestStats:
    """Report figures for one backtest (floats are for people, not for decisions)."""

    roi: float
    roi_bps: int
    trades: int
    exposure: float  # share of signal bars with a non-zero position
    max_drawdown: float  # largest peak-to-trough fall of the equity curve, as a positive fraction
    sharpe: float  # mean / std of per-bar equity returns, not annualised (0 if undefined)


def stats(prices: Any, positions: Any, fee_ppm: int) -> BacktestStats:
    """ROI, trade count, exposure, max drawdown and per-bar Sharpe for a report."""
    fee = fee_from_ppm(fee_ppm)
    x, w = _validated(prices, positions)
    value = roi(x, w, fee)
    entries, _, _ = _trade_bounds(w)
    eq = equity_curve(x, w, fee)
    peak = np.maximum.accumulate(eq)
    dd = float(np.max(1.0 - eq / peak)) if eq.size else 0.0
    rets = eq[1:] / eq[:-1] - 1.0 if eq.size > 1 else np.zeros(0)
    rets = rets[np.isfinite(rets)]
    sd = float(np.std(rets)) if rets.size > 1 else 0.0
    sharpe = float(np.mean(rets)) / sd if sd > 0.0 else 0.0
    return BacktestStats(
        roi=value,
        roi_bps=roi_to_bps(value),
        trades=int(entries.shape[0]),
        exposure=float(np.count_nonzero(w)) / w.shape[0] if w.shape[0] else 0.0,
        max_drawdown=dd,
        sharpe=sharpe,
    )

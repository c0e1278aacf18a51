"""An exact synthetic market with something to learn: a weak, regime-dependent planted signal.

Why it exists: the shipped BTC-USD quarter is a falling market in which no trained model beats
always-flat net of fees, so it cannot show whether the federation's rules help. This market has
a signal a small model can find, only in some regimes, and nodes see different parts of it.

Bit-identity: every number comes from integer arithmetic (exact, so order-free and the same on
every CPU) on PCG64's raw 64-bit outputs (a fixed algorithm; never numpy's distribution
methods). Prices are integers in units of ``10⁻⁸`` (`PRICE_SCALE`), returns integers in ``10⁻⁹``
(`RET_SCALE`); the float64 OHLCV is each integer divided once by `PRICE_SCALE` (correctly
rounded). No exp, log or tanh anywhere, so one seed gives the same bars on AVX-512 and AVX2.

The model of the market, per 15-minute bar t (all in ppb of price):

- a regime (`REGIMES`) from a Markov chain: each bar the regime ends with probability
  1/`MEAN_REGIME_BARS` and the next one is drawn by `REGIME_WEIGHTS`;
- a latent drift ``m_t = ⌊(63·m_{t−1}) / 64⌋ + trend_ppb·ε_t`` — its innovations are non-zero
  only in the *trend* regime, so the drift builds up there and decays (half-life ≈ 44 bars)
  elsewhere: that persistence is the planted signal (past returns predict future ones), weak
  (≈4 % of a trend bar's return variance: corr(drift, return) ≈ 0.2) and absent in *chop* and
  *storm*. Weak enough that a model trading every bar loses to fees (10 bps a side), strong
  and slow enough that one holding for tens of bars can earn them;
- the close-to-close return ``r_t = m_t + vol_ppb·η_t`` (storm bars multiply ``η`` by
  `TAIL_FACTOR` with probability 1/`TAIL_EVERY`: fat tails), clipped to ±`MAX_RET_PPB`;
- the open a small gap from the previous close, high/low wicks beyond open/close, and a volume
  that grows with the bar's absolute return and with the regime's activity.

``ε`` and ``η`` are Irwin–Hall sums of 12 uniform 32-bit integers (mean 0, standard deviation
2³²), a close and exact stand-in for a normal draw.

`planted_world(seed)` is one long history: its first `TRAIN_BARS` bars are the "private" pool
nodes draw their data from (`planted_partition`, non-IID like `flchain.market.partition`: each
node a random span, 15-minute or hourly bars, its own price noise), the rest are the held-out
benchmark windows (`planted_window`), which no partition touches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from flchain.market.benchfile import encode
from flchain.market.benchmark import WARMUP, WINDOW_SIGNALS, Benchmark
from flchain.market.errors import MarketDataError
from flchain.market.ohlcv import OHLCV
from flchain.market.partition import PartitionSpec, resample

__all__ = [
    "PLANTED_WINDOWS",
    "PRICE_SCALE",
    "REGIMES",
    "PlantedWorld",
    "Regime",
    "planted_bars",
    "planted_partition",
    "planted_window",
    "planted_world",
]

PRICE_SCALE = 10**8  # prices are integers in 1e-8 units of the quote currency
RET_SCALE = 10**9  # returns and noise are integers in parts per billion
START_MS = 1_609_459_200_000  # 2021-01-01T00:00:00Z, on the 15-minute grid
STEP_MS = 900_000
START_PRICE = 30_000 * PRICE_SCALE
BASE_VOLUME = 50 * PRICE_SCALE  # 50 units a bar in a quiet regime

MEAN_REGIME_BARS = 400
DRIFT_KEEP = (63, 64)  # m_t = floor(63 m_{t-1} / 64) + innovation
TAIL_EVERY = 32
TAIL_FACTOR = 4
MAX_RET_PPB = 200_000_000  # no bar moves more than 20 %
MIN_PRICE = PRICE_SCALE // 100

PLANTED_EXCHANGE = "planted"  # the canonical files of its windows name this venue and pair
PLANTED_SYMBOL = "PLT/USD"
TRAIN_BARS = 24_000  # the pool node partitions are cut from
PLANTED_WINDOWS = 8  # held-out benchmark windows after it
WORLD_BARS = TRAIN_BARS + WARMUP + 1 + PLANTED_WINDOWS * WINDOW_SIGNALS


@dataclass(frozen=True)
class Regime:
    """One market regime: return noise, drift innovation and activity, all integers."""

    name: str
    vol_ppb: int  # standard deviation of a bar's noise
    trend_ppb: int  # standard deviation of the latent drift's innovation (0: no signal)
    fat_tails: bool
    volume_ppm: int  # typical volume relative to `BASE_VOLUME`


REGIMES = (
    Regime("trend", vol_ppb=2_500_000, trend_ppb=88_000, fat_tails=False, volume_ppm=1_200_000),
    Regime("chop", vol_ppb=2_500_000, trend_ppb=0, fat_tails=False, volume_ppm=800_000),
    Regime("storm", vol_ppb=6_000_000, trend_ppb=0, fat_tails=True, volume_ppm=2_500_000),
)
REGIME_WEIGHTS = (2, 2, 1)  # trend and chop twice as likely as storm when a regime ends

I64 = npt.NDArray[np.int64]

_HALF = np.uint64(32)
_LOW32 = np.uint64(0xFFFF_FFFF)


class _Stream:
    """Raw PCG64 outputs consumed in a fixed order (same seed → same integers everywhere)."""

    def __init__(self, seed: int) -> None:
        self._gen = np.random.PCG64(seed)

    def uniform32(self, count: int) -> I64:
        """``count`` uniform integers in [0, 2³²) (both halves of each 64-bit output)."""
        raw = np.asarray(self._gen.random_raw((count + 1) // 2), dtype=np.uint64)
        halves = np.empty(2 * raw.shape[0], dtype=np.uint64)
        halves[0::2] = raw >> _HALF
        halves[1::2] = raw & _LOW32
        return halves[:count].astype(np.int64)

    def normal(self, count: int) -> I64:
        """Irwin–Hall(12) − 6, scaled: mean 0, standard deviation 2³² (exact integers)."""
        u = self.uniform32(12 * count).reshape(count, 12)
        acc = u[:, 0].copy()
        for k in range(1, 12):
            acc += u[:, k]
        out: I64 = acc - 6 * (1 << 32)
        return out


def _scaled(std_ppb: npt.ArrayLike, z: I64) -> I64:
    """``⌊std · z / 2³²⌋``: a draw of standard deviation ``std`` (exact; std · z < 2⁶³)."""
    out: I64 = (np.asarray(std_ppb, dtype=np.int64) * z) >> 32
    return out


def _regimes(stream: _Stream, n: int) -> npt.NDArray[np.int8]:
    ends = stream.uniform32(n) < (1 << 32) // MEAN_REGIME_BARS
    picks = stream.uniform32(n) % sum(REGIME_WEIGHTS)
    table = np.repeat(np.arange(len(REGIME_WEIGHTS), dtype=np.int8), REGIME_WEIGHTS)
    out = np.empty(n, dtype=np.int8)
    current = int(table[int(picks[0])])
    for t in range(n):
        if t and ends[t]:
            current = int(table[int(picks[t])])
        out[t] = current
    return out


@dataclass(frozen=True, eq=False)
class PlantedWorld:
    """One seeded history: integer bars, its regimes and the latent drift (the "answer")."""

    seed: int
    timestamps: I64
    open: list[int]
    high: list[int]
    low: list[int]
    close: list[int]
    volume: list[int]
    regimes: npt.NDArray[np.int8]
    drift_ppb: list[int]

    def bars(self, start: int = 0, stop: int | None = None) -> OHLCV:
        """Bars ``[start, stop)`` as float64 (each integer divided once by `PRICE_SCALE`)."""
        sl = slice(start, len(self.close) if stop is None else stop)

        def col(values: list[int]) -> npt.NDArray[np.float64]:
            return np.array(values[sl], dtype=np.int64).astype(np.float64) / float(PRICE_SCALE)

        return OHLCV.of(
            self.timestamps[sl],
            col(self.open),
            col(self.high),
            col(self.low),
            col(self.close),
            col(self.volume),
        )


def generate(n: int, seed: int, regimes: tuple[Regime, ...] = REGIMES) -> PlantedWorld:
    """``n`` bars of the planted market from ``seed`` (see the module docstring); ``regimes``
    replaces `REGIMES` (same count) for controls such as a market with the signal removed."""
    if n <= 0:
        raise MarketDataError("the planted market needs at least one bar")
    if seed < 0:
        raise MarketDataError("the planted market's seed must be non-negative")
    if len(regimes) != len(REGIME_WEIGHTS):
        raise MarketDataError(f"the planted market has {len(REGIME_WEIGHTS)} regimes")
    stream = _Stream(seed)
    state = _regimes(stream, n)
    vol = np.array([r.vol_ppb for r in regimes], dtype=np.int64)[state]
    trend = np.array([r.trend_ppb for r in regimes], dtype=np.int64)[state]
    activity = np.array([r.volume_ppm for r in regimes], dtype=np.int64)[state]
    tails = np.array([r.fat_tails for r in regimes])[state]
    innovation = _scaled(trend, stream.normal(n))
    eta = stream.normal(n)
    tail_hit = tails & (stream.uniform32(n) < (1 << 32) // TAIL_EVERY)
    eta = np.where(tail_hit, eta * TAIL_FACTOR, eta)
    noise = _scaled(vol, eta)
    gap = _scaled(vol // 20, stream.normal(n))
    wick_up = np.abs(_scaled(vol // 2, stream.normal(n)))
    wick_down = np.abs(_scaled(vol // 2, stream.normal(n)))
    volume_noise = _scaled(300_000, stream.normal(n))  # ±30 % (ppm), before clipping

    keep_num, keep_den = DRIFT_KEEP
    opens: list[int] = []
    highs: list[int] = []
    lows: list[int] = []
    closes: list[int] = []
    volumes: list[int] = []
    drifts: list[int] = []
    m = 0
    prev = START_PRICE
    for t in range(n):
        m = (keep_num * m) // keep_den + int(innovation[t])
        r = max(-MAX_RET_PPB, min(MAX_RET_PPB, m + int(noise[t])))
        o = max(MIN_PRICE, prev * (RET_SCALE + int(gap[t])) // RET_SCALE)
        c = max(MIN_PRICE, prev * (RET_SCALE + r) // RET_SCALE)
        hi = max(o, c) * (RET_SCALE + int(wick_up[t])) // RET_SCALE
        lo = max(1, min(o, c) * (RET_SCALE - int(wick_down[t])) // RET_SCALE)
        # volume: regime activity × (1 + |r| / vol) × (1 + noise), in ppm steps
        v_vol = int(vol[t])
        excite = 1_000_000 + abs(r) * 1_000_000 // v_vol
        jitter = max(100_000, 1_000_000 + int(volume_noise[t]))
        v = BASE_VOLUME * int(activity[t]) // 1_000_000 * excite // 1_000_000
        v = v * jitter // 1_000_000
        opens.append(o)
        highs.append(hi)
        lows.append(lo)
        closes.append(c)
        volumes.append(v)
        drifts.append(m)
        prev = c
    ts = START_MS + STEP_MS * np.arange(n, dtype=np.int64)
    return PlantedWorld(seed, ts, opens, highs, lows, closes, volumes, state, drifts)


def planted_bars(n: int, seed: int) -> OHLCV:
    """``n`` bars of the planted market from ``seed``."""
    return generate(n, seed).bars()


@cache
def planted_world(seed: int) -> PlantedWorld:
    """The whole seeded history: the training pool and the held-out benchmark windows."""
    return generate(WORLD_BARS, seed)


def planted_window(seed: int, index: int) -> Benchmark:
    """Held-out benchmark window ``index`` (0 … `PLANTED_WINDOWS` − 1) of world ``seed``:
    ``WARMUP + WINDOW_SIGNALS + 1`` bars; window 0 is the latest, window k ends k·1000 bars
    earlier (as the shipped BTC-USD windows). Its warm-up may reach into the pool's last bars,
    its signal bars never do."""
    if not 0 <= index < PLANTED_WINDOWS:
        raise MarketDataError(f"planted window {index} does not exist (0 … {PLANTED_WINDOWS - 1})")
    size = WARMUP + WINDOW_SIGNALS + 1
    stop = WORLD_BARS - index * WINDOW_SIGNALS
    bars = planted_world(seed).bars(stop - size, stop)
    file = encode(bars, PLANTED_EXCHANGE, PLANTED_SYMBOL, WARMUP)
    if file.bars != bars:  # pragma: no cover - the world's integers are already 8-decimal
        raise MarketDataError("planted window is not exactly representable as a file")
    return Benchmark.from_file(file, name=f"planted-s{seed}-w{index}")


PLANTED_BAR_SIZES = ("15m", "15m", "1h")  # factor 1 or 4: two in three nodes keep 15 minutes


def _node_seed(node: str, seed: int) -> int:
    digest = hashlib.sha256(f"planted/{seed}/{node.lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _with_noise(bars: OHLCV, stream: _Stream, noise_ppm: int) -> OHLCV:
    """Each bar's prices times (1 + ε), ε of standard deviation ``noise_ppm``, exactly rounded
    (a venue's quotes differ a little); high/low still enclose open/close."""
    if noise_ppm == 0:
        return bars
    eps = _scaled(noise_ppm * 1_000, stream.normal(len(bars)))  # ppb
    k = (RET_SCALE + eps).astype(np.float64) / float(RET_SCALE)
    o, c = bars.open * k, bars.close * k
    return OHLCV.of(
        bars.timestamps,
        o,
        np.maximum(bars.high * k, np.maximum(o, c)),
        np.minimum(bars.low * k, np.minimum(o, c)),
        c,
        bars.volume,
    )


def planted_partition(
    node: str, seed: int = 0, min_bars: int = 1_500
) -> tuple[OHLCV, PartitionSpec]:
    """The private training bars of ``node`` in world ``seed`` (deterministic in both).

    A random span of the pool (so each node sees its own mix of regimes), 15-minute or hourly
    bars, and a node-specific price noise; never a benchmark window's signal bars.
    """
    s = _node_seed(node, seed)
    stream = _Stream(s)
    pick = stream.uniform32(4)
    bar_size = PLANTED_BAR_SIZES[int(pick[0]) % len(PLANTED_BAR_SIZES)]
    factor = 4 if bar_size == "1h" else 1
    pool = TRAIN_BARS // factor
    need = min(max(min_bars, WARMUP + 64), pool)
    length = need + int(pick[1]) % (pool - need + 1)
    start = int(pick[2]) % (pool - length + 1)
    noise_ppm = (0, 0, 200, 1_000)[int(pick[3]) % 4]
    world = planted_world(seed)
    source = world.bars(0, TRAIN_BARS)
    if factor > 1:
        source = resample(source, factor)
    bars = _with_noise(source.slice(start, start + length), stream, noise_ppm)
    spec = PartitionSpec(
        node=node, bar_size=bar_size, start=start, stop=start + length, noise_ppm=noise_ppm
    )
    return bars, spec

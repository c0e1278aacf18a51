"""Run in a subprocess by test_model.py: print positions + ROI bps for a fixed model.

argv: thread count. Thread settings are applied before anything heavy is imported.
"""

from __future__ import annotations

import hashlib
import json
import sys

import torch

threads = int(sys.argv[1])
torch.set_num_threads(threads)

from flchain.backtest import roi_bps  # noqa: E402
from flchain.market.benchmark import default_benchmark, held_out_start  # noqa: E402
from flchain.market.loaders import load_btc_15min  # noqa: E402
from flchain.model import ModelConfig, init_weights, reference_positions, train  # noqa: E402

cfg = ModelConfig(epochs=1, init_seed=7)
bars = load_btc_15min().bars
stop = held_out_start()
weights = train(init_weights(cfg), cfg, bars.slice(stop - 800, stop), seed=3)
bench = default_benchmark()
pos = reference_positions(weights, cfg, bench.bars)
wdigest = hashlib.sha256(b"".join(weights[k].tobytes() for k in sorted(weights))).hexdigest()
print(
    json.dumps(
        {
            "threads": torch.get_num_threads(),
            "positions": hashlib.sha256(pos.tobytes()).hexdigest(),
            "roi_bps": roi_bps(bench.exec_prices, pos, 1_000),
            "weights": wdigest,
        }
    )
)

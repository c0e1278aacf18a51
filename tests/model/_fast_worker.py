"""Run in a subprocess by test_fast_reference.py: digests of the fast reference path.

argv: thread count, case count. Thread settings are applied before numpy/torch do any work.
Prints one JSON line: {label: sha256 of (feature bits ‖ logit bits ‖ positions)}.
"""

from __future__ import annotations

import hashlib
import json
import sys

import torch

threads, count = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)

from _cases import cases  # noqa: E402

from flchain.market import signal_count  # noqa: E402
from flchain.model import feature_matrix, reference_logits, reference_positions  # noqa: E402

out = {"threads": torch.get_num_threads()}
for label, cfg, weights, bars in cases(count):
    x = feature_matrix(bars, cfg)
    z = reference_logits(weights, x[: signal_count(bars)])
    pos = reference_positions(weights, cfg, bars)
    h = hashlib.sha256(x.tobytes() + z.tobytes() + pos.tobytes()).hexdigest()
    out[label] = h
print(json.dumps(out))

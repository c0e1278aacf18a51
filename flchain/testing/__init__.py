"""flchain.testing — what tests and benchmarks drive a federation with (never the product).

- `driver`: `RoundDriver` — real `NodeRunner`s on funded wallets, played round by round, with the
  faults of a `RoundPlan` plugged in through the node's `Behaviour` extension points;
  `RoundDriverV2` / `RoundPlanV2` — the same for protocol v2 on `NodeRunnerV2`.
- `updates`: `PerturbedUpdates` — the fast, valid update source the driver uses by default.

Nothing under `flchain/` imports this package (tests/test_architecture.py checks it).
"""

from flchain.testing.driver import RoundDriver, RoundDriverV2, RoundPlan, RoundPlanV2
from flchain.testing.updates import PERTURBED, PerturbedUpdates

__all__ = [
    "PERTURBED",
    "PerturbedUpdates",
    "RoundDriver",
    "RoundDriverV2",
    "RoundPlan",
    "RoundPlanV2",
]

"""The protocol's numbers, each named once.

Units: ROI and tolerances in basis points (`BPS` = 1.0), fees, shares and thresholds in parts per
million (`PPM` = 1.0), L2 norms as integers in 1e-6 units (`NORM_SCALE` = 1.0).

The `Rules` bounds below are the contract's: `FLChain._checkRules` (contracts/FLChain.sol) and
the integer types of its `Rules` struct. Every bound is inclusive, so a field's accepted range is
`[MIN_X, MAX_X]`; an unsigned field without a `MIN_X` starts at 0. `tests/protocol/
test_rules_bounds.py` sends each edge, and one step beyond it, to the real contract.
"""

from __future__ import annotations

from typing import Final

PROTOCOL_VERSION: Final = 1

BPS: Final = 10_000  # 1.0 in basis points
PPM: Final = 1_000_000  # 1.0 in parts per million
NORM_SCALE: Final = 1_000_000  # 1.0 in norm units: norms are compared as integers in 1e-6

#: The rules' "unset" benchmark id: the merge then uses the round's shipped window (devnets).
ZERO_BENCHMARK_ID: Final = "0x" + "00" * 32

UINT16_MAX: Final = 2**16 - 1
UINT64_MAX: Final = 2**64 - 1

# ---------------------------------------------------------------- Rules bounds (_checkRules)

MIN_ROI_MIN_BPS: Final = -BPS  # a claim below -100 % is meaningless; also roiMin <= roiMax
MAX_ROI_MAX_BPS: Final = 100 * BPS
MIN_ELIGIBILITY_MIN_SCORE_BPS: Final = -100 * BPS
MAX_ELIGIBILITY_MIN_SCORE_BPS: Final = 100 * BPS
MAX_PROBATION_ROUNDS: Final = UINT16_MAX  # uint16
MIN_QUORUM: Final = 1
MAX_QUORUM: Final = UINT16_MAX  # uint16
MIN_MAX_PARTICIPANTS: Final = 1
MAX_MAX_PARTICIPANTS: Final = UINT16_MAX  # uint16
MAX_SIMILARITY_THRESHOLD_PPM: Final = PPM
MIN_CLUSTER_CAP_PPM: Final = 1  # a zero cap would leave no weight to share
MAX_CLUSTER_CAP_PPM: Final = PPM
MAX_TRIM_PPM: Final = PPM // 2 - 1  # trimming half of each side would trim everything
MAX_ROI_TOLERANCE_BPS: Final = BPS
MAX_NORM_BOUND_MICRO: Final = UINT64_MAX  # uint64
MAX_FEE_PPM: Final = PPM - 1  # a 100 % fee leaves nothing to trade


def is_unset_benchmark(benchmark_id: str) -> bool:
    """Whether a rules' benchmark id is the all-zero "unset" id (compared case-insensitively)."""
    return benchmark_id.lower() == ZERO_BENCHMARK_ID

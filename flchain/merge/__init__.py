"""The deterministic merge: validate -> verify ROI -> select -> diversity -> aggregate -> manifest.

Pure: no I/O, no clock, no environment, no global RNG. See docs/merge.md for the rules.
"""

from flchain.merge.core import Decision, MergeResult, merge
from flchain.merge.errors import AggregationError, MergeError, MergeInputError
from flchain.merge.reasons import PENALISED_REASONS, Reason

__all__ = [
    "PENALISED_REASONS",
    "AggregationError",
    "Decision",
    "MergeError",
    "MergeInputError",
    "MergeResult",
    "Reason",
    "merge",
]

"""The round schedule: the one place its arithmetic is written.

Round r is [t0 + r·L, t0 + (r+1)·L): a commit window, then a reveal window, then (v1) closed
until the next round opens, or (v2, `flchain.protocol.machine.Deployment`) a beacon window and
the attestation phase up to the deadline S(r + 1). Fixed at deployment; each contract's
`phaseAt` computes the same. Both versions share `RoundWindows`; each names its own phases.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict


class RoundWindows:
    """The arithmetic every protocol version shares, on a class that has `t0`,
    `round_length`, `commit_window` and `reveal_window` (a mixin: it holds no fields, so it
    serves a pydantic model and a dataclass alike)."""

    if TYPE_CHECKING:  # supplied by the class; not annotations at run time, so not fields
        t0: int
        round_length: int
        commit_window: int
        reveal_window: int

    def start(self, round: int) -> int:
        return self.t0 + round * self.round_length

    def commit_end(self, round: int) -> int:
        return self.t0 + round * self.round_length + self.commit_window

    def reveal_end(self, round: int) -> int:
        return self.t0 + round * self.round_length + self.commit_window + self.reveal_window

    def deadline(self, round: int) -> int:
        """The end of `round`: the next round's start."""
        return self.t0 + (round + 1) * self.round_length

    def round_at(self, ts: int) -> int:
        """The round in progress at `ts` (0 before t0, like `phaseAt`)."""
        return 0 if ts < self.t0 else (ts - self.t0) // self.round_length

    def round_offset(self, ts: int) -> tuple[int, int]:
        """(round, seconds into it) at `ts`; `ts` >= t0."""
        return divmod(ts - self.t0, self.round_length)


class Phase(IntEnum):
    """Contract `Phase` enum, same numbering."""

    NOT_STARTED = 0
    COMMIT = 1
    REVEAL = 2
    CLOSED = 3


class Schedule(RoundWindows, BaseModel):
    """Round timing fixed at deployment: round r is [t0 + r·L, t0 + (r+1)·L)."""

    model_config = ConfigDict(frozen=True)

    t0: int
    round_length: int
    commit_window: int
    reveal_window: int

    def phase_start(self, round: int, phase: Phase) -> int:
        """First second of `phase` (COMMIT, REVEAL or CLOSED) of `round`."""
        if phase == Phase.COMMIT:
            return self.start(round)
        if phase == Phase.REVEAL:
            return self.commit_end(round)
        if phase == Phase.CLOSED:
            return self.reveal_end(round)
        raise ValueError("a round has COMMIT, REVEAL and CLOSED phases only")

    def phase_at(self, ts: int) -> tuple[int, Phase]:
        """(round, phase) at timestamp `ts`, exactly as the contract's `phaseAt`."""
        if ts < self.t0:
            return 0, Phase.NOT_STARTED
        round, offset = self.round_offset(ts)
        if offset < self.commit_window:
            return round, Phase.COMMIT
        if offset < self.commit_window + self.reveal_window:
            return round, Phase.REVEAL
        return round, Phase.CLOSED

    def rounds_closed_at(self, ts: int) -> int:
        """How many rounds (0 … n-1) have a reveal window that ended by timestamp `ts`."""
        first_close = self.reveal_end(0)
        if ts < first_close:
            return 0
        return (ts - first_close) // self.round_length + 1

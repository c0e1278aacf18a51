"""The round schedule: the one place its arithmetic is written.

Round r is [t0 + r·L, t0 + (r+1)·L): a commit window, then a reveal window, then closed until
the next round opens. Fixed at deployment; the contract's `phaseAt` computes the same.
"""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel, ConfigDict


class Phase(IntEnum):
    """Contract `Phase` enum, same numbering."""

    NOT_STARTED = 0
    COMMIT = 1
    REVEAL = 2
    CLOSED = 3


class Schedule(BaseModel):
    """Round timing fixed at deployment: round r is [t0 + r·L, t0 + (r+1)·L)."""

    model_config = ConfigDict(frozen=True)

    t0: int
    round_length: int
    commit_window: int
    reveal_window: int

    def start(self, round: int) -> int:
        return self.t0 + round * self.round_length

    def commit_end(self, round: int) -> int:
        return self.start(round) + self.commit_window

    def reveal_end(self, round: int) -> int:
        return self.commit_end(round) + self.reveal_window

    def end(self, round: int) -> int:
        return self.start(round + 1)

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
        round, offset = divmod(ts - self.t0, self.round_length)
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

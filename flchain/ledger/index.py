"""One incremental, cached reader of the contract's event log, shared by every `Ledger` view.

Reading events used to mean one `eth_getLogs` over the whole history per query. On the
embedded chain eth-tester answers that by loading every block and looking up each receipt by
transaction hash (a walk back from the head), so each query cost O(chain²) and a week of
simulated rounds took seconds per query. `EventIndex` reads each block once:

- it remembers the last block it indexed and, on `sync`, asks the backend only for the blocks
  after it (`Backend.fetch_logs`: bounded `eth_getLogs` ranges over JSON-RPC; receipts the
  process already saw plus a direct one-time block scan on the embedded chain);
- every log is decoded once into a typed event (`flchain.ledger.events`) and kept in chain
  order, bucketed by event name, so a query is a list filter, not a chain read.

Reorgs. flchain runs on devnets (eth-tester, anvil, hardhat node), which never reorganise on
their own; the only rewinds are snapshot reverts. Each sync compares the hash of the last indexed
block with the chain's: if it changed (a revert, a reorg, another chain at the same URL) or the
head went below it, the index and the backend's timestamp cache start again from the deployment
block. A block hash commits to all its ancestors, so this catches any rewind at or below the
indexed tip; a reorg racing a sync on a public chain is out of scope (use a finality lag there:
`EventIndex(finality_depth=N)` indexes only blocks at least N below the head).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from flchain.ledger.events import ChainEvent, RawLog

if TYPE_CHECKING:
    from flchain.ledger.backends import Backend


def round_topic(round: int) -> bytes:
    """The first indexed topic a per-round event carries for `round` (a uint256)."""
    return round.to_bytes(32, "big")


class _Indexed:
    """An event with the raw first indexed topic it was logged with (what a topic filter sees)."""

    __slots__ = ("event", "topic1")

    def __init__(self, event: ChainEvent, topic1: bytes | None) -> None:
        self.event = event
        self.topic1 = topic1


class EventIndex:
    """The decoded event log of the contract at `address` from `from_block` on, filled
    incrementally from `backend` and shared by every Ledger on that backend and address.

    @param decode turns raw logs into `ChainEvent`s (logs of other contracts or unknown events
        are dropped by it); called once per log
    @param finality_depth index only blocks at least this far below the head (0 on devnets)
    """

    def __init__(
        self,
        backend: Backend,
        address: str,
        from_block: int,
        decode: Callable[[Iterable[RawLog]], list[ChainEvent]],
        *,
        finality_depth: int = 0,
    ) -> None:
        self.backend = backend
        self.address = address
        self.from_block = from_block
        self.finality_depth = finality_depth
        self._decode = decode
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self._all: list[_Indexed] = []
        self._by_name: dict[str, list[_Indexed]] = {}
        self._tip: tuple[int, bytes] | None = None  # last indexed block and its hash
        self.syncs = 0  # block-fetching syncs done (for tests and benches)

    @property
    def indexed_through(self) -> int:
        """The last block indexed (`from_block - 1` before the first sync)."""
        return self._tip[0] if self._tip else self.from_block - 1

    # ------------------------------------------------------------ filling

    def sync(self) -> int:
        """Index every block from the last indexed one to the chain's head (minus the finality
        depth); returns the last block indexed. Cheap when nothing was mined since."""
        with self._lock:
            number, head_hash = self.backend.head()
            target = number - self.finality_depth
            if self._tip is not None:
                tip_number, tip_hash = self._tip
                if tip_number == number and tip_hash == head_hash:
                    return tip_number
                if target < tip_number or self.backend.block_hash(tip_number) != tip_hash:
                    self._rewind()
            start = self.indexed_through + 1
            if target < start:
                return self.indexed_through
            logs = self.backend.fetch_logs(self.address, start, target)
            new_tip = head_hash if target == number else self.backend.block_hash(target)
            if new_tip is None:  # the block vanished between two reads: a rewind, start over
                self._rewind()
                return self.indexed_through
            self._add(_chain_order(logs))
            self._tip = (target, new_tip)
            self.syncs += 1
            return target

    def _rewind(self) -> None:
        """The chain no longer contains the indexed tip: forget everything it said."""
        self.backend.forget_blocks_from(self.from_block)
        self._reset()

    def _add(self, logs: Sequence[RawLog]) -> None:
        for log in logs:
            for event in self._decode([log]):
                topic1 = bytes(log["topics"][1]) if len(log["topics"]) > 1 else None
                item = _Indexed(event, topic1)
                self._all.append(item)
                self._by_name.setdefault(event.name, []).append(item)

    # ------------------------------------------------------------ reading

    def query(
        self, name: str | None = None, round: int | None = None, *, to_block: int | None = None
    ) -> list[ChainEvent]:
        """Indexed events in chain order: of kind `name` (all kinds if None), whose first
        indexed topic is `round` (like an `eth_getLogs` topic filter), up to `to_block`."""
        with self._lock:
            items = self._all if name is None else self._by_name.get(name, [])
            if round is not None:
                if round < 0:
                    return []
                wanted = round_topic(round)
                items = [i for i in items if i.topic1 == wanted]
            if to_block is not None:
                return [i.event for i in items if i.event.block_number <= to_block]
            return [i.event for i in items]


def _chain_order(logs: Sequence[RawLog]) -> list[RawLog]:
    # Stable: logs arrive in chain order; this only repairs a backend that answers out of order.
    return sorted(logs, key=lambda g: (int(g["blockNumber"]), int(g["logIndex"])))


class ReadScope:
    """At most one sync per outermost read: `round_record` asks for a dozen event lists and
    they should all come from the same indexed tip (and not pay a head check each)."""

    def __init__(self) -> None:
        self._local = threading.local()

    @property
    def active(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    @contextmanager
    def __call__(self, sync: Callable[[], int]) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            sync()
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth

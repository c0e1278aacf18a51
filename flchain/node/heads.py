"""Telling that a reorg replaced blocks a node's earlier steps saw.

    HeadWatch(backend, from_block).notice() -> first replaced block | None

Each step remembers the head it saw (and the head after its own transactions); the next step
walks back from the newest remembered head until one is still on the chain. Both runners use
it: v1 rebuilds the rounds whose transactions were in replaced blocks, v2 forgets what it kept
between steps and reads the chain again.
"""

from __future__ import annotations

from collections import deque

from flchain.ledger import Backend

#: Heads of previous steps kept to find where a reorg forked (one per step that saw a new head).
REMEMBERED_HEADS = 64


class HeadWatch:
    """The heads earlier steps saw on `backend`; `from_block` is where the contract starts."""

    def __init__(self, backend: Backend, from_block: int, keep: int = REMEMBERED_HEADS) -> None:
        self.backend = backend
        self.from_block = from_block
        self._heads: deque[tuple[int, bytes]] = deque(maxlen=keep)

    def notice(self) -> int | None:
        """The first block a reorg replaced since the previous call (None: no reorg): a head an
        earlier step saw is no longer on the chain. Remembers the current head."""
        head = self.backend.head()
        if self._heads and self._heads[-1] == head:
            return None
        rewound: int | None = None
        while self._heads:
            number, block_hash = self._heads[-1]
            if self.backend.block_hash(number) == block_hash:
                break
            self._heads.pop()
            rewound = number
        if rewound is not None:  # from just after the newest head still on the chain
            rewound = self._heads[-1][0] + 1 if self._heads else self.from_block
        self.remember(head)
        return rewound

    def remember(self, head: tuple[int, bytes] | None = None) -> None:
        """Remember `head` (default: the current head), e.g. after this node's transactions."""
        head = head or self.backend.head()
        if not self._heads or self._heads[-1] != head:
            self._heads.append(head)

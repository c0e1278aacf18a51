"""`ContractV2`: one FLChainV2 (protocol v2) contract on one backend.

The v2 artifact's ABI bound to the address, its error decoder and its event decoder (the v2
models of `flchain.ledger.events_v2`), the shared event index, and the immutables read once
(`deployment`: the constructor's `Deployment` struct, beacon key included). Every `LedgerV2` on
the contract holds the same one, whatever wallet it signs with.
"""

from __future__ import annotations

from functools import cached_property
from typing import ClassVar

from flchain.ledger import views_v2
from flchain.ledger.deployment import ContractBinding
from flchain.ledger.events import ChainEvent
from flchain.ledger.events_v2 import EVENT_TYPES_V2
from flchain.protocol.machine import Deployment


class ContractV2(ContractBinding):
    """The FLChainV2 contract at `address` on `backend`, whose log starts at `from_block`."""

    VERSION: ClassVar[int] = 2
    EVENT_TYPES: ClassVar[dict[str, type[ChainEvent]]] = EVENT_TYPES_V2

    @cached_property
    def deployment(self) -> Deployment:
        """The immutables (§2.1), read once."""
        return views_v2.get_deployment(self)

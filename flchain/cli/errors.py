"""Errors of the command line itself (one line each, no secrets)."""

from __future__ import annotations

from flchain.errors import FlchainError
from flchain.ledger.errors import ContractRevert
from flchain.node.errors import NodeError


class WrongNodeStatus(NodeError):
    """The wallet is a node, but not in the state the command needs (e.g. withdraw while active)."""


class NotGovernor(FlchainError):
    """A governance command signed by a wallet that is not the contract's governor."""


class RulesNotSchedulable(FlchainError):
    """A rules version for a round the contract would refuse (open, or out of order)."""


class RefusedBeforeSending(ContractRevert):
    """What the contract would refuse, found by an eth_call before anything was unlocked or
    sent: the contract's custom error by name (`error_name`), in one line."""

    def __init__(self, refusal: ContractRevert) -> None:
        super().__init__(refusal.error_name, refusal.error_args, refusal.function)
        self.message = f"{self.message}; nothing was sent"


class NotPendingGovernor(FlchainError):
    """`chain governance accept` signed by a wallet that is not the pending governor."""


class NotProtocolV2(FlchainError):
    """A command of protocol v2 (cancel, accept, pause, fund-pool, settle, …) on a v1 contract."""


class MigrationRefused(FlchainError):
    """`chain deploy --genesis-from-v1`: the v1 round cannot be a v2 genesis (not v1, not
    finalized, or its audit does not verify)."""


class NothingToSettle(FlchainError):
    """`node settle` with no final round, a node already settled, or a manifest that does not
    match the contract's root."""

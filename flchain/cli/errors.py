"""Errors of the command line itself (one line each, no secrets)."""

from __future__ import annotations

from flchain.errors import FlchainError
from flchain.node.errors import NodeError


class WrongNodeStatus(NodeError):
    """The wallet is a node, but not in the state the command needs (e.g. withdraw while active)."""


class NotGovernor(FlchainError):
    """A governance command signed by a wallet that is not the contract's governor."""


class RulesNotSchedulable(FlchainError):
    """A rules version for a round the contract would refuse (open, or out of order)."""

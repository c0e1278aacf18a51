"""Errors of the node daemon, its commands and the simulation (one line each, no secrets)."""

from __future__ import annotations

from flchain.errors import ConfigError, FlchainError, UnavailableError


class NodeError(FlchainError):
    """Something a node could not do."""


class NodeLocked(NodeError):
    """Another daemon already runs for this wallet (file lock held)."""

    exit_code = 3


class NotRegistered(NodeError):
    """The wallet is not an active node of this contract."""


class RoundNotFound(NodeError):
    """The requested round has not started (or is negative)."""


class StoreWriteError(NodeError, UnavailableError):
    """Weights could not be written to the content store (disk full, daemon down)."""


class NodeDataError(ConfigError, NodeError):
    """The node's market data source is missing or unusable."""


class CommitmentLost(NodeError):
    """The node committed but cannot rebuild an update that matches its own commitment."""

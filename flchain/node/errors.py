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


class NodeWithdrawn(NotRegistered):
    """The wallet's node exited and withdrew its bond: its daemon has nothing left to do and
    stops cleanly (exit 0, so a supervisor's restart-on-failure does not loop on it)."""


class RoundNotFound(NodeError):
    """The requested round has not started (or is negative)."""


class StoreWriteError(NodeError, UnavailableError):
    """Weights could not be written to the content store (disk full, daemon down)."""


class NodeDataError(ConfigError, NodeError):
    """The node's market data source is missing or unusable."""


class CommitmentLost(NodeError):
    """The node committed but cannot rebuild an update that matches its own commitment."""


#: Packages whose exceptions mean "the chain, the network or a parsing library refused" rather
#: than a bug in flchain's own logic (they still should have become a FlchainError on the way).
LIBRARY_PACKAGES = ("web3", "eth_utils", "eth_abi", "eth_account", "requests", "urllib3", "httpx")


def from_library(exc: BaseException) -> bool:
    """True when `exc` was raised by the web3 / HTTP stack (see `LIBRARY_PACKAGES`)."""
    return type(exc).__module__.split(".")[0] in LIBRARY_PACKAGES


def describe_foreign_error(exc: BaseException) -> str:
    """One line for an exception that is not a `FlchainError`: its type and the first line of
    its message (a JSON-RPC error's own message when it carries one). web3 and eth-account
    messages name addresses and amounts, never keys."""
    rpc = getattr(exc, "rpc_response", None)
    if isinstance(rpc, dict) and isinstance(rpc.get("error"), dict):
        text = str(rpc["error"].get("message", ""))
    else:
        text = str(exc)
    first = (text.strip().splitlines() or [""])[0][:300] or "(no message)"
    return f"{type(exc).__name__}: {first}"

"""Errors of the command line itself (one line each, no secrets)."""

from __future__ import annotations

from flchain.node.errors import NodeError


class WrongNodeStatus(NodeError):
    """The wallet is a node, but not in the state the command needs (e.g. withdraw while active)."""

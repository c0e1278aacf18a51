"""Errors raised by `flchain.replay` (one line each)."""

from __future__ import annotations

from flchain.errors import FlchainError, UnavailableError


class ReplayError(FlchainError):
    """A round cannot be replayed from what the chain and the store say (exit code 1)."""


class ReplayUnavailable(ReplayError, UnavailableError):
    """Content the whole round depends on (base model, previous manifest) cannot be fetched."""

    exit_code = 2

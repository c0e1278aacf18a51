"""The error hierarchy users see.

Every error flchain raises on purpose derives from `FlchainError`; its message is one line
that says what went wrong and, where there is one, what to do. The CLI prints that line
(no traceback) and exits with `exit_code`. Keys, passwords and seeds never appear in a message.
"""

from __future__ import annotations


class FlchainError(Exception):
    """Base class: a clear, one-line, user-facing error."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(FlchainError):
    """Missing or malformed configuration, profile or settings."""


class UnavailableError(FlchainError):
    """A service (RPC endpoint, IPFS daemon) could not be reached or answered garbage."""

    exit_code = 2

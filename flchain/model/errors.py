"""Errors raised by the model package."""

from __future__ import annotations

from flchain.errors import FlchainError


class ModelError(FlchainError):
    """A model config, its weights or its input data do not fit together."""

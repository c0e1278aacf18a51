"""Errors of `flchain devnet up|down|status` (one line each; never a key or a password)."""

from __future__ import annotations

from flchain.errors import ConfigError, FlchainError, UnavailableError


class DevnetError(FlchainError):
    """Something `flchain devnet` could not do."""


class DevnetAlreadyUp(DevnetError):
    """A devnet profile (or the leftovers of an interrupted `up`) is already in the data dir."""


class DevnetNotUp(ConfigError, DevnetError):
    """There is no devnet in this data dir to stop or show."""


class DevnetRefused(ConfigError, DevnetError):
    """An option combination `devnet up` cannot serve (e.g. the embedded chain)."""


class DevnetUnhealthy(UnavailableError, DevnetError):
    """`devnet status`: a process the devnet started is gone or an endpoint does not answer."""

"""Errors raised by `flchain.audit` (one line each; exit codes match the audit's verdicts)."""

from __future__ import annotations

from flchain.errors import FlchainError, UnavailableError


class AuditError(FlchainError):
    """The audit was asked something it cannot answer (bad round range, bad source)."""

    exit_code = 2


class AuditSourceUnavailable(AuditError, UnavailableError):
    """The chain or the content store could not be reached: nothing could be verified."""

    exit_code = 2


class ProofError(AuditError):
    """A state proof does not verify against the block's state root (or is malformed): the
    RPC answered something the chain does not hold, so nothing it says can be verified."""

    exit_code = 2


class TraceProblem(AuditError):
    """A call trace cannot be read as the calls it made into the contract (malformed, too
    large, or a re-entrant call): the audit reports those calls unverifiable, never believed."""

    exit_code = 2

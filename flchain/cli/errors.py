"""Errors of the command line itself (one line each, no secrets)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
        hint = _HINTS.get(self.error_name)
        more = f" ({hint(self.error_args)})" if hint else ""
        self.message = f"{self.message}{more}; nothing was sent"


def _utc(ts: object) -> str:
    from flchain.rules_file import format_utc

    return format_utc(int(ts))  # type: ignore[call-overload]


#: What to do about the refusals an operator meets most, by custom error name.
_HINTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "WalletRetired": lambda a: (
        "this wallet withdrew and can never register again: create a new wallet "
        "(`flchain wallet create NAME`) and register that"
    ),
    "AlreadyRegistered": lambda a: "the wallet is a node already: `flchain node status`",
    "BondTooSmall": lambda a: f"pass --bond {a['minBond']} or more",
    "NotActive": lambda a: "the wallet is not an active node: `flchain node status`",
    "NotExiting": lambda a: "request the exit first: `flchain node exit`",
    "WithdrawalTooEarly": lambda a: f"withdrawable from {_utc(a['withdrawableAt'])}",
    "SettlementPending": lambda a: (
        f"apply the node's leaf of round {a['latestRound']} first: `flchain node settle`"
    ),
    "UnrevealedCommitment": lambda a: (
        "a commitment was never revealed: it must be slashed (slashNoReveal) before a withdrawal"
    ),
    "NothingOwed": lambda a: (
        "nothing to collect: every reward settled so far is collected (a newly final round's "
        "is collectable once the node settles it)"
    ),
    "PauseNotAllowed": lambda a: (
        "a pause lasts 1 s to 7 days"
        if not a["earliest"]
        else f"a new pause is allowed from {_utc(a['earliest'])}"
    ),
    "NotPaused": lambda a: "no pause is running",
}


class NotPendingGovernor(FlchainError):
    """`chain governance accept` signed by a wallet that is not the pending governor."""


class WrongProtocolVersion(FlchainError):
    """A command of one protocol version on a contract of the other (`rules cancel`, `pause`,
    `fund-pool`, `node settle`, … on v1; the v1 daemon on v2)."""


class MigrationRefused(FlchainError):
    """`chain deploy --genesis-from-v1`: the v1 round cannot be a v2 genesis (not v1, not
    finalized, or its audit does not verify)."""


class NothingToSettle(FlchainError):
    """`node settle` with no final round, a node already settled, or a manifest that does not
    match the contract's root."""

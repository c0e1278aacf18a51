"""Errors of the ledger layer (chain access and contract calls)."""

from __future__ import annotations

from typing import Any

from flchain.errors import ConfigError, FlchainError, UnavailableError


class LedgerError(FlchainError):
    """Anything that went wrong talking to the chain or the contract."""


class ChainUnavailable(UnavailableError, LedgerError):
    """The RPC endpoint cannot be reached or answered garbage."""


class ChainConfigError(ConfigError, LedgerError):
    """Wrong chain id, no contract code at the address, unusable artifact, bad argument."""


class MalformedLog(LedgerError):
    """A log at the contract's address that no contract of its artifact can emit (its data does
    not decode, or a value is out of its type, e.g. an outcome the enum lacks): the RPC or the
    contract is not what it claims, so nothing read from it can be verified."""

    exit_code = 2


class CompileError(LedgerError):
    """The Solidity compiler failed or disagrees with the committed artifact."""


class ContractRevert(LedgerError):
    """The contract refused a call with a custom error; `error_name` and `args` decode it."""

    def __init__(self, error_name: str, args: dict[str, Any], function: str) -> None:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in args.items())
        super().__init__(f"contract refused {function}: {error_name}({shown})")
        self.error_name = error_name
        self.error_args = args  # by parameter name
        self.function = function
        self.args = tuple(args.values())  # positional, as the Solidity error declares them


class TransactionFailed(LedgerError):
    """A transaction failed without a decodable custom error (out of gas, panic, unknown)."""


class OutOfGas(TransactionFailed):
    """A mined transaction used all the gas of its limit and failed: the limit was too low."""


class InsufficientFunds(LedgerError):
    """The wallet cannot pay the gas and value of a transaction (checked before sending, or
    refused by the chain for it)."""


class FeeCapExceeded(LedgerError):
    """The fee the chain asks is above the operator's cap (max fee per gas, cost per
    transaction): nothing was sent, or a stuck transaction cannot be bumped further."""


class DeadlineMissed(LedgerError):
    """A transaction can no longer be mined before its deadline (e.g. its window's end)."""


class ReceiptTimeout(UnavailableError, LedgerError):
    """No receipt (or not enough confirmations) within the policy's receipt timeout; the
    transaction may still be mined."""


class TransactionRejected(LedgerError):
    """The chain's node refused a signed transaction (nothing was mined)."""


class NonceTooLow(TransactionRejected):
    """The transaction's nonce is already used by a mined transaction of the same wallet."""


class Underpriced(TransactionRejected):
    """The fee is below what the node accepts: under the next block's base fee, or too small
    a bump to replace a pending transaction at the same nonce."""


def first_line(text: object, fallback: str, limit: int = 200) -> str:
    """The first non-blank line of `text` (at most `limit` characters), or `fallback` when it
    has none: an exception's message may be empty."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return fallback


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)

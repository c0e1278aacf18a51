"""Can this wallet pay for a transaction? Checked before sending, so an unfunded wallet gets one
line naming its address, its balance and what it needs, and nothing is sent.

The worst case a transaction can cost is what the chain makes the sender prepay: its gas limit
times its max fee per gas, plus the value. The limit and fee are the ones the ledger's send path
will use (web3's EIP-1559 default `maxFeePerGas = priority fee + 2 × base fee`, the estimate plus
`Ledger.GAS_MARGIN_PCT`, or the backend's fixed limit on the embedded chain), so a wallet this
check lets through is not refused by the node for its balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flchain.ledger import Backend
from flchain.ledger.backends import NETWORK_ERRORS
from flchain.ledger.errors import ChainUnavailable, InsufficientFunds
from flchain.ledger.sending import GAS_MARGIN_PCT, WEI_PER_GWEI, format_eth

__all__ = [
    "Cost",
    "InsufficientFunds",
    "balance_of",
    "devnet_kind",
    "estimate",
    "format_eth",
    "fund_hint",
    "gas_limit",
    "max_fee_per_gas",
    "require_funds",
]


@dataclass(frozen=True)
class Cost:
    """The most a transaction can cost its sender (gas limit × max fee + value), in wei."""

    gas_limit: int
    max_fee_per_gas: int
    value: int

    @property
    def total(self) -> int:
        return self.gas_limit * self.max_fee_per_gas + self.value


def max_fee_per_gas(backend: Backend) -> int:
    """The max fee per gas web3 fills in for a transaction sent now."""
    w3 = backend.w3
    try:
        base = w3.eth.get_block("latest").get("baseFeePerGas")
        if base is None:  # a chain without EIP-1559
            return int(w3.eth.gas_price)
        return int(w3.eth.max_priority_fee) + 2 * int(base)
    except NETWORK_ERRORS:
        raise ChainUnavailable("cannot reach the chain to read the gas price") from None


def gas_limit(backend: Backend, estimate: int) -> int:
    """The gas limit the ledger sends with for a call estimated at `estimate`."""
    if backend.FIXED_GAS is not None:
        return backend.FIXED_GAS
    return estimate * (100 + GAS_MARGIN_PCT) // 100


def balance_of(backend: Backend, address: str) -> int:
    try:
        return int(backend.w3.eth.get_balance(address))  # type: ignore[arg-type]
    except NETWORK_ERRORS:
        raise ChainUnavailable("cannot reach the chain to read a balance") from None


def estimate(backend: Backend, call: Any, sender: str, value: int = 0) -> int | None:
    """Gas estimate of a contract call or deployment; None when the chain refuses to estimate
    it (a revert: the send path reports it by name, which is the better message)."""
    if backend.FIXED_GAS is not None:
        return backend.FIXED_GAS
    try:
        return int(call.estimate_gas({"from": sender, "value": value}))
    except NETWORK_ERRORS:
        raise ChainUnavailable("cannot reach the chain to estimate gas") from None
    except Exception:  # a revert or a refusal of the estimate itself
        return None


def require_funds(
    backend: Backend, address: str, *, value: int, call: Any, action: str, fund_hint: str
) -> Cost | None:
    """Raise `InsufficientFunds` unless `address` can pay for `call` sending `value` wei.

    `action` names the command (`flchain chain deploy`), `fund_hint` what to do on this chain.
    Returns the worst-case cost, or None when the gas could not be estimated (the call would
    revert; sending it reports why)."""
    balance = balance_of(backend, address)
    if balance < value:
        raise InsufficientFunds(
            f"wallet {address} has {format_eth(balance)} on chain {backend.chain_id}, less than "
            f"the {format_eth(value)} {action} sends: {fund_hint}; nothing was sent"
        )
    gas = estimate(backend, call, address, value)
    if gas is None:
        return None
    cost = Cost(gas_limit(backend, gas), max_fee_per_gas(backend), value)
    if balance < cost.total:
        fee = Decimal(cost.max_fee_per_gas) / WEI_PER_GWEI
        raise InsufficientFunds(
            f"wallet {address} has {format_eth(balance)} on chain {backend.chain_id}; {action} "
            f"needs up to {format_eth(cost.total)} ({cost.gas_limit} gas × {fee:f} gwei max fee"
            f" + {format_eth(value)}): {fund_hint}; nothing was sent"
        )
    return cost


def devnet_kind(backend: Backend) -> str | None:
    """ "anvil" or "hardhat" when the endpoint is one of those devnets (by setting or by its
    `web3_clientVersion`), else None: a chain whose balances nobody can just set."""
    if backend.kind in ("anvil", "hardhat", "embedded"):
        return backend.kind
    try:
        version = str(backend.w3.client_version).lower()
    except NETWORK_ERRORS:
        raise ChainUnavailable("cannot reach the chain to read its client version") from None
    except Exception:  # an endpoint without web3_clientVersion
        return None
    for kind in ("anvil", "hardhat"):
        if version.startswith(kind):
            return kind
    return None


def fund_hint(backend: Backend, wallet: str) -> str:
    """What an operator does to fund `wallet` on this backend."""
    if devnet_kind(backend) in ("anvil", "hardhat"):
        return f"fund it with `flchain wallet fund {wallet}` (devnet) and retry"
    return "send it ether from a funded wallet (on a testnet: a faucet) and retry"

"""Can this wallet pay for a transaction? Checked before sending, so an unfunded wallet gets one
line naming its address, its balance and what it needs, and nothing is sent.

The worst case a transaction can cost is what the chain makes the sender prepay: its gas limit
times its max fee per gas, plus the value. The limit and fee are the ones the ledger's send path
computes under the same `TxPolicy` (`flchain.ledger.sending`: the estimate raised to the call's
gas floor plus `gas_margin_pct`, or the backend's fixed limit on the embedded chain; `maxFeePerGas
= min(cap, next base fee × base_fee_multiplier_pct / 100 + priority fee)`), so a wallet this check
lets through is not refused by the node for its balance when it is sent at once. A fee cap below
the next base fee is refused here too (`FeeCapExceeded`). Replacements of a stuck transaction
may bid more, up to the cap: fund a wallet for the cap, not for this figure, on a busy chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flchain.ledger import Backend
from flchain.ledger.backends import NETWORK_ERRORS
from flchain.ledger.errors import ChainUnavailable, FeeCapExceeded, InsufficientFunds
from flchain.ledger.sending import (
    TxPolicy,
    compute_fees,
    compute_gas_limit,
    format_eth,
    format_gwei,
    read_fee_market,
)

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


def max_fee_per_gas(backend: Backend, policy: TxPolicy, gas: int | None = None) -> int:
    """The max fee per gas (or legacy gas price) the send path offers for `gas` gas now."""
    try:
        return compute_fees(policy, read_fee_market(backend, policy), gas).max_fee_per_gas
    except NETWORK_ERRORS:
        raise ChainUnavailable("cannot reach the chain to read the gas price") from None


def gas_limit(
    backend: Backend, estimate: int, policy: TxPolicy, gas_floor: int | None = None
) -> int:
    """The gas limit the ledger sends with for a call estimated at `estimate`."""
    if backend.FIXED_GAS is not None:
        return backend.FIXED_GAS
    return compute_gas_limit(policy, estimate, gas_floor)


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
    backend: Backend,
    address: str,
    *,
    value: int,
    call: Any,
    action: str,
    fund_hint: str,
    policy: TxPolicy | None = None,
    gas_floor: int | None = None,
) -> Cost | None:
    """Raise `InsufficientFunds` unless `address` can pay for `call` sending `value` wei under
    `policy` (`FeeCapExceeded` when its caps are below what the chain asks now).

    `action` names the command (`flchain chain deploy`), `fund_hint` what to do on this chain.
    Returns the worst-case cost, or None when the gas could not be estimated (the call would
    revert; sending it reports why)."""
    policy = policy or TxPolicy()
    balance = balance_of(backend, address)
    if balance < value:
        raise InsufficientFunds(
            f"wallet {address} has {format_eth(balance)} on chain {backend.chain_id}, less than "
            f"the {format_eth(value)} {action} sends: {fund_hint}; nothing was sent"
        )
    gas = estimate(backend, call, address, value)
    if gas is None:
        return None
    limit = gas_limit(backend, gas, policy, gas_floor)
    try:
        fee = max_fee_per_gas(backend, policy, limit)
    except FeeCapExceeded as exc:
        raise FeeCapExceeded(f"{action} not sent: {exc.message}") from None
    cost = Cost(limit, fee, value)
    if balance < cost.total:
        raise InsufficientFunds(
            f"wallet {address} has {format_eth(balance)} on chain {backend.chain_id}; {action} "
            f"needs up to {format_eth(cost.total)} ({cost.gas_limit} gas × "
            f"{format_gwei(cost.max_fee_per_gas)} max fee + {format_eth(value)}): {fund_hint}; "
            "nothing was sent"
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

"""Sending transactions: check → sign → send → wait → receipt, refusals surfaced by name.

`Signer` is the local wallet (an `eth_account` LocalAccount: keys never leave the process, no
node account is ever unlocked). `TxSender` runs one transaction through the steps, each its own
method so that what decides fees, gas and waiting is in one place:

- `prepare`: nonce, chain id, gas limit, and a check that the call would succeed — a refusal
  raises `ContractRevert` with the contract's custom error before anything is signed. JSON-RPC
  chains estimate gas (plus `GAS_MARGIN_PCT`: they charge for the limit); the embedded chain
  runs the call once as an eth_call on the pending block (the one it will be mined in) and
  sends it with the backend's fixed limit (py-evm's estimate is a ~13-execution binary search);
- `submit`: sign locally and send the raw transaction;
- `wait`: the receipt (at most `RECEIPT_TIMEOUT_S`);
- `ensure_success`: a transaction that passed the check but failed when mined (state or time
  moved in between) is re-executed by the backend where it can, and surfaced by name too.

What these steps decide today — the gas margin, the receipt timeout, no fee fields (the node
fills them), no confirmations, no replacement — is fixed here; a transaction policy is meant to
come in as one more `TxSender` argument that `prepare` (fees and their caps, the gas margin) and
`wait` (timeout, confirmations, replacement of a stuck transaction) consult.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from pydantic import BaseModel, ConfigDict
from web3.exceptions import Web3RPCError

from flchain.ledger.backends import NETWORK_ERRORS, Backend
from flchain.ledger.errors import (
    ChainUnavailable,
    InsufficientFunds,
    LedgerError,
    NonceTooLow,
    OutOfGas,
    TransactionFailed,
    TransactionRejected,
    Underpriced,
    first_line,
)
from flchain.ledger.events import ChainEvent
from flchain.ledger.revert import ErrorDecoder, revert_data
from flchain.protocol import Address

#: Over the estimate on JSON-RPC chains: py-evm and anvil estimate exactly; refunds vary.
GAS_MARGIN_PCT: Final = 20
RECEIPT_TIMEOUT_S: Final = 120

WEI_PER_ETH: Final = 10**18
WEI_PER_GWEI: Final = 10**9

#: What nodes answer when they already hold the very transaction sent (geth, anvil, others):
#: it was sent before (e.g. through another endpoint), not refused.
ALREADY_KNOWN: Final = ("already known", "already imported", "known transaction")

#: A receipt as web3 returns it (`status`, `blockNumber`, `transactionHash`, `gasUsed`, `logs`, …).
Receipt = Any


class TxResult(BaseModel):
    """What a successful transaction did."""

    model_config = ConfigDict(frozen=True)

    function: str
    tx_hash: str
    block_number: int
    gas_used: int
    events: tuple[ChainEvent, ...] = ()


class Signer:
    """A local wallet that signs this process's transactions."""

    def __init__(self, account: LocalAccount) -> None:
        self.account = account

    @property
    def address(self) -> Address:
        return str(self.account.address)

    def sign(self, tx: Mapping[str, Any]) -> bytes:
        return bytes(self.account.sign_transaction(dict(tx)).raw_transaction)


class TxSender:
    """Sends contract calls signed by `signer` on `backend`; `errors` names the refusals.

    @param chain_id the chain id to sign for, asked for once at the first send (a Ledger passes
        its deployment's cached one)
    """

    def __init__(
        self,
        backend: Backend,
        errors: ErrorDecoder,
        signer: Signer,
        chain_id: Callable[[], int],
    ) -> None:
        self.backend = backend
        self.errors = errors
        self.signer = signer
        self._chain_id = chain_id

    def send(
        self, call: Any, function: str, value: int = 0, *, gas_floor: int | None = None
    ) -> Receipt:
        """Run the contract call `call` (a web3 contract function or constructor, named
        `function` in errors) as a transaction paying `value` wei; returns its receipt.

        @param gas_floor the least gas the call may need when mined, whatever the estimate
            says (the caller's knowledge of a costlier path the chain may take: see
            `Ledger.attest`)
        """
        try:
            tx = self.prepare(call, function, value, gas_floor)
            tx_hash = self.submit(tx, function)
            receipt = self.wait(tx_hash)
        except NETWORK_ERRORS:
            raise ChainUnavailable(f"lost the chain connection while sending {function}") from None
        self.backend.note_receipt(receipt)
        self.ensure_success(receipt, function, int(tx["gas"]))
        return receipt

    def prepare(
        self, call: Any, function: str, value: int, gas_floor: int | None = None
    ) -> dict[str, Any]:
        """The transaction to sign, checked to succeed (nonce, chain id, gas filled in)."""
        w3 = self.backend.w3
        fixed_gas = self.backend.FIXED_GAS
        params: dict[str, Any] = {
            "from": self.signer.address,
            "nonce": w3.eth.get_transaction_count(self.signer.address, "pending"),  # type: ignore[arg-type]
            "value": value,
            "chainId": self._chain_id(),
        }
        if fixed_gas is not None:
            params["gas"] = fixed_gas
        try:
            tx: dict[str, Any] = dict(call.build_transaction(params))
            if fixed_gas is not None:
                w3.eth.call(_call_params(tx), "pending")  # type: ignore[arg-type]
        except NETWORK_ERRORS:
            raise
        except Exception as exc:
            refusal = self.errors.refusal(revert_data(exc), function)
            if refusal is not None:
                raise refusal from None
            why = first_line(exc, type(exc).__name__)
            raise TransactionFailed(f"{function} would fail: {why}") from None
        if fixed_gas is None:
            tx["gas"] = max(int(tx["gas"]), gas_floor or 0) * (100 + GAS_MARGIN_PCT) // 100
        return tx

    def submit(self, tx: Mapping[str, Any], function: str = "transaction") -> bytes:
        """Sign `tx` locally and send it; returns its hash. A refusal of the node is raised
        as a named `TransactionRejected` (`InsufficientFunds`, `NonceTooLow`, `Underpriced`)."""
        raw = self.signer.sign(tx)
        try:
            self.backend.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            message = rpc_message(exc)
            if not any(known in message.lower() for known in ALREADY_KNOWN):
                raise self.refused(message, tx, function) from None
        return bytes(keccak(raw))

    def refused(self, message: str, tx: Mapping[str, Any], function: str) -> LedgerError:
        """The named error for the node's refusal `message` of the signed transaction `tx`."""
        low = message.lower()
        if "insufficient funds" in low:
            return self.insufficient_funds(tx, function)
        where = f"the chain refused {function}"
        if "nonce too low" in low or "nonce has already been used" in low:
            return NonceTooLow(
                f"{where}: nonce {tx['nonce']} of {self.signer.address} is already used "
                f"({message}); another transaction of this wallet was mined first, retry"
            )
        if "underpriced" in low or "base fee" in low:
            return Underpriced(
                f"{where}: {message} (offered {describe_fees(tx)}); raise the fee caps or retry"
            )
        return TransactionRejected(f"{where}: {message}")

    def insufficient_funds(self, tx: Mapping[str, Any], function: str) -> InsufficientFunds:
        address = self.signer.address
        balance = int(self.backend.w3.eth.get_balance(address))  # type: ignore[arg-type]
        value = int(tx.get("value", 0))
        need = int(tx["gas"]) * max_fee_of(tx) + value
        return InsufficientFunds(
            f"wallet {address} has {format_eth(balance)} on chain {tx.get('chainId', '?')}; "
            f"{function} needs up to {format_eth(need)} ({tx['gas']} gas × "
            f"{format_gwei(max_fee_of(tx))} max fee + {format_eth(value)}): fund it and "
            "retry; nothing was sent"
        )

    def wait(self, tx_hash: bytes) -> Receipt:
        return self.backend.w3.eth.wait_for_transaction_receipt(
            tx_hash,  # type: ignore[arg-type]
            timeout=RECEIPT_TIMEOUT_S,
        )

    def ensure_success(self, receipt: Receipt, function: str, gas_limit: int) -> None:
        """Raise for a mined transaction that failed: by name where the backend can tell, and
        `OutOfGas` when it used all of its `gas_limit` (a revert returns what it did not use)."""
        if int(receipt["status"]) == 1:
            return
        refusal = self.errors.refusal(self.backend.revert_data_of(receipt), function)
        if refusal is not None:
            raise refusal
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        if int(receipt["gasUsed"]) >= gas_limit:
            raise OutOfGas(
                f"{function} ran out of gas in block {receipt['blockNumber']}: it used all "
                f"{gas_limit} gas of its limit (tx {tx_hash})"
            )
        raise TransactionFailed(
            f"{function} reverted in block {receipt['blockNumber']} (tx {tx_hash})"
        )


def rpc_message(exc: Web3RPCError) -> str:
    """The node's own message of a JSON-RPC error (web3's text wraps it in a dict repr)."""
    response = exc.rpc_response
    error = response.get("error") if isinstance(response, Mapping) else None
    if isinstance(error, Mapping):
        return first_line(error.get("message", ""), f"code {error.get('code', '?')}")
    return first_line(exc.message, type(exc).__name__)


def max_fee_of(tx: Mapping[str, Any]) -> int:
    """The most `tx` may pay per gas: its max fee (EIP-1559) or its gas price (legacy)."""
    return int(tx.get("maxFeePerGas", tx.get("gasPrice", 0)))


def describe_fees(tx: Mapping[str, Any]) -> str:
    if "maxFeePerGas" in tx:
        return (
            f"max fee {format_gwei(int(tx['maxFeePerGas']))}, "
            f"tip {format_gwei(int(tx.get('maxPriorityFeePerGas', 0)))}"
        )
    return f"gas price {format_gwei(max_fee_of(tx))}"


def format_eth(wei: int) -> str:
    """`wei` in ether, exact and without trailing zeros (`0.0123 ETH`, `100 ETH`, `0 ETH`)."""
    return f"{_plain(Decimal(wei) / WEI_PER_ETH)} ETH"


def format_gwei(wei: int) -> str:
    """`wei` in gwei, exact and without trailing zeros (`1.5 gwei`)."""
    return f"{_plain(Decimal(wei) / WEI_PER_GWEI)} gwei"


def _plain(amount: Decimal) -> str:
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _call_params(tx: Mapping[str, Any]) -> dict[str, Any]:
    """The eth_call twin of a built transaction (no nonce or fee fields)."""
    return {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}

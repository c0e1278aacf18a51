"""Sending transactions: check → sign → send → mine (replace, confirm) → receipt, all by name.

`Signer` is the local wallet (an `eth_account` LocalAccount: keys never leave the process, no
node account is ever unlocked). `TxSender` runs one transaction through the steps, each its own
method, and `TxPolicy` is what an operator decides about them:

- `prepare`: nonce, chain id, fees, gas limit, and a check that the call would succeed — a
  refusal raises `ContractRevert` with the contract's custom error before anything is sent.
  JSON-RPC chains estimate gas, raised to the caller's floor if it names one (a costlier path
  the call may take when mined, e.g. the finalizing attestation), plus `gas_margin_pct`. The
  embedded chain executes the signed transaction once, staged in the pending block it will be
  mined in (`Backend.stage`; taken back out on refusal, so nothing is sent and no nonce is
  used), with the backend's fixed limit (py-evm's estimate is a ~13-execution binary search);
  where staging cannot stand in for it, an eth_call on the pending block decides. Fees are
  EIP-1559: `maxFeePerGas = min(cap, next base fee × base_fee_multiplier_pct / 100 + priority
  fee)`, the priority fee from the node unless the policy fixes it; the cap is the lower of
  `max_fee_per_gas_wei` and `max_tx_cost_wei / gas`. A cap below the next block's base fee
  cannot be mined and nothing is sent (`FeeCapExceeded`);
- `submit`: sign locally and send the raw transaction; a refusal of the node is a named
  `TransactionRejected` (`InsufficientFunds`, `NonceTooLow`, `Underpriced`);
- `mine`: wait for a receipt of any version sent at this nonce. A transaction still pending
  after `replace_after_s` is replaced at the same nonce with both fee fields bumped by at least
  `fee_bump_bps` (12.5 %: above geth's 10 % replacement rule and equal to the most the base fee
  can rise in one block), never above the cap; one the node no longer knows (dropped from its
  pool, or removed by a reorg) is sent again. It counts as done once `confirmations` blocks
  hold it (its own included); a reorg that removes it meanwhile sends it again. A deadline (a
  chain timestamp the transaction must be mined before, e.g. the end of the reveal window) that
  the next block can no longer meet ends the wait with `DeadlineMissed`; `receipt_timeout_s`
  bounds it otherwise (`ReceiptTimeout`);
- `ensure_success`: a transaction that passed the check but failed when mined (state or time
  moved in between) is re-executed by the backend where it can and surfaced by name; one that
  used its whole gas limit is `OutOfGas`.

A transaction that ends without a receipt (deadline, timeout) may still be pending: its nonce
and fees are kept per wallet on the backend, and the wallet's next transaction, whatever it is,
replaces it at that nonce with bumped fees instead of queueing behind it.

Defaults suit devnets (anvil, hardhat, the embedded chain: one confirmation, web3's 2 × base
fee). For a public chain see docs/deploy.md ("Fees and confirmations").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from pydantic import BaseModel, ConfigDict, Field
from web3.exceptions import TransactionNotFound, Web3RPCError

from flchain.ledger.backends import NETWORK_ERRORS, Backend
from flchain.ledger.errors import (
    ChainUnavailable,
    DeadlineMissed,
    FeeCapExceeded,
    InsufficientFunds,
    LedgerError,
    NonceTooLow,
    OutOfGas,
    ReceiptTimeout,
    TransactionFailed,
    TransactionRejected,
    Underpriced,
    first_line,
)
from flchain.ledger.events import ChainEvent
from flchain.ledger.revert import ErrorDecoder, revert_data
from flchain.protocol import BPS, Address

log = logging.getLogger("flchain.ledger")

WEI_PER_ETH: Final = 10**18
WEI_PER_GWEI: Final = 10**9

#: Geth's replacement rule is +10 % on both fee fields; 12.5 % is also the most the base fee
#: rises in one block, so a replacement keeps up with a climbing base fee.
MIN_FEE_BUMP_BPS: Final = 1_250

#: Times one send re-checks its call after its nonce was taken by another transaction of the
#: wallet (sent by another process) before giving up.
PREPARE_ATTEMPTS: Final = 3

#: Mined transactions per wallet whose nonce and fees are kept, to notice a reorg that removed
#: one (deeper reorgs than this many of the wallet's transactions are not outbid, only re-sent).
REMEMBERED_MINED: Final = 64

#: What nodes answer when they already hold the very transaction sent (geth, anvil, others):
#: it was sent before (e.g. through another endpoint), not refused.
ALREADY_KNOWN: Final = ("already known", "already imported", "known transaction")

#: How nodes refuse to estimate or run a call the sender cannot prepay (geth and anvil cap the
#: gas at balance / fee: "gas required exceeds allowance"; py-evm: "cannot afford txn gas").
_UNAFFORDABLE: Final = ("insufficient funds", "cannot afford", "exceeds allowance")

#: A receipt as web3 returns it (`status`, `blockNumber`, `transactionHash`, `gasUsed`, `logs`, …).
Receipt = Any


class TxPolicy(BaseModel):
    """What an operator decides about fees, gas and waiting (`flchain.config.Settings` builds
    it from the `gas_*`, `*_fee_*`, `tx_*` and `confirmations` settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gas_margin_pct: int = Field(20, ge=0, le=1_000, description="gas limit over the estimate (%)")
    priority_fee_wei: int | None = Field(
        None, ge=0, description="priority fee per gas; None: the node's eth_maxPriorityFeePerGas"
    )
    base_fee_multiplier_pct: int = Field(
        200, ge=100, le=10_000, description="max fee = next base fee × this / 100 + priority fee"
    )
    max_fee_per_gas_wei: int | None = Field(None, gt=0, description="cap on the max fee per gas")
    max_tx_cost_wei: int | None = Field(
        None, gt=0, description="cap on gas limit × max fee per gas of one transaction"
    )
    fee_bump_bps: int = Field(
        1_250, ge=MIN_FEE_BUMP_BPS, le=10 * BPS, description="fee raise of each replacement"
    )
    replace_after_s: float = Field(
        30.0, gt=0, description="replace a transaction pending this long"
    )
    receipt_timeout_s: float = Field(120.0, gt=0, description="give up waiting after this long")
    confirmations: int = Field(1, ge=1, le=1_000, description="blocks holding it, its own included")
    poll_s: float = Field(0.5, gt=0, le=60, description="between two looks at the chain")


class Fees(BaseModel):
    """The fee fields of one transaction (`legacy`: a chain without EIP-1559, `gasPrice`)."""

    model_config = ConfigDict(frozen=True)

    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    legacy: bool = False

    def fields(self) -> dict[str, int]:
        if self.legacy:
            return {"gasPrice": self.max_fee_per_gas}
        return {
            "maxFeePerGas": self.max_fee_per_gas,
            "maxPriorityFeePerGas": self.max_priority_fee_per_gas,
        }

    @classmethod
    def of(cls, tx: Mapping[str, Any]) -> Fees:
        if "maxFeePerGas" in tx:
            return cls(
                max_fee_per_gas=int(tx["maxFeePerGas"]),
                max_priority_fee_per_gas=int(tx.get("maxPriorityFeePerGas", 0)),
            )
        price = int(tx.get("gasPrice", 0))
        return cls(max_fee_per_gas=price, max_priority_fee_per_gas=price, legacy=True)


class FeeMarket(BaseModel):
    """What the chain asks now: the next block's base fee (None: no EIP-1559), a priority fee,
    and the legacy gas price."""

    model_config = ConfigDict(frozen=True)

    base_fee: int | None
    priority_fee: int
    gas_price: int


def read_fee_market(backend: Backend, policy: TxPolicy) -> FeeMarket:
    """The next block's base fee, the priority fee to offer (the policy's, else the node's)
    and the legacy gas price."""
    w3 = backend.w3
    base = backend.next_base_fee()
    if base is None:
        return FeeMarket(base_fee=None, priority_fee=0, gas_price=int(w3.eth.gas_price))
    tip = policy.priority_fee_wei
    if tip is None:
        try:
            tip = int(w3.eth.max_priority_fee)
        except Web3RPCError:  # a node without eth_maxPriorityFeePerGas
            tip = 0
    return FeeMarket(base_fee=base, priority_fee=tip, gas_price=0)


def compute_gas_limit(policy: TxPolicy, estimate: int, gas_floor: int | None = None) -> int:
    """The gas limit sent for a call estimated at `estimate` that may need `gas_floor`."""
    return max(estimate, gas_floor or 0) * (100 + policy.gas_margin_pct) // 100


def compute_fee_cap(policy: TxPolicy, gas: int | None) -> int | None:
    """The highest max fee per gas the policy allows for a transaction of `gas` gas."""
    caps = [] if policy.max_fee_per_gas_wei is None else [policy.max_fee_per_gas_wei]
    if policy.max_tx_cost_wei is not None and gas:
        caps.append(policy.max_tx_cost_wei // gas)
    return min(caps) if caps else None


def compute_fees(policy: TxPolicy, market: FeeMarket, gas: int | None) -> Fees:
    """The fees of a first send: `min(cap, base fee × multiplier + priority)`; raises
    `FeeCapExceeded` when the cap is below the base fee (such a transaction is never mined)."""
    cap = compute_fee_cap(policy, gas)
    if market.base_fee is None:
        price = market.gas_price if cap is None else min(market.gas_price, cap)
        return Fees(max_fee_per_gas=price, max_priority_fee_per_gas=price, legacy=True)
    tip = market.priority_fee if policy.priority_fee_wei is None else policy.priority_fee_wei
    max_fee = market.base_fee * policy.base_fee_multiplier_pct // 100 + tip
    if cap is not None:
        if cap < market.base_fee:
            raise FeeCapExceeded(
                f"the next block's base fee is {format_gwei(market.base_fee)}, above the cap "
                f"of {format_gwei(cap)} per gas{_cap_source(policy, gas)}"
            )
        max_fee = min(max_fee, cap)
    return Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=min(tip, max_fee))


def compute_replacement(policy: TxPolicy, sent: Fees, fresh: Fees, gas: int) -> Fees | None:
    """Fees that replace a pending transaction paying `sent`: each field raised by at least
    `fee_bump_bps` and at least what a first send would pay now (`fresh`), within the cap;
    None when the cap leaves no room for a bump the node would accept."""
    floor_fee = _bumped(sent.max_fee_per_gas, policy.fee_bump_bps)
    floor_tip = _bumped(sent.max_priority_fee_per_gas, policy.fee_bump_bps)
    max_fee = max(floor_fee, fresh.max_fee_per_gas)
    cap = compute_fee_cap(policy, gas)
    if cap is not None:
        max_fee = min(max_fee, cap)
    tip = min(max(floor_tip, fresh.max_priority_fee_per_gas), max_fee)
    if max_fee < floor_fee or tip < floor_tip:
        return None
    if sent.legacy:
        return Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=max_fee, legacy=True)
    return Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip)


def _bumped(value: int, bump_bps: int) -> int:
    return -(-value * (BPS + bump_bps) // BPS)  # rounded up: the node compares exactly


def _cap_source(policy: TxPolicy, gas: int | None) -> str:
    by_cost = policy.max_tx_cost_wei is not None and gas
    if by_cost and compute_fee_cap(policy, gas) != policy.max_fee_per_gas_wei:
        return f" (max_tx_cost_eth {format_eth(policy.max_tx_cost_wei or 0)} over {gas} gas)"
    return " (max_fee_gwei)"


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
        self._last: tuple[tuple[Any, ...], bytes] | None = None

    @property
    def address(self) -> Address:
        return str(self.account.address)

    def sign(self, tx: Mapping[str, Any]) -> bytes:
        # Signing is deterministic (RFC 6979), and a staged transaction is signed to stage it
        # and again to send it: the last signature is kept for the very same fields.
        try:
            key: tuple[Any, ...] | None = tuple(sorted(tx.items()))
            hash(key)
        except TypeError:  # a list in it (an access list)
            key = None
        if key is not None and self._last is not None and self._last[0] == key:
            return self._last[1]
        raw = bytes(self.account.sign_transaction(dict(tx)).raw_transaction)
        if key is not None:
            self._last = (key, raw)
        return raw


class TxSender:
    """Sends contract calls signed by `signer` on `backend` under `policy`; `errors` names the
    contract's refusals.

    @param chain_id the chain id to sign for, asked for once at the first send (a Ledger passes
        its deployment's cached one)
    """

    def __init__(
        self,
        backend: Backend,
        errors: ErrorDecoder,
        signer: Signer,
        chain_id: Callable[[], int],
        policy: TxPolicy | None = None,
    ) -> None:
        self.backend = backend
        self.errors = errors
        self.signer = signer
        self._chain_id = chain_id
        self.policy = policy or TxPolicy()

    def send(
        self,
        call: Any,
        function: str,
        value: int = 0,
        *,
        gas_floor: int | None = None,
        deadline: int | None = None,
    ) -> Receipt:
        """Run the contract call `call` (a web3 contract function or constructor, named
        `function` in errors) as a transaction paying `value` wei; returns its receipt once
        the policy's confirmations hold it.

        @param gas_floor the least gas the call may need when mined, whatever the estimate
            says (the caller's knowledge of a costlier path the chain may take: see
            `Ledger.attest`)
        @param deadline chain time (unix s) the transaction must be mined before: a block at
            or after it no longer counts (`DeadlineMissed`)
        """
        try:
            for _ in range(PREPARE_ATTEMPTS):
                tx = self.prepare(call, function, value, gas_floor, deadline)
                receipt = self.mine(tx, function, deadline)
                if receipt is not None:
                    break
            else:
                raise NonceTooLow(
                    f"{function}: the wallet {self.signer.address} kept using each nonce "
                    "before this process could (another process sends from it?); retry"
                )
        except NETWORK_ERRORS:
            raise ChainUnavailable(f"lost the chain connection while sending {function}") from None
        self.backend.note_receipt(receipt)
        self.ensure_success(receipt, function, int(tx["gas"]))
        return receipt

    # ------------------------------------------------------------ prepare

    def prepare(
        self,
        call: Any,
        function: str,
        value: int,
        gas_floor: int | None = None,
        deadline: int | None = None,
    ) -> dict[str, Any]:
        """The transaction to sign, checked to succeed (nonce, chain id, fees, gas filled in)."""
        fixed_gas = self.backend.FIXED_GAS
        nonce, pending = self.next_nonce()
        market = self.fee_market()
        params: dict[str, Any] = {
            "from": self.signer.address,
            "nonce": nonce,
            "value": value,
            "chainId": self._chain_id(),
            **self._fees(market, None, function).fields(),
        }
        if fixed_gas is not None:
            params["gas"] = fixed_gas
        # With a fixed limit (the embedded chain) the signed transaction is staged once it is
        # final (`Backend.stage`: executed once, instead of a pre-check call here and again
        # when sent); the call still runs wherever staging does not stand in for it, and
        # before any other refusal, so every refusal is the one it raises.
        staging = fixed_gas is not None
        try:
            tx: dict[str, Any] = dict(call.build_transaction(params))
        except NETWORK_ERRORS:
            raise
        except Exception as exc:
            raise self._would_fail(exc, call, params, gas_floor, function) from None
        if not staging:
            return self._finish(tx, market, pending, nonce, gas_floor, function, deadline)
        try:
            done = self._finish(dict(tx), market, pending, nonce, gas_floor, function, deadline)
        except LedgerError:
            self._check_call(tx, call, params, gas_floor, function)  # a refusal comes first
            raise
        if not self.backend.stage(self.signer.sign(done)):
            self._check_call(tx, call, params, gas_floor, function)
        return done

    def _check_call(
        self,
        tx: Mapping[str, Any],
        call: Any,
        params: Mapping[str, Any],
        gas_floor: int | None,
        function: str,
    ) -> None:
        """Run the built `tx` as a call on the pending block (the one it will be mined in):
        a refusal raises what `_would_fail` names."""
        try:
            self.backend.w3.eth.call(_call_params(tx), "pending")  # type: ignore[arg-type]
        except NETWORK_ERRORS:
            raise
        except Exception as exc:
            raise self._would_fail(exc, call, params, gas_floor, function) from None

    def _would_fail(
        self,
        exc: Exception,
        call: Any,
        params: Mapping[str, Any],
        gas_floor: int | None,
        function: str,
    ) -> LedgerError:
        """The named error of a refused build or check of `call`."""
        refusal = self.errors.refusal(revert_data(exc), function)
        if refusal is not None:
            return refusal
        why = first_line(exc, type(exc).__name__)
        if any(sign in why.lower() for sign in _UNAFFORDABLE):
            poor = self.unaffordable(call, params, gas_floor, function)
            if poor is not None:
                return poor
        return TransactionFailed(f"{function} would fail: {why}")

    def _finish(
        self,
        tx: dict[str, Any],
        market: FeeMarket,
        pending: Fees | None,
        nonce: int,
        gas_floor: int | None,
        function: str,
        deadline: int | None,
    ) -> dict[str, Any]:
        """`tx` with its gas limit and final fees, once its deadline can still be met."""
        if self.backend.FIXED_GAS is None:
            tx["gas"] = compute_gas_limit(self.policy, int(tx["gas"]), gas_floor)
        fees = self._fees(market, int(tx["gas"]), function)
        if pending is not None:  # this wallet's transaction still pending at `nonce`
            replacing = compute_replacement(self.policy, pending, fees, int(tx["gas"]))
            if replacing is None:
                raise FeeCapExceeded(
                    f"{function} not sent: replacing this wallet's pending transaction at nonce "
                    f"{nonce} ({describe_fees(pending)}) needs a bump above the fee cap; raise "
                    "max_fee_gwei / max_tx_cost_eth"
                )
            fees = replacing
        for key in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice"):
            tx.pop(key, None)
        tx.update(fees.fields())
        self.check_deadline(function, deadline)
        return tx

    def _fees(self, market: FeeMarket, gas: int | None, function: str) -> Fees:
        try:
            return compute_fees(self.policy, market, gas)
        except FeeCapExceeded as exc:
            raise FeeCapExceeded(f"{function} not sent: {exc.message}") from None

    def next_nonce(self) -> tuple[int, Fees | None]:
        """The nonce to send at, and the fees of this wallet's transaction that may still be
        pending there, which the new one must outbid: one this process sent that ended without
        a receipt, or one whose receipt a reorg removed (geth puts such a transaction back in
        its pool: sending at its nonce means only one of the two can ever be mined)."""
        address = self.signer.address
        flights, mined_here = self._in_flight(), self._mined()
        mined = self.backend.transaction_count(address, "latest")
        for n in [n for n in mined_here if n >= mined]:  # un-mined by a reorg
            flights.setdefault(n, mined_here.pop(n))
        for n in [n for n in flights if n < mined]:
            del flights[n]
        if flights:
            n = min(flights)
            return n, flights[n]
        return self.backend.transaction_count(address, "pending"), None

    def fee_market(self) -> FeeMarket:
        return read_fee_market(self.backend, self.policy)

    def check_deadline(self, function: str, deadline: int | None) -> None:
        """Raise `DeadlineMissed` when the next block cannot be mined before `deadline` (block
        timestamps rise strictly, so it is at least one second after the latest)."""
        if deadline is None:
            return
        latest = self.backend.latest_timestamp()
        if latest + 1 >= deadline:
            raise DeadlineMissed(
                f"{function} can no longer be mined before its deadline {deadline} (the latest "
                f"block is at {latest}); not retried"
            )

    # ------------------------------------------------------------ submit

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

    def unaffordable(
        self, call: Any, params: Mapping[str, Any], gas_floor: int | None, function: str
    ) -> InsufficientFunds | None:
        """`InsufficientFunds` when the wallet cannot prepay the transaction `params` builds
        (the node refused to estimate it at its fees), with the gas estimated without fees;
        None when it can (the refusal meant something else)."""
        gas = params.get("gas")
        if gas is None:
            try:
                gas = compute_gas_limit(
                    self.policy,
                    int(call.estimate_gas({"from": params["from"], "value": params["value"]})),
                    gas_floor,
                )
            except NETWORK_ERRORS:
                raise
            except Exception:
                gas = None
        tx = dict(params) if gas is None else {**params, "gas": gas}
        balance = int(self.backend.w3.eth.get_balance(self.signer.address))  # type: ignore[arg-type]
        if gas is not None and balance >= int(gas) * max_fee_of(tx) + int(tx["value"]):
            return None
        return self.insufficient_funds(tx, function, balance)

    def insufficient_funds(
        self, tx: Mapping[str, Any], function: str, balance: int | None = None
    ) -> InsufficientFunds:
        address = self.signer.address
        if balance is None:
            balance = int(self.backend.w3.eth.get_balance(address))  # type: ignore[arg-type]
        value = int(tx.get("value", 0))
        if "gas" not in tx:  # refused while estimating: the value alone is known
            need = f"{format_eth(value)} plus gas at up to {format_gwei(max_fee_of(tx))}"
        else:
            total = int(tx["gas"]) * max_fee_of(tx) + value
            need = (
                f"up to {format_eth(total)} ({tx['gas']} gas × {format_gwei(max_fee_of(tx))} "
                f"max fee + {format_eth(value)})"
            )
        return InsufficientFunds(
            f"wallet {address} has {format_eth(balance)} on chain {tx.get('chainId', '?')}; "
            f"{function} needs {need}: fund it and retry; nothing was sent"
        )

    # ------------------------------------------------------------ mine

    def mine(self, tx: dict[str, Any], function: str, deadline: int | None) -> Receipt | None:
        """Send `tx` and wait until it is mined deep enough, replacing it while it is stuck;
        returns its receipt, or None when its nonce was taken by another transaction of the
        wallet (the caller checks the call again)."""
        policy = self.policy
        nonce = int(tx["nonce"])
        flights, mined_here = self._in_flight(), self._mined()
        sent: list[bytes] = []

        def put(version: dict[str, Any]) -> None:
            sent.append(self.submit(version, function))
            flights[nonce] = Fees.of(version)

        try:
            try:
                put(tx)
            except Underpriced:  # the base fee rose since `prepare`, or another tx holds `nonce`
                tx = self.replacement(tx) or tx
                put(tx)
        except NonceTooLow:  # taken since `prepare`
            return None
        started = last_sent = time.monotonic()
        while True:
            receipt = self.receipt_of(sent)
            if receipt is not None:
                if int(receipt["status"]) != 1 or self.confirmed(receipt):
                    mined_here[nonce] = flights.pop(nonce, Fees.of(tx))
                    for old in sorted(mined_here)[:-REMEMBERED_MINED]:
                        del mined_here[old]
                    return receipt
                if time.monotonic() - started >= policy.receipt_timeout_s:
                    raise ReceiptTimeout(
                        f"{function}: tx 0x{sent[-1].hex()} mined in block "
                        f"{receipt['blockNumber']} has not reached {policy.confirmations} "
                        f"confirmations after {policy.receipt_timeout_s:g} s"
                    )
            elif self.nonce_taken(nonce):
                if self.receipt_of(sent) is not None:  # ours, mined between the two reads
                    continue
                if not any(self.known(h) for h in sent):  # not ours: the node dropped ours
                    flights.pop(nonce, None)
                    return None
                # ours, its receipt not served yet: anvil's automine counts the nonce before
                # it stores the receipt; the next look finds it
            else:
                self.check_deadline(function, deadline)
                now = time.monotonic()
                if now - started >= policy.receipt_timeout_s:
                    raise ReceiptTimeout(
                        f"{function}: no receipt for tx 0x{sent[-1].hex()} after "
                        f"{policy.receipt_timeout_s:g} s (it may still be mined; this wallet's "
                        "next transaction replaces it)"
                    )
                if not self.known(sent[-1]):  # dropped from the pool, or removed by a reorg
                    tx = self.resend(tx, function, put)
                    last_sent = now
                elif now - last_sent >= policy.replace_after_s:
                    tx = self.replace(tx, function, put, now - last_sent)
                    last_sent = now
            time.sleep(policy.poll_s)

    def replace(
        self,
        tx: dict[str, Any],
        function: str,
        put: Callable[[dict[str, Any]], None],
        waited: float,
    ) -> dict[str, Any]:
        """Replace the pending `tx` with a fee bump; returns what is pending now."""
        replacing = self.replacement(tx)
        if replacing is None:
            log.warning(
                "%s: tx at nonce %s pending for %.1f s and its fee cannot be raised within the "
                "cap; still waiting", function, tx["nonce"], waited,
            )  # fmt: skip
            return tx
        try:
            put(replacing)
        except (Underpriced, NonceTooLow):  # the base fee outran it, or it was just mined
            return tx
        log.warning(
            "%s: tx at nonce %s pending for %.1f s; replaced it (%s)",
            function, tx["nonce"], waited, describe_fees(replacing),
        )  # fmt: skip
        return replacing

    def resend(
        self, tx: dict[str, Any], function: str, put: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Send `tx` again, the node having forgotten it; if the node now refuses its fee, a
        replacement. Returns what was sent (`tx` when nothing could be: the next look tries
        again)."""
        try:
            put(tx)
        except (Underpriced, NonceTooLow):
            replacing = self.replacement(tx)
            if replacing is None:
                return tx
            try:
                put(replacing)
            except (Underpriced, NonceTooLow):
                return tx
            tx = replacing
        log.warning(
            "%s: the chain no longer knew it; sent it again (%s)", function, describe_fees(tx)
        )
        return tx

    def replacement(self, tx: Mapping[str, Any]) -> dict[str, Any] | None:
        """`tx` with the fees of a valid replacement at the current fee market, or None when
        the cap leaves no room (it stays pending as it is)."""
        gas = int(tx["gas"])
        try:
            fresh = compute_fees(self.policy, self.fee_market(), gas)
        except FeeCapExceeded:
            fresh = Fees.of(tx)
        fees = compute_replacement(self.policy, Fees.of(tx), fresh, gas)
        if fees is None:
            return None
        out = {
            k: v
            for k, v in tx.items()
            if k not in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice")
        }
        out.update(fees.fields())
        return out

    def receipt_of(self, sent: list[bytes]) -> Receipt | None:
        """The receipt of whichever version at this nonce was mined (newest first)."""
        for tx_hash in reversed(sent):
            try:
                return self.backend.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                continue
        return None

    def confirmed(self, receipt: Receipt) -> bool:
        """Whether `receipt`'s block is canonical and `confirmations` blocks deep."""
        if self.policy.confirmations <= 1:
            return True
        number = int(receipt["blockNumber"])
        head, _ = self.backend.head()
        if head - number + 1 < self.policy.confirmations:
            return False
        return self.backend.block_hash(number) == bytes(receipt["blockHash"])

    def nonce_taken(self, nonce: int) -> bool:
        """Whether a mined transaction of this wallet already uses `nonce`."""
        return self.backend.transaction_count(self.signer.address, "latest") > nonce

    def known(self, tx_hash: bytes) -> bool:
        """Whether the node still knows the transaction (pending or mined)."""
        try:
            self.backend.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    def _in_flight(self) -> dict[int, Fees]:
        """Nonce → fees of this wallet's transactions sent by this process and not known mined
        (one table per wallet on the backend, whichever Ledger sends)."""
        return self.backend.shared(("in-flight", self.signer.address.lower()), dict)

    def _mined(self) -> dict[int, Fees]:
        """Nonce → fees of this wallet's last transactions this process saw mined."""
        return self.backend.shared(("mined", self.signer.address.lower()), dict)

    # ------------------------------------------------------------ outcome

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


def describe_fees(tx: Mapping[str, Any] | Fees) -> str:
    fields = tx.fields() if isinstance(tx, Fees) else tx
    if "maxFeePerGas" in fields:
        return (
            f"max fee {format_gwei(int(fields['maxFeePerGas']))}, "
            f"tip {format_gwei(int(fields.get('maxPriorityFeePerGas', 0)))}"
        )
    return f"gas price {format_gwei(max_fee_of(fields))}"


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

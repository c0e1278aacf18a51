"""Chain backends: the embedded eth-tester/py-evm chain and any EVM JSON-RPC endpoint.

Both give the `Ledger` a `Web3` object plus devnet controls behind one interface:
`set_time(ts)` / `advance_time(seconds)` / `goto(schedule, round, phase)` (the latest block then
carries that timestamp), `fund(address, wei)`, and snapshots. Transactions are never sent from an unlocked node
account: the Ledger signs locally. The one exception is `EmbeddedBackend.fund`, which pays
from eth-tester's built-in test accounts (a faucet that exists only in-process).

Reads the event index (`flchain.ledger.index`) builds on: `head()`, `block_hash(n)`, cached
`block_timestamp(n)` and `fetch_logs(address, lo, hi)` — bounded `eth_getLogs` ranges over
JSON-RPC; on the embedded chain the logs of receipts this process already received
(`note_receipt`) plus a direct read of py-evm's stored receipts for the other blocks, because
eth-tester's own `eth_getLogs` looks every receipt up by walking back from the head. A backend
also keeps the views derived from it (`shared`), so every Ledger on it reads one event index.
"""

from __future__ import annotations

import functools
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, NamedTuple, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.exceptions import BlockNotFound
from web3.providers.base import JSONBaseProvider
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse

from flchain.ledger.errors import ChainConfigError, ChainUnavailable, LedgerError, first_line
from flchain.protocol import Phase, Schedule

BackendKind = Literal["embedded", "anvil", "hardhat", "rpc"]

# Errors a dead or misbehaving endpoint raises through web3's requests-based provider.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionError,
    TimeoutError,
)

T = TypeVar("T")

log = logging.getLogger("flchain.ledger")


#: The first part of a `Backend.shared` key under which a view that can no longer change is
#: kept (the rules of a started round): dropped on any rewind, as on a revert.
FROZEN_VIEWS: Final = ("frozen",)


class Backend(ABC):
    """A connected chain with devnet controls."""

    kind: BackendKind
    w3: Web3

    #: Gas limit of every transaction the Ledger sends, or None to estimate each one (with a
    #: margin). Real chains charge for the limit, so only a free in-process chain fixes it.
    FIXED_GAS: int | None = None

    #: Most blocks one `eth_getLogs` asks for (providers cap ranges or result counts; a refused
    #: range is halved down to one block before giving up).
    LOG_CHUNK = 2_000

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    # ------------------------------------------------------------ caches

    def _state(self) -> dict[str, Any]:
        # Lazily, so a subclass that does not call Backend.__init__ still works.
        state: dict[str, Any] | None = self.__dict__.get("_flchain_state")
        if state is None:
            state = self.__dict__.setdefault(
                "_flchain_state", {"lock": threading.RLock(), "times": {}, "shared": {}}
            )
        return state

    def shared(self, key: tuple[Any, ...], factory: Callable[[], T]) -> T:
        """The view stored under `key` on this backend, made by `factory` the first time
        (one event index per contract, whichever Ledger object asks)."""
        state = self._state()
        with state["lock"]:
            if key not in state["shared"]:
                state["shared"][key] = factory()
            value: T = state["shared"][key]
            return value

    def forget_blocks_from(self, block_number: int) -> None:
        """Drop what is cached about blocks ≥ `block_number` (after a rewind), and every
        `FROZEN_VIEWS` cache: a rewind deep enough may change what they hold."""
        state = self._state()
        with state["lock"]:
            times: dict[int, int] = state["times"]
            for n in [n for n in times if n >= block_number]:
                del times[n]
            shared: dict[tuple[Any, ...], Any] = state["shared"]
            for key in [k for k in shared if k[: len(FROZEN_VIEWS)] == FROZEN_VIEWS]:
                del shared[key]

    def _forget_everything(self) -> None:
        """After a revert: drop cached timestamps and every shared view (they rebuild)."""
        state = self._state()
        with state["lock"]:
            state["times"].clear()
            state["shared"].clear()

    # ------------------------------------------------------------ block reads

    def head(self) -> tuple[int, bytes]:
        """Number and hash of the latest block."""
        block = self.w3.eth.get_block("latest")
        return int(block["number"]), bytes(block["hash"])

    def block_hash(self, block_number: int) -> bytes | None:
        """Hash of block `block_number`, or None if the chain has no such block."""
        try:
            return bytes(self.w3.eth.get_block(block_number)["hash"])
        except BlockNotFound:
            return None

    def block_timestamp(self, block_number: int) -> int:
        """Timestamp of block `block_number` (cached: blocks do not change on a devnet; a
        rewind noticed by the event index drops the cache)."""
        state = self._state()
        times: dict[int, int] = state["times"]
        ts = times.get(block_number)
        if ts is None:
            ts = int(self.w3.eth.get_block(block_number)["timestamp"])
            times[block_number] = ts
        return ts

    def next_base_fee(self) -> int | None:
        """Base fee per gas of the next block (what a transaction must offer at least to be
        mined in it), or None on a chain without EIP-1559. From `eth_feeHistory`, whose last
        entry is the next block's, else the pending block."""
        try:
            fees = self.w3.eth.fee_history(1, "latest").get("baseFeePerGas") or []
        except NETWORK_ERRORS:
            raise
        except Exception:  # a node without eth_feeHistory
            fees = []
        if fees:  # zeros: a chain before London answers so; legacy transactions suit it
            return int(fees[-1]) or None
        pending = self.w3.eth.get_block("pending").get("baseFeePerGas")
        return None if pending is None else int(pending)

    def note_receipt(self, receipt: Any) -> None:  # noqa: B027 - optional hook, no-op by default
        """A receipt this process received (the Ledger passes every one it waits for)."""

    def revert_data_of(self, receipt: Any) -> bytes | None:
        """The revert bytes of the failed transaction behind `receipt`, if this backend can
        re-execute it exactly (None: unknown)."""
        return None

    def call_latest(self, tx: dict[str, Any]) -> bytes:
        """The return bytes of `eth_call` of `tx` (`to`, `data`, `from`: hex strings) on the
        latest block; a refused call raises what web3 raises."""
        return bytes(self.w3.eth.call(tx, "latest"))  # type: ignore[arg-type]

    def stage(self, raw: bytes) -> bool:
        """Execute the signed transaction `raw` where the next send would, and keep its effect
        for that send of these very bytes only when it succeeds and a pre-check call of it
        (`eth_call` on the pending block) would have passed too; False leaves the chain as it
        was (nothing sent, no nonce used), and the `TxSender` then checks with that call.
        JSON-RPC chains cannot stage: False."""
        return False

    def fetch_logs(self, address: str, lo: int, hi: int) -> list[Any]:
        """Every log `address` emitted in blocks lo..hi (inclusive), in chain order."""
        out: list[Any] = []
        chunk = max(1, self.LOG_CHUNK)
        start = lo
        while start <= hi:
            end = min(hi, start + chunk - 1)
            try:
                out.extend(
                    self.w3.eth.get_logs(
                        {"address": address, "fromBlock": start, "toBlock": end}  # type: ignore[typeddict-item]
                    )
                )
            except NETWORK_ERRORS:
                raise
            except Exception as exc:  # a provider refusing the range or the result size
                if end == start:
                    why = first_line(exc, type(exc).__name__)
                    raise LedgerError(f"eth_getLogs refused block {start}: {why}") from None
                chunk = max(1, (end - start + 1) // 2)
                continue
            start = end + 1
        return out

    def transaction_count(self, address: str, block: Literal["latest", "pending"]) -> int:
        """Transactions sent from `address` mined by the latest block, or also pending."""
        return int(self.w3.eth.get_transaction_count(to_checksum_address(address), block))

    def latest_timestamp(self) -> int:
        """Timestamp of the latest block: the chain's idea of 'now' for views."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance_time(self, seconds: int) -> int:
        """Move chain time forward by `seconds` (mines a block); returns the new timestamp."""
        if seconds < 0:
            raise ChainConfigError("cannot move chain time backwards")
        return self.set_time(self.latest_timestamp() + max(seconds, 1))

    @abstractmethod
    def set_time(self, timestamp: int) -> int:
        """Mine a block with timestamp `timestamp` (must be later than the latest block)."""

    def goto(self, schedule: Schedule, round: int, phase: Phase, offset: int = 1) -> int:
        """Move chain time to `offset` seconds into `phase` (COMMIT, REVEAL or CLOSED) of
        `round` of `schedule` (a deployment's `Ledger.schedule`); returns the new timestamp."""
        try:
            start = schedule.phase_start(round, phase)
        except ValueError:
            raise ChainConfigError("goto needs COMMIT, REVEAL or CLOSED") from None
        return self.set_time(start + offset)

    @abstractmethod
    def fund(self, address: str, wei: int) -> None:
        """Give `address` a balance of at least `wei` (devnets only)."""

    @abstractmethod
    def snapshot(self) -> Any:
        """Snapshot of the whole chain state; pass it to `revert`."""

    @abstractmethod
    def revert(self, snapshot_id: Any) -> None:
        """Restore a snapshot taken with `snapshot`."""

    def _check_forward(self, timestamp: int) -> None:
        latest = self.latest_timestamp()
        if timestamp <= latest:
            raise ChainConfigError(
                f"chain time can only move forward (latest block is at {latest})"
            )


#: The fees eth-tester gives a call without fee fields (max fee and tip per gas): what the
#: sender's pre-check `eth_call` pays, so what a staged transaction must cover to stand in for it.
_CALL_FEE_PER_GAS: Final = 10**9

#: Transaction type 3 (blobs): eth-tester strips their sidecar on send; never staged.
_BLOB_TX_TYPE: Final = 3


class _Staged(NamedTuple):
    """A transaction applied to the pending block ahead of its send."""

    raw: bytes
    tx_hash: bytes
    before: Any  # the pending header without it
    after: Any  # the pending header with it


@functools.cache
def _staging_pyevm_class() -> type[Any]:
    """eth-tester's py-evm backend that can apply a transaction ahead of its send (`stage`)
    and answers a repeated call on the same latest block from memory; its chain answers trie
    reads from memory too (`flchain.ledger.pyevm_reads`).

    On py-evm the pending block is all in `chain.header` (its state root, gas used, roots of
    transactions and receipts; the trie nodes behind them are content-addressed), so putting
    the header back undoes an applied transaction entirely. The sender's flow on the embedded
    chain was a pre-check call then the send — two executions of every transaction; staged,
    the send finds the transaction applied and only mines its block (one execution)."""
    from eth.vm.spoof import SpoofTransaction
    from eth_tester import PyEVMBackend
    from eth_tester.backends.pyevm import main as pyevm_main
    from eth_utils import ValidationError

    # an eth-tester without it: every call goes through its own `call`
    vm_at: Callable[[Any, Any], Any] | None = getattr(pyevm_main, "_get_vm_for_block_number", None)

    from flchain.ledger.pyevm_reads import TrieReads, install_read_cache

    class StagingPyEVMBackend(PyEVMBackend):
        staged: _Staged | None = None
        #: trie reads answered from memory on this backend's chain (`pyevm_reads`)
        trie_reads: TrieReads
        #: answers of calls on the latest block, by call, for the block in `_answers_at`
        _answers: dict[tuple[Any, ...], bytes]
        _answers_at: tuple[Any, ...] | None = None

        def reset_to_genesis(self, *args: Any, **kwargs: Any) -> Any:
            result = super().reset_to_genesis(*args, **kwargs)
            self.trie_reads = install_read_cache(self.chain)
            return result

        def call(self, transaction: Any, block_number: Any = "latest") -> Any:
            # A call on the latest block is a function of that block and the call (and of the
            # pending block's free gas, eth-tester's default limit): the same call again before
            # the next block is answered from memory, without executing it again. Refusals
            # are not kept (they raise, and are rare).
            if block_number != "latest":
                return super().call(transaction, block_number)
            pending = self.chain.header
            at = (pending.parent_hash, pending.block_number, pending.gas_limit, pending.gas_used)
            if at != self._answers_at:
                self._answers, self._answers_at = {}, at
            try:
                key = tuple(sorted(transaction.items()))
                hash(key)
            except TypeError:  # a list in it (an access list): not kept
                return super().call(transaction, block_number)
            answer = self._answers.get(key)
            if answer is None:
                answer = self._unfinalized_call(transaction)
                if answer is None:  # refused: eth-tester runs it again and raises its error
                    answer = super().call(transaction, block_number)
                self._answers[key] = answer
            return answer

        def _unfinalized_call(self, transaction: Any) -> bytes | None:
            # eth-tester's call on the latest block, but without the transaction's
            # finalization (gas refund, fee to the coinbase, touched-account cleanup): it
            # changes only the state, which a call throws away, never the computation's
            # output. It was ~2 % of a 10 x 7 simulation's CPU (cProfile). None when the call
            # fails or anything raises: the caller asks eth-tester itself then.
            try:
                defaulted = dict(transaction)
                if "gas" not in defaulted:
                    defaulted["gas"] = self._max_available_gas()
                unsigned = self._get_normalized_and_unsigned_evm_transaction(defaulted, "latest")
                spoofed = SpoofTransaction(unsigned, from_=transaction["from"])
                if vm_at is None:
                    return None
                state = vm_at(self.chain, "latest").state
                snapshot = state.snapshot()
                try:
                    executor = state.get_transaction_executor()
                    executor.validate_transaction(spoofed)
                    message = executor.build_evm_message(spoofed)
                    computation = executor.build_computation(message, spoofed)
                finally:
                    state.revert(snapshot)
            except Exception:
                return None
            if computation.is_error:
                return None
            return bytes(computation.output)

        def stage(self, raw: bytes) -> bool:
            self.unstage()
            if not raw or raw[0] == _BLOB_TX_TYPE:
                return False
            chain = self.chain
            before = chain.header
            vm = chain.get_vm(before)
            try:
                tx = vm.get_transaction_builder().decode(raw)
            except Exception:  # not a transaction this VM decodes: the ordinary path says why
                return False
            if not _covers_call_fees(vm.state, tx):
                return False
            try:
                _, _, computation = chain.apply_transaction(tx)
            except ValidationError:  # nonce, balance, fee below the base fee: nothing applied
                chain.header = before
                return False
            if computation.is_error:
                chain.header = before
                return False
            self.staged = _Staged(bytes(raw), bytes(tx.hash), before, chain.header)
            return True

        def unstage(self) -> None:
            """Take a staged transaction back out of the pending block (any other change to
            the chain comes after it is sent or dropped)."""
            staged, self.staged = self.staged, None
            if staged is not None and self.chain.header is staged.after:
                self.chain.header = staged.before

        def send_raw_transaction(self, raw_transaction: bytes) -> bytes:
            staged = self.staged
            if (
                staged is not None
                and staged.raw == bytes(raw_transaction)
                and self.chain.header is staged.after
            ):
                self.staged = None
                return staged.tx_hash
            self.unstage()
            return bytes(super().send_raw_transaction(raw_transaction))

        # Every other change to the chain takes a staged transaction back out first (it is
        # only ever staged right before its send; this keeps a stray one from being mined
        # unsent, e.g. after an exception in between).
        def send_transaction(self, *args: Any, **kwargs: Any) -> Any:
            self.unstage()
            return super().send_transaction(*args, **kwargs)

        def send_signed_transaction(self, *args: Any, **kwargs: Any) -> Any:
            self.unstage()
            return super().send_signed_transaction(*args, **kwargs)

        def mine_blocks(self, *args: Any, **kwargs: Any) -> Any:
            self.unstage()
            return super().mine_blocks(*args, **kwargs)

        def time_travel(self, *args: Any, **kwargs: Any) -> Any:
            self.unstage()
            return super().time_travel(*args, **kwargs)

        def take_snapshot(self) -> Any:
            self.unstage()
            return super().take_snapshot()

        def revert_to_snapshot(self, *args: Any, **kwargs: Any) -> Any:
            self.unstage()
            return super().revert_to_snapshot(*args, **kwargs)

    return StagingPyEVMBackend


def _covers_call_fees(state: Any, tx: Any) -> bool:
    """Whether the pre-check call (fees `_CALL_FEE_PER_GAS`) is valid whenever `tx` is: the
    call's fee is at least the base fee and `tx` pays at least as much per gas, so a sender who
    can afford `tx` could afford the call. Where not, the pre-check runs and decides."""
    base_fee = int(state.execution_context.base_fee_per_gas)
    return base_fee <= _CALL_FEE_PER_GAS and int(state.get_gas_price(tx)) >= _CALL_FEE_PER_GAS


@functools.cache
def _filterless_tester_class() -> type[Any]:
    """eth-tester's `EthereumTester` whose mining skips, while nobody has a block or log filter,
    the block it builds and formats for the filters after each block (a whole block by hash per
    transaction mined: ~2 % of a 10 × 7 simulation's CPU, cProfile); the blocks mined and the
    hashes returned are the same."""
    from eth_tester import EthereumTester
    from eth_tester.constants import ZERO_ADDRESS_HEX
    from eth_tester.exceptions import ValidationError

    class FilterlessEthereumTester(EthereumTester):
        def mine_blocks(self, num_blocks: int = 1, coinbase: Any = ZERO_ADDRESS_HEX) -> Any:
            if self._block_filters or self._log_filters:
                return super().mine_blocks(num_blocks, coinbase)
            # EthereumTester.mine_blocks up to its loop over the filters
            self.validator.validate_inbound_account(coinbase)
            normalized_coinbase = self.normalizer.normalize_inbound_account(coinbase)
            if not self.auto_mine_transactions:
                self._pop_pending_transactions_to_pending_block()
            raw_block_hashes = self.backend.mine_blocks(num_blocks, normalized_coinbase)
            if len(raw_block_hashes) != num_blocks:
                raise ValidationError(
                    f"Invariant: tried to mine {num_blocks} blocks.  Got "
                    f"{len(raw_block_hashes)} mined block hashes."
                )
            for raw_block_hash in raw_block_hashes:
                self.validator.validate_outbound_block_hash(raw_block_hash)
            return [self.normalizer.normalize_outbound_block_hash(h) for h in raw_block_hashes]

    return FilterlessEthereumTester


#: web3 middleware the in-process chain does without (see `EmbeddedBackend.__init__`).
_EMBEDDED_SKIPPED_MIDDLEWARE: Final = ("validation", "ens_name_to_address")


class EmbeddedBackend(Backend):
    """In-process eth-tester on py-evm: the default, nothing to start."""

    kind: BackendKind = "embedded"

    #: py-evm estimates by binary search (~13 executions per transaction); gas is free here and
    #: a receipt's gasUsed does not depend on the limit, so every transaction gets this limit:
    #: far above any FLChain call, well below the block gas limit (~30 M; it drifts by at most
    #: 1/1024 per block), and cheap to prepay for a funded wallet (limit × fee ≪ 1 ether).
    FIXED_GAS: int | None = 10_000_000

    def __init__(self) -> None:
        from flchain.ledger.pyevm_reads import use_c_keccak, use_fast_nibbles

        use_c_keccak()
        use_fast_nibbles()
        self.tester = _filterless_tester_class()(_staging_pyevm_class()())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        self._faucet = self.tester.get_accounts()[0]
        # web3's eth-tester middleware fills a missing `from` of every call with eth_accounts[0]
        # (a round-trip per view); it is the faucet, so name it once.
        self.w3.eth.default_account = self._faucet
        # web3's validation middleware checks each call's chain id with an eth_chainId of its
        # own (an extra round-trip per call and transaction) and the ENS one walks every
        # argument for a name: this chain has no ENS and every transaction is signed here for
        # its chain id. They took 4 % of a 10 × 7 simulation's CPU (cProfile).
        for name in _EMBEDDED_SKIPPED_MIDDLEWARE:
            self.w3.middleware_onion.remove(name)
        # Logs of blocks whose every transaction's receipt this process saw, by block number.
        self._receipt_logs: dict[int, list[Any]] = {}

    # Block reads straight from py-evm's headers: what eth-tester's get_block serves (its
    # "latest" is the canonical block under the pending one), without building and
    # serializing whole blocks for one field; they were 7 % of a 10 × 7 simulation (cProfile).

    def _latest_header(self) -> Any:
        chain = self.tester.backend.chain
        return chain.get_canonical_block_header_by_number(max(0, chain.header.block_number - 1))

    def head(self) -> tuple[int, bytes]:
        header = self._latest_header()
        return int(header.block_number), bytes(header.hash)

    def latest_timestamp(self) -> int:
        return int(self._latest_header().timestamp)

    def block_hash(self, block_number: int) -> bytes | None:
        from eth.exceptions import HeaderNotFound

        chain = self.tester.backend.chain
        if not 0 <= block_number < chain.header.block_number:  # the pending block is no block
            return None
        try:
            return bytes(chain.get_canonical_block_header_by_number(block_number).hash)
        except HeaderNotFound:
            return None

    def block_timestamp(self, block_number: int) -> int:
        times: dict[int, int] = self._state()["times"]
        ts = times.get(block_number)
        if ts is None:
            chain = self.tester.backend.chain
            if not 0 <= block_number < chain.header.block_number:
                raise BlockNotFound(f"no block {block_number} on the embedded chain")
            header = chain.get_canonical_block_header_by_number(block_number)
            ts = times[block_number] = int(header.timestamp)
        return ts

    def transaction_count(self, address: str, block: Literal["latest", "pending"]) -> int:
        chain = self.tester.backend.chain
        header = chain.header if block == "pending" else self._latest_header()
        return int(chain.get_vm(at_header=header).state.get_nonce(bytes.fromhex(address[2:])))

    def next_base_fee(self) -> int | None:
        # eth-tester answers eth_feeHistory with no base fees; its pending block has the one.
        pending = getattr(self.tester.backend.chain.header, "base_fee_per_gas", None)
        return None if pending is None else int(pending)

    def note_receipt(self, receipt: Any) -> None:
        # With auto-mining each transaction is mined alone in its own block, so one receipt is
        # the whole block's log. Without it a block may hold transactions nobody asked about.
        if not getattr(self.tester, "auto_mine_transactions", False):
            return
        self._receipt_logs[int(receipt["blockNumber"])] = list(receipt["logs"])

    def fetch_logs(self, address: str, lo: int, hi: int) -> list[Any]:
        wanted = address.lower()
        out: list[Any] = []
        for n in range(lo, hi + 1):
            seen = self._receipt_logs.get(n)
            if seen is None:
                out.extend(self._scan_block(bytes.fromhex(wanted[2:]), n))
            else:
                out.extend(log for log in seen if str(log["address"]).lower() == wanted)
        return out

    def call_latest(self, tx: dict[str, Any]) -> bytes:
        # Straight to the py-evm backend with the transaction eth-tester's normalizer makes of
        # web3's request (to, data, from as bytes): web3's request formatting, middleware and
        # eth-tester's validation took a sixth of each view's time beside py-evm's own. A
        # refusal goes through web3 again, so what it raises is web3's own error.
        try:
            raw = {
                "to": bytes.fromhex(tx["to"][2:]),
                "data": bytes.fromhex(tx["data"][2:]),
                "from": bytes.fromhex(tx["from"][2:]),
            }
            return bytes(self.tester.backend.call(raw, "latest"))
        except Exception:
            return super().call_latest(tx)

    def stage(self, raw: bytes) -> bool:
        # Without auto-mining a sent transaction waits in eth-tester's own pending list.
        if not getattr(self.tester, "auto_mine_transactions", False):
            return False
        return bool(self.tester.backend.stage(raw))

    def revert_data_of(self, receipt: Any) -> bytes | None:
        # Re-run the block's transactions up to the failed one on the parent's state under the
        # mined header (same timestamp, same order), and read the revert bytes py-evm kept.
        from eth.exceptions import Revert

        chain = self.tester.backend.chain
        number, index = int(receipt["blockNumber"]), int(receipt["transactionIndex"])
        header = chain.get_canonical_block_header_by_number(number)
        parent = chain.get_canonical_block_header_by_number(number - 1)
        transactions = chain.get_block_by_header(header).transactions
        state = chain.get_vm(at_header=header.copy(state_root=parent.state_root, gas_used=0)).state
        for tx in transactions[:index]:
            state.apply_transaction(tx)
        if index >= len(transactions):
            return None
        computation = state.apply_transaction(transactions[index])
        error = computation.error if computation.is_error else None
        if isinstance(error, Revert) and error.args and isinstance(error.args[0], bytes):
            return error.args[0]
        return None

    def _scan_block(self, address: bytes, block_number: int) -> list[dict[str, Any]]:
        """The logs of `address` in one mined block, read from py-evm's stored receipts (what
        eth-tester's eth_getLogs returns, without its per-receipt walk from the head)."""
        from eth.constants import BLANK_ROOT_HASH
        from eth_bloom import BloomFilter

        chain = self.tester.backend.chain
        header = chain.get_canonical_block_header_by_number(block_number)
        # Most blocks are time steps (empty) or other senders' (the bloom rules them out).
        if header.transaction_root == BLANK_ROOT_HASH or address not in BloomFilter(header.bloom):
            return []
        block = chain.get_block_by_header(header)
        out: list[dict[str, Any]] = []
        receipts = block.get_receipts(chain.chaindb)
        for tx_index, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
            for log_index, log in enumerate(receipt.logs):  # eth-tester numbers per receipt
                if log.address != address:
                    continue
                out.append(
                    {
                        "address": to_checksum_address(log.address),
                        "topics": [HexBytes(t.to_bytes(32, "big")) for t in log.topics],
                        "data": HexBytes(log.data),
                        "blockNumber": block.number,
                        "blockHash": HexBytes(block.hash),
                        "logIndex": log_index,
                        "transactionIndex": tx_index,
                        "transactionHash": HexBytes(tx.hash),
                        "removed": False,
                    }
                )
        return out

    def set_time(self, timestamp: int) -> int:
        self._check_forward(timestamp)
        # time_travel mines a block just before `timestamp`; one more block lands on it.
        self.tester.time_travel(timestamp)
        self.tester.mine_blocks(1)
        return self.latest_timestamp()

    def fund(self, address: str, wei: int) -> None:
        target = to_checksum_address(address)
        missing = wei - int(self.w3.eth.get_balance(target))
        if missing > 0:
            self.tester.send_transaction(
                {"from": self._faucet, "to": target, "value": missing, "gas": 21_000}
            )

    def snapshot(self) -> Any:
        return self.tester.take_snapshot()

    def revert(self, snapshot_id: Any) -> None:
        self.tester.revert_to_snapshot(snapshot_id)
        self._receipt_logs.clear()
        self._forget_everything()


def endpoint_label(url: str) -> str:
    """`scheme://host:port` of an RPC URL: providers put API keys in the path or query, and
    those never go into a log line."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}" if parts.netloc else "(url)"


def _endpoint_down(exc: BaseException) -> bool:
    """Whether `exc` says the endpoint itself failed (unreachable, overloaded, rate-limited),
    not that it answered the request."""
    if isinstance(exc, NETWORK_ERRORS):
        return True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return isinstance(exc, requests.exceptions.HTTPError) and (
        status == 429 or (status or 0) >= 500
    )


class FailoverProvider(JSONBaseProvider):
    """JSON-RPC over several HTTP endpoints of one chain: requests go to the endpoint in use;
    when it cannot be reached (or answers 5xx / 429) the next one in order takes over and stays
    in use. An endpoint is used only once its chain id matched (`chain_id`, checked when it is
    first switched to: one that disagrees is skipped and logged). When every endpoint fails, the
    last failure is raised (a network error: callers report `ChainUnavailable`)."""

    def __init__(self, urls: Sequence[str], timeout: float) -> None:
        super().__init__()
        self.urls = list(urls)
        self._providers = [
            HTTPProvider(u, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
            for u in self.urls
        ]
        self.active = 0
        self.chain_id: int | None = None  # the chain every endpoint must serve (set at start)
        self._checked: set[int] = set()
        self._wrong: set[int] = set()
        self._lock = threading.Lock()

    def probe(self, index: int) -> int:
        """The chain id endpoint `index` answers (raises what the request raised when it is
        down; ValueError or KeyError when it does not answer like a JSON-RPC node)."""
        answer = self._providers[index].make_request(RPCEndpoint("eth_chainId"), [])
        return int(str(answer["result"]), 16)

    def accept(self, chain_id: int, checked: Sequence[int]) -> None:
        """Endpoints `checked` serve `chain_id`, the chain every endpoint must serve."""
        self.chain_id = chain_id
        self._checked.update(checked)
        self.active = min(checked)

    def check(self, index: int) -> bool:
        """Whether endpoint `index`, used for the first time, serves `chain_id`."""
        found = self.probe(index)
        self._checked.add(index)
        if found != self.chain_id:
            self._wrong.add(index)
            log.error(
                "RPC endpoint %s serves chain id %d, not %s: not used",
                endpoint_label(self.urls[index]), found, self.chain_id,
            )  # fmt: skip
            return False
        return True

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        failure: BaseException | None = None
        start = self.active
        for step in range(len(self._providers)):
            index = (start + step) % len(self._providers)
            if index in self._wrong:
                continue
            try:
                if index not in self._checked and not self.check(index):
                    continue
                response = self._providers[index].make_request(method, params)
            except Exception as exc:
                if not _endpoint_down(exc):
                    raise
                failure = exc
                continue
            if index != self.active:
                with self._lock:
                    log.warning(
                        "RPC endpoint %s failed (%s); now using %s",
                        endpoint_label(self.urls[self.active]),
                        type(failure).__name__ if failure else "wrong chain",
                        endpoint_label(self.urls[index]),
                    )  # fmt: skip
                    self.active = index
            return response
        if failure is None:
            raise requests.exceptions.ConnectionError("no RPC endpoint serves the expected chain")
        raise failure

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            self.make_request(RPCEndpoint("web3_clientVersion"), [])
        except Exception:
            if show_traceback:
                raise
            return False
        return True


class RpcBackend(Backend):
    """Any EVM JSON-RPC endpoint; devnet controls use anvil/hardhat methods where present.

    With `fallback_urls`, requests fail over between `url` and them in order
    (`FailoverProvider`); every endpoint reachable now must serve the same chain (and
    `expected_chain_id` when given), or this refuses to start."""

    def __init__(
        self,
        url: str,
        *,
        kind: BackendKind = "rpc",
        expected_chain_id: int | None = None,
        timeout: float = 10.0,
        fallback_urls: Sequence[str] = (),
    ) -> None:
        self.url = url
        self.urls = [url, *fallback_urls]
        self.kind = kind
        if fallback_urls:
            self._failover: FailoverProvider | None = FailoverProvider(self.urls, timeout)
            self.w3 = Web3(self._failover)
            chain_id = self._check_endpoints(self._failover, expected_chain_id)
        else:
            self._failover = None
            self.w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}))
            chain_id = self._ask_chain_id(url)
        if expected_chain_id is not None and chain_id != expected_chain_id:
            raise ChainConfigError(
                f"wrong chain: {url} has chain id {chain_id}, expected {expected_chain_id}"
            )
        # web3's validation middleware asks eth_chainId before every call, estimate and
        # transaction — on a metered or rate-limited RPC a second request for each view a node
        # reads. The chain id was checked just now (and a failover endpoint's when it is first
        # used), every transaction is signed here for that id (a chain with another id refuses
        # it: EIP-155), and no call declares one, so it guarded nothing.
        self.w3.middleware_onion.remove("validation")

    @property
    def active_url(self) -> str:
        """The endpoint requests go to now."""
        return self.url if self._failover is None else self._failover.urls[self._failover.active]

    def _ask_chain_id(self, url: str) -> int:
        try:
            return int(self.w3.eth.chain_id)
        except NETWORK_ERRORS:
            raise ChainUnavailable(f"cannot reach the RPC endpoint at {url}") from None
        except (ValueError, TypeError, KeyError):
            raise ChainUnavailable(
                f"the endpoint at {url} did not answer like an EVM JSON-RPC node"
            ) from None

    def _check_endpoints(self, provider: FailoverProvider, expected: int | None) -> int:
        """The chain id every endpoint reachable now agrees on (those down are checked when
        first used)."""
        found: dict[int, int] = {}
        for index, url in enumerate(provider.urls):
            try:
                found[index] = provider.probe(index)
            except (ValueError, KeyError, TypeError):
                raise ChainUnavailable(
                    f"the endpoint at {url} did not answer like an EVM JSON-RPC node"
                ) from None
            except Exception as exc:
                if not _endpoint_down(exc):
                    raise
                log.warning(
                    "RPC endpoint %s is down (%s); it is checked when first needed",
                    endpoint_label(url), type(exc).__name__,
                )  # fmt: skip
        if not found:
            raise ChainUnavailable(f"cannot reach any RPC endpoint ({', '.join(provider.urls)})")
        first = min(found)
        wanted = expected if expected is not None else found[first]
        for index, chain_id in found.items():
            if chain_id != wanted:
                than = "expected" if expected is not None else f"{provider.urls[first]} has"
                raise ChainConfigError(
                    f"wrong chain: {provider.urls[index]} has chain id {chain_id}, {than} {wanted}"
                )
        provider.accept(wanted, list(found))
        return wanted

    def _rpc(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        except NETWORK_ERRORS:
            raise ChainUnavailable(f"cannot reach the RPC endpoint at {self.url}") from None
        if "error" in response:
            error = response["error"]
            if not isinstance(error, dict):
                error = {"message": error}
            why = first_line(error.get("message", ""), f"code {error.get('code', '?')}")
            raise LedgerError(f"{method} failed on {self.url}: {why}")
        return response.get("result")

    def set_time(self, timestamp: int) -> int:
        self._check_forward(timestamp)
        self._rpc("evm_setNextBlockTimestamp", [timestamp])
        self._rpc("evm_mine", [])
        return self.latest_timestamp()

    def fund(self, address: str, wei: int) -> None:
        method = "hardhat_setBalance" if self.kind == "hardhat" else "anvil_setBalance"
        target = to_checksum_address(address)
        if int(self.w3.eth.get_balance(target)) < wei:
            self._rpc(method, [target, hex(wei)])

    def revert_data_of(self, receipt: Any) -> bytes | None:
        """On a devnet (anvil, hardhat): the revert bytes `debug_traceTransaction` reports,
        the transaction re-run at its place in its block; None elsewhere or when refused."""
        if self.kind not in ("anvil", "hardhat"):
            return None
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        quiet = {"disableStorage": True, "disableStack": True, "disableMemory": True}
        try:
            trace = self._rpc("debug_traceTransaction", [tx_hash, quiet])
        except LedgerError:
            return None
        if not isinstance(trace, dict) or not trace.get("failed"):
            return None
        output = str(trace.get("returnValue") or "").removeprefix("0x")
        try:
            return bytes.fromhex(output) or None
        except ValueError:
            return None

    def snapshot(self) -> Any:
        return self._rpc("evm_snapshot", [])

    def revert(self, snapshot_id: Any) -> None:
        refused = self._rpc("evm_revert", [snapshot_id]) is False
        self._forget_everything()
        if refused:
            raise LedgerError(f"evm_revert({snapshot_id}) was refused by {self.url}")


# ------------------------------------------------------------------ an owned devnet's transport

#: web3 middleware a devnet this process owns does without (see `lighten_owned_devnet`).
_OWNED_DEVNET_SKIPPED_MIDDLEWARE: Final = _EMBEDDED_SKIPPED_MIDDLEWARE
_LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "::1")


class LoopbackHTTPProvider(HTTPProvider):
    """An `HTTPProvider` whose requests go through one urllib3 connection pool shared by every
    thread, for a node on this machine's loopback. web3's default is a requests session per
    thread, and requests reads the whole proxy environment twice and rebuilds its hooks and
    cookie jar for every request: on a node that answers in ~0.1 ms, this provider took a
    100 × 2 anvil simulation from 28.7 s of CPU to 24.2 s. Network failures surface as
    requests' `ConnectionError` / `Timeout`, like the default's, so `NETWORK_ERRORS` still
    names them."""

    def __init__(self, url: str, *, connections: int, timeout: float = 10.0) -> None:
        super().__init__(url, request_kwargs={"timeout": timeout})
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in _LOOPBACK_HOSTS:
            raise ChainConfigError(f"{url} is not a plain-HTTP loopback endpoint")
        self._path = parts.path or "/"
        self._pool = urllib3.HTTPConnectionPool(
            parts.hostname, parts.port or 80, maxsize=connections, block=True,  # no extras
            timeout=timeout, retries=False,
        )  # fmt: skip
        self._headers = {"Content-Type": "application/json"}

    def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        try:
            response = self._pool.urlopen(
                "POST", self._path, body=request_data, headers=self._headers
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise requests.exceptions.Timeout(str(exc)) from None
        except urllib3.exceptions.HTTPError as exc:
            raise requests.exceptions.ConnectionError(str(exc)) from None
        if response.status >= 400:
            raise requests.exceptions.HTTPError(f"{response.status} from {self.endpoint_uri}")
        return bytes(response.data)


def lighten_owned_devnet(backend: RpcBackend, connections: int) -> None:
    """Cut web3's per-request costs on a loopback devnet this process started and signs every
    transaction for (the simulation's anvil): requests through a `LoopbackHTTPProvider` of
    `connections` connections, and without the ENS middleware (a devnet has no ENS), as
    `EmbeddedBackend` does. Every `RpcBackend` already goes without the validation middleware
    (its eth_chainId before every call was 7 929 of a 100 × 2 simulation's 26 705 requests);
    with the provider, the simulation's CPU went from 39.5 s to 24.2 s. What the chain sees is
    unchanged."""
    if len(backend.urls) > 1:
        raise ChainConfigError("an owned devnet has one endpoint, not a failover list")
    backend.w3.provider = LoopbackHTTPProvider(backend.url, connections=connections)
    for name in _OWNED_DEVNET_SKIPPED_MIDDLEWARE:
        if name in backend.w3.middleware_onion:
            backend.w3.middleware_onion.remove(name)

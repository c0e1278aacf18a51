"""Chain backends: the embedded eth-tester/py-evm chain and any EVM JSON-RPC endpoint.

Both give the `Ledger` a `Web3` object plus devnet controls behind one interface:
`set_time(ts)` / `advance_time(seconds)` (the latest block then carries that timestamp),
`fund(address, wei)`, and snapshots. Transactions are never sent from an unlocked node
account: the Ledger signs locally. The one exception is `EmbeddedBackend.fund`, which pays
from eth-tester's built-in test accounts (a faucet that exists only in-process).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

import requests
from eth_utils import to_checksum_address
from web3 import HTTPProvider, Web3
from web3.providers.eth_tester import EthereumTesterProvider

from flchain.ledger.errors import ChainConfigError, ChainUnavailable, LedgerError

BackendKind = Literal["embedded", "anvil", "hardhat", "rpc"]

# Errors a dead or misbehaving endpoint raises through web3's requests-based provider.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionError,
    TimeoutError,
)


class Backend(ABC):
    """A connected chain with devnet controls."""

    kind: BackendKind
    w3: Web3

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

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


class EmbeddedBackend(Backend):
    """In-process eth-tester on py-evm: the default, nothing to start."""

    kind: BackendKind = "embedded"

    def __init__(self) -> None:
        from eth_tester import EthereumTester, PyEVMBackend

        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        self._faucet = self.tester.get_accounts()[0]

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


class RpcBackend(Backend):
    """Any EVM JSON-RPC endpoint; devnet controls use anvil/hardhat methods where present."""

    def __init__(
        self,
        url: str,
        *,
        kind: BackendKind = "rpc",
        expected_chain_id: int | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.kind = kind
        self.w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}))
        try:
            chain_id = int(self.w3.eth.chain_id)
        except NETWORK_ERRORS:
            raise ChainUnavailable(f"cannot reach the RPC endpoint at {url}") from None
        except (ValueError, TypeError, KeyError):
            raise ChainUnavailable(
                f"the endpoint at {url} did not answer like an EVM JSON-RPC node"
            ) from None
        if expected_chain_id is not None and chain_id != expected_chain_id:
            raise ChainConfigError(
                f"wrong chain: {url} has chain id {chain_id}, expected {expected_chain_id}"
            )

    def _rpc(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        except NETWORK_ERRORS:
            raise ChainUnavailable(f"cannot reach the RPC endpoint at {self.url}") from None
        if "error" in response:
            message = str(response["error"].get("message", response["error"]))
            raise LedgerError(f"{method} failed on {self.url}: {message.splitlines()[0]}")
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

    def snapshot(self) -> Any:
        return self._rpc("evm_snapshot", [])

    def revert(self, snapshot_id: Any) -> None:
        if self._rpc("evm_revert", [snapshot_id]) is False:
            raise LedgerError(f"evm_revert({snapshot_id}) was refused by {self.url}")

"""`LedgerBase`: what both protocol versions' facades (`Ledger`, `LedgerV2`) share.

A contract binding (`ContractBinding`: ABI, decoders, event index, cached immutables) composed
with a `Signer` and a `TxSender` under one `TxPolicy`; the properties that read through to the
binding; `_transact`, the one way a write becomes a `TxResult`; `_deploy_receipt`, the one way a
constructor is sent; and event reads, each synced once per compound read (`ReadScope`). Each
facade adds its protocol's entry points, views and history, and how a per-round event query is
answered (`_round_events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Generic, Self, TypeVar, cast, overload

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from flchain.ledger.backends import NETWORK_ERRORS, Backend
from flchain.ledger.deployment import ContractBinding
from flchain.ledger.errors import ChainConfigError, ChainUnavailable
from flchain.ledger.events import ChainEvent
from flchain.ledger.index import EventIndex, ReadScope
from flchain.ledger.revert import ErrorDecoder
from flchain.ledger.sending import Signer, TxPolicy, TxResult, TxSender
from flchain.protocol import Address

B = TypeVar("B", bound=ContractBinding)
E = TypeVar("E", bound=ChainEvent)


def send_constructor(
    backend: Backend,
    deployer: LocalAccount,
    artifact: dict[str, Any],
    args: Sequence[Any],
    policy: TxPolicy | None,
) -> tuple[Address, int]:
    """Deploy `artifact` with constructor `args`, signed by `deployer` under `policy`: the new
    contract's address and the block it was mined in. A refusal is `ContractRevert` by the
    constructor's custom error."""
    factory = backend.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    sender = TxSender(
        backend, ErrorDecoder(artifact["abi"]), Signer(deployer), lambda: backend.chain_id, policy
    )
    receipt = sender.send(factory.constructor(*args), "constructor")
    return to_checksum_address(receipt["contractAddress"]), int(receipt["blockNumber"])


class LedgerBase(Generic[B]):
    """The contract `binding`, signing as `signer` (none: read-only) under `policy`."""

    #: the binding class of this facade's protocol, the one `connect` attaches
    BINDING: ClassVar[type[ContractBinding]]

    def __init__(
        self, binding: B, signer: Signer | None = None, policy: TxPolicy | None = None
    ) -> None:
        self._binding = binding
        self.signer = signer
        self.policy = policy or TxPolicy()
        self.sender = (
            None
            if signer is None
            else TxSender(
                binding.backend, binding.errors, signer, lambda: self.chain_id, self.policy
            )
        )
        self._read_scope = ReadScope()

    @classmethod
    def connect(
        cls,
        backend: Backend,
        address: Address,
        account: LocalAccount | None = None,
        *,
        from_block: int = 0,
        check: bool = True,
        policy: TxPolicy | None = None,
    ) -> Self:
        """Attach to an existing deployment (by default checks that code is there, is this
        facade's protocol version and answers)."""
        kind = cls.BINDING
        binding = (
            kind.connect(backend, address, from_block=from_block)
            if check
            else kind(backend, address, from_block=from_block)
        )
        return cls(cast(B, binding), None if account is None else Signer(account), policy)

    # ------------------------------------------------------------ the contract

    @property
    def backend(self) -> Backend:
        return self._binding.backend

    @property
    def w3(self) -> Web3:
        return self._binding.w3

    @property
    def address(self) -> Address:
        return self._binding.address

    @property
    def from_block(self) -> int:
        return self._binding.from_block

    @property
    def contract(self) -> Contract:
        """The web3 contract object."""
        return self._binding.contract

    @property
    def account(self) -> LocalAccount | None:
        return None if self.signer is None else self.signer.account

    @property
    def chain_id(self) -> int:
        return self._binding.chain_id

    def _me(self) -> Address:
        """The signer's address; `ChainConfigError` on a read-only facade."""
        if self.signer is None:
            raise ChainConfigError(
                f"this {type(self).__name__} has no wallet: pass an account to send transactions"
            )
        return self.signer.address

    # ------------------------------------------------------------ sending

    def _transact(
        self,
        function: str,
        *args: Any,
        value: int = 0,
        gas_floor: int | None = None,
        deadline: int | None = None,
    ) -> TxResult:
        self._me()
        assert self.sender is not None  # a signer always comes with its sender
        call = getattr(self.contract.functions, function)(*args)
        receipt = self.sender.send(
            call, function, value=value, gas_floor=gas_floor, deadline=deadline
        )
        return TxResult(
            function=function,
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            events=tuple(self._binding.events.decode(receipt["logs"])),
        )

    # ------------------------------------------------------------ events

    @property
    def event_index(self) -> EventIndex:
        """The event index of this contract on this backend (shared; see `flchain.ledger.index`)."""
        return self._binding.event_index

    def sync_events(self) -> int:
        """Index every block mined since the last read; returns the last block indexed."""
        try:
            return self.event_index.sync()
        except NETWORK_ERRORS:
            raise ChainUnavailable("cannot reach the chain to read events") from None

    def _one_read(self) -> AbstractContextManager[None]:
        """Context: one sync for everything read inside it (nested reads do not sync again)."""
        return self._read_scope(self.sync_events)

    def _read_horizon(self, to_block: int | None) -> int | None:
        """The last block an event query may see (None: the indexed tip), after indexing what
        was mined since the last read (not inside a compound read, which synced once). A view
        pinned to one block (the audit's `SnapshotLedger`) overrides this."""
        if not self._read_scope.active:
            self.sync_events()
        return to_block

    def _round_events(self, name: str | None, round: int, to_block: int | None) -> list[Any]:
        """The indexed events named `name` (None: all) of `round`, up to `to_block`."""
        return self.event_index.query(name, round, to_block=to_block)

    @overload
    def events(
        self, kind: type[E], round: int | None = None, *, to_block: int | None = None
    ) -> list[E]: ...

    @overload
    def events(
        self, kind: str | None = None, round: int | None = None, *, to_block: int | None = None
    ) -> list[ChainEvent]: ...

    def events(
        self,
        kind: str | type[ChainEvent] | None = None,
        round: int | None = None,
        *,
        to_block: int | None = None,
    ) -> list[Any]:
        """Typed contract events in chain order: all, or of one kind (an event model or its
        name), optionally of one round, up to `to_block`. Served from the shared event index."""
        name = None if kind is None else self._binding.events.kind(kind).name
        limit = self._read_horizon(to_block)
        if round is None:
            return self.event_index.query(name, None, to_block=limit)
        return self._round_events(name, round, limit)

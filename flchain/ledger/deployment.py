"""`Deployment`: one FLChain contract on one backend, and everything fixed when it was deployed.

The committed artifact and its ABI, the web3 contract bound to the address, the custom-error
decoder, the event decoder, the shared event index, and the immutables read once (chain id,
schedule, genesis). Every `Ledger` on the contract holds the same `Deployment` (signing as
different wallets), so none of this is built or read twice.

`ContractBinding` is the part both protocol versions share (artifact, contract, decoders,
`call`, the event index); `Deployment` is protocol v1's, `flchain.ledger.contract_v2.ContractV2`
protocol v2's. `detect_protocol_version` tells them apart at an address: only v2 answers
`protocolVersion()`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache, cached_property
from importlib import resources
from typing import Any, ClassVar, Final, Self

from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from flchain.ledger import views
from flchain.ledger.backends import NETWORK_ERRORS, Backend
from flchain.ledger.errors import ChainConfigError, ChainUnavailable, LedgerError, first_line
from flchain.ledger.events import EVENT_TYPES, ChainEvent, EventDecoder
from flchain.ledger.index import EventIndex
from flchain.ledger.revert import ErrorDecoder, revert_data
from flchain.ledger.viewcalls import ViewCaller
from flchain.protocol import Address, GlobalModel, Schedule

#: The committed artifact of each protocol version's contract.
ARTIFACTS: Final = {1: "contracts/FLChain.json", 2: "contracts/FLChainV2.json"}

_PROTOCOL_VERSION_CALL: Final = keccak(b"protocolVersion()")[:4]
_V1_PROBE_CALL: Final = keccak(b"genesisDigest()")[:4]  # a view only v1 has


def load_artifact(version: int = 1) -> dict[str, Any]:
    """The committed compile artifact (abi, bytecode, compiler settings) of protocol
    `version`'s contract; a fresh copy."""
    artifact: dict[str, Any] = json.loads(_artifact_text(version))
    return artifact


@cache
def _artifact_text(version: int) -> str:
    if version not in ARTIFACTS:
        raise ChainConfigError(f"no contract artifact for protocol version {version}")
    return resources.files("flchain").joinpath(ARTIFACTS[version]).read_text()


def detect_protocol_version(backend: Backend, address: Address) -> int:
    """The protocol version of the FLChain contract at `address`: 2 when it answers
    `protocolVersion()` with 2, 1 when it has no such function but answers v1's
    `genesisDigest()`. Refuses (`ChainConfigError`) an address without code, a contract that
    is neither, and a version this flchain does not know."""
    address = to_checksum_address(address)
    w3 = backend.w3
    try:
        if not w3.eth.get_code(address):
            raise ChainConfigError(f"no contract code at {address} on chain {backend.chain_id}")
        answer = _probe(w3, address, _PROTOCOL_VERSION_CALL)
        if answer is None:
            if _probe(w3, address, _V1_PROBE_CALL) is not None:
                return 1
            raise ChainConfigError(f"the contract at {address} is not an FLChain deployment")
    except NETWORK_ERRORS:
        raise ChainUnavailable("cannot reach the chain to read the contract") from None
    version = int.from_bytes(answer, "big")
    if version not in ARTIFACTS or version == 1:  # v1 never answers protocolVersion()
        raise ChainConfigError(
            f"the contract at {address} speaks protocol version {version}, which this flchain "
            f"does not know (it reads {', '.join(map(str, sorted(ARTIFACTS)))}): upgrade flchain"
        )
    return version


def _probe(w3: Web3, address: str, selector: bytes) -> bytes | None:
    """The one word a view without arguments `selector` returns, or None when the call reverts
    or answers anything but one word (no such function: a contract that answers every call
    with empty data is not an FLChain)."""
    try:
        answer = bytes(w3.eth.call({"to": address, "data": "0x" + selector.hex()}))  # type: ignore[typeddict-item]
    except NETWORK_ERRORS:
        raise
    except Exception:  # a revert: the function does not exist there
        return None
    return answer if len(answer) == 32 else None


class ContractBinding:
    """The compiled contract of protocol `VERSION` at `address` on `backend`, whose log starts
    at `from_block`: ABI, bound contract, error and event decoders, the shared event index."""

    VERSION: ClassVar[int] = 1
    EVENT_TYPES: ClassVar[Mapping[str, type[ChainEvent]]] = EVENT_TYPES

    def __init__(self, backend: Backend, address: Address, *, from_block: int = 0) -> None:
        self.backend = backend
        self.address = to_checksum_address(address)
        self.from_block = from_block
        self.artifact = load_artifact(self.VERSION)
        abi = self.artifact["abi"]
        self.contract: Contract = backend.w3.eth.contract(address=self.address, abi=abi)
        self.errors = ErrorDecoder(abi)
        self.events = EventDecoder(abi, self.address, backend.w3.codec, self.EVENT_TYPES)

    @property
    def w3(self) -> Web3:
        return self.backend.w3

    @cached_property
    def chain_id(self) -> int:
        return self.backend.chain_id

    @cached_property
    def view_caller(self) -> ViewCaller:
        return ViewCaller(self.contract, self.backend)

    @classmethod
    def connect(cls, backend: Backend, address: Address, *, from_block: int = 0) -> Self:
        """The contract at `address`, checked to be a deployment of this version that answers."""
        binding = cls(backend, address, from_block=from_block)
        binding.check()
        return binding

    def check(self) -> None:
        """Refuse an address without code, or whose code is not a deployment of this version."""
        found = detect_protocol_version(self.backend, self.address)
        if found != self.VERSION:
            raise ChainConfigError(
                f"the contract at {self.address} is a protocol v{found} deployment, not "
                f"v{self.VERSION}: connect with flchain.ledger.connect_ledger"
            )

    def call(self, function: str, *args: Any) -> Any:
        """Call the view `function`; a refusal surfaces as `ContractRevert` by error name."""
        try:
            return self.view_caller.call(function, args)
        except NETWORK_ERRORS:
            raise ChainUnavailable(f"cannot reach the chain to call {function}") from None
        except Exception as exc:
            refusal = self.errors.refusal(revert_data(exc), function)
            if refusal is not None:
                raise refusal from None
            why = first_line(exc, type(exc).__name__)
            raise LedgerError(f"{function} call failed: {why}") from None

    @property
    def event_index(self) -> EventIndex:
        """The event index of this contract on this backend (one per backend and address,
        whichever binding or Ledger asks; see `flchain.ledger.index`)."""
        return self.backend.shared(
            ("events", self.address, self.from_block),
            lambda: EventIndex(self.backend, self.address, self.from_block, self.events.decode),
        )


class Deployment(ContractBinding):
    """The FLChain (protocol v1) contract at `address` on `backend`, whose log starts at
    `from_block`."""

    # ------------------------------------------------------------ fixed at deployment

    @cached_property
    def schedule(self) -> Schedule:
        return views.get_schedule(self)

    @cached_property
    def genesis(self) -> GlobalModel:
        return views.get_genesis(self)

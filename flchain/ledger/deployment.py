"""`Deployment`: one FLChain contract on one backend, and everything fixed when it was deployed.

The committed artifact and its ABI, the web3 contract bound to the address, the custom-error
decoder, the event decoder, the shared event index, and the immutables read once (chain id,
schedule, genesis). Every `Ledger` on the contract holds the same `Deployment` (signing as
different wallets), so none of this is built or read twice.
"""

from __future__ import annotations

import json
from functools import cache, cached_property
from importlib import resources
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from flchain.ledger import views
from flchain.ledger.backends import NETWORK_ERRORS, Backend
from flchain.ledger.errors import ChainConfigError, ChainUnavailable, LedgerError, first_line
from flchain.ledger.events import EventDecoder
from flchain.ledger.index import EventIndex
from flchain.ledger.revert import ErrorDecoder, revert_data
from flchain.protocol import Address, GlobalModel, Schedule


def load_artifact() -> dict[str, Any]:
    """The committed compile artifact (abi, bytecode, compiler settings); a fresh copy."""
    artifact: dict[str, Any] = json.loads(_artifact_text())
    return artifact


@cache
def _artifact_text() -> str:
    return resources.files("flchain").joinpath("contracts/FLChain.json").read_text()


class Deployment:
    """The FLChain contract at `address` on `backend`, whose log starts at `from_block`."""

    def __init__(self, backend: Backend, address: Address, *, from_block: int = 0) -> None:
        self.backend = backend
        self.address = to_checksum_address(address)
        self.from_block = from_block
        self.artifact = load_artifact()
        abi = self.artifact["abi"]
        self.contract: Contract = backend.w3.eth.contract(address=self.address, abi=abi)
        self.errors = ErrorDecoder(abi)
        self.events = EventDecoder(abi, self.address, backend.w3.codec)

    @classmethod
    def connect(cls, backend: Backend, address: Address, *, from_block: int = 0) -> Deployment:
        """The deployment at `address`, checked to be an FLChain contract that answers."""
        deployment = cls(backend, address, from_block=from_block)
        deployment.check()
        return deployment

    @property
    def w3(self) -> Web3:
        return self.backend.w3

    def check(self) -> None:
        """Refuse an address without code, or whose code is not an FLChain deployment."""
        try:
            code = self.w3.eth.get_code(self.address)
        except NETWORK_ERRORS:
            raise ChainUnavailable("cannot reach the chain to read contract code") from None
        if not code:
            raise ChainConfigError(
                f"no contract code at {self.address} on chain {self.backend.chain_id}"
            )
        try:
            self.contract.functions.genesisDigest().call()
        except NETWORK_ERRORS:
            raise ChainUnavailable("cannot reach the chain to read the contract") from None
        except Exception:
            raise ChainConfigError(
                f"the contract at {self.address} is not an FLChain deployment"
            ) from None

    def call(self, function: str, *args: Any) -> Any:
        """Call the view `function`; a refusal surfaces as `ContractRevert` by error name."""
        try:
            return getattr(self.contract.functions, function)(*args).call()
        except NETWORK_ERRORS:
            raise ChainUnavailable(f"cannot reach the chain to call {function}") from None
        except Exception as exc:
            refusal = self.errors.refusal(revert_data(exc), function)
            if refusal is not None:
                raise refusal from None
            why = first_line(exc, type(exc).__name__)
            raise LedgerError(f"{function} call failed: {why}") from None

    # ------------------------------------------------------------ fixed at deployment

    @cached_property
    def chain_id(self) -> int:
        return self.backend.chain_id

    @cached_property
    def schedule(self) -> Schedule:
        return views.get_schedule(self)

    @cached_property
    def genesis(self) -> GlobalModel:
        return views.get_genesis(self)

    @property
    def event_index(self) -> EventIndex:
        """The event index of this contract on this backend (one per backend and address,
        whichever Deployment or Ledger asks; see `flchain.ledger.index`)."""
        return self.backend.shared(
            ("events", self.address, self.from_block),
            lambda: EventIndex(self.backend, self.address, self.from_block, self.events.decode),
        )

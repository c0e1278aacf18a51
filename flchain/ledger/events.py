"""The contract's events as typed values, and the decoder that makes them from raw logs.

One frozen model per event of `FLChain`, with typed fields named like the ABI's in snake case:
addresses checksummed, bytes32 as 0x-hex, CIDs as CID strings (parsed once, at decode), the
rules struct as `Rules`, enums as their `IntEnum`. Every event also carries where it sits in the
chain (`block_number`, `log_index`, `tx_hash`) and its kind as the class attribute `name`.

`EventDecoder` turns this contract's raw logs into those models with eth_abi directly (about 5×
faster than web3's `process_log`, which `tests/ledger/test_events.py` checks it against).
`ChainEvent.log_record()` gives back the arguments by ABI name as the ABI decodes them (bytes as
0x-hex): the form of a simulation run folder's `events.json`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Final

from eth_abi.exceptions import DecodingError
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from flchain.ledger.errors import ChainConfigError, MalformedLog, first_line
from flchain.ledger.hashes import cid_to_bytes, cid_to_str
from flchain.ledger.revert import abi_type
from flchain.protocol import (
    RULE_FIELDS,
    Bytes32,
    RevealOutcome,
    Rules,
    rules_from_tuple,
    rules_to_tuple,
)

#: A log as web3 returns it (`address`, `topics`, `data`, `blockNumber`, `blockHash`, `logIndex`,
#: `transactionHash`, `transactionIndex`).
RawLog = Any


def _hex(value: Any) -> Any:
    return "0x" + bytes(value).hex() if isinstance(value, bytes | bytearray) else value


@lru_cache(maxsize=4096)
def _checksum(address: str) -> str:
    # A log names the same few nodes again and again; checksumming is a keccak each time.
    return to_checksum_address(address)


def _checksummed(value: Any) -> Any:
    if isinstance(value, bytes):
        return to_checksum_address(value)
    return _checksum(value) if isinstance(value, str) else value


def _cid(value: Any) -> Any:
    return cid_to_str(bytes(value)) if isinstance(value, bytes | bytearray) else value


def _rules(value: Any) -> Any:
    return value if isinstance(value, Rules) else rules_from_tuple(value)[1]


class OnChainCid:
    """Marks a field holding a CID (logged as its binary form): `ChainEvent.cids` names it."""


def _is_cid(info: FieldInfo) -> bool:
    return any(isinstance(m, OnChainCid) for m in info.metadata)


ChecksummedAddress = Annotated[str, BeforeValidator(_checksummed)]
Hex32 = Annotated[Bytes32, BeforeValidator(_hex)]
CidString = Annotated[str, BeforeValidator(_cid), OnChainCid()]
RulesStruct = Annotated[Rules, BeforeValidator(_rules)]

_POSITION: Final = frozenset({"block_number", "log_index", "tx_hash"})


class ChainEvent(BaseModel):
    """One decoded contract log; the subclasses add the event's arguments."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    name: ClassVar[str] = ""

    block_number: int
    log_index: int
    tx_hash: Hex32

    def cids(self) -> tuple[str, ...]:
        """Every CID this event names, in argument order (v1 keeps them as strings, v2 in
        their binary form, as the contract logs them)."""
        return tuple(
            _cid(getattr(self, f)) for f, info in type(self).model_fields.items() if _is_cid(info)
        )

    def abi_args(self) -> dict[str, Any]:
        """The arguments by ABI name as the ABI decodes them, JSON-ready: integers, checksummed
        addresses, bytes as 0x-hex (CIDs as their binary form), structs as objects."""
        out: dict[str, Any] = {}
        for f, info in type(self).model_fields.items():
            if f in _POSITION:
                continue
            value = getattr(self, f)
            if _is_cid(info):
                value = "0x" + cid_to_bytes(value).hex()
            out[info.alias or f] = _plain(value)
        return out

    def log_record(self) -> dict[str, Any]:
        """`{name, args, block_number, log_index, tx_hash}`: the event as a JSON record."""
        return {
            "name": self.name,
            "args": self.abi_args(),
            "block_number": self.block_number,
            "log_index": self.log_index,
            "tx_hash": self.tx_hash,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return int(value) if isinstance(value, int) else value


class Genesis(ChainEvent):
    name: ClassVar[str] = "Genesis"
    digest: Hex32
    cid: CidString
    t0: int
    round_length: int
    commit_window: int
    reveal_window: int


class Registered(ChainEvent):
    name: ClassVar[str] = "Registered"
    node: ChecksummedAddress
    bond: int
    index: int


class ExitRequested(ChainEvent):
    name: ClassVar[str] = "ExitRequested"
    node: ChecksummedAddress
    withdrawable_at: int


class Withdrawn(ChainEvent):
    name: ClassVar[str] = "Withdrawn"
    node: ChecksummedAddress
    amount: int


class Committed(ChainEvent):
    name: ClassVar[str] = "Committed"
    round: int
    node: ChecksummedAddress
    commitment: Hex32


class Revealed(ChainEvent):
    name: ClassVar[str] = "Revealed"
    round: int
    node: ChecksummedAddress
    update_digest: Hex32
    cid: CidString
    base_digest: Hex32
    roi_bps: int
    salt: Hex32
    outcome: RevealOutcome


class Attested(ChainEvent):
    name: ClassVar[str] = "Attested"
    round: int
    attester: ChecksummedAddress
    result_hash: Hex32
    merged_digest: Hex32
    merged_cid: CidString
    manifest_cid: CidString
    penalised: tuple[ChecksummedAddress, ...]
    votes: int


class RoundFinalized(ChainEvent):
    name: ClassVar[str] = "RoundFinalized"
    round: int
    result_hash: Hex32
    votes: int


class NodePenalised(ChainEvent):
    name: ClassVar[str] = "NodePenalised"
    round: int
    node: ChecksummedAddress
    penalties: int


class RulesScheduled(ChainEvent):
    """A rules version scheduled (or a pending one replaced) from `effective_round` on."""

    name: ClassVar[str] = "RulesScheduled"
    effective_round: int
    version: int
    rules: RulesStruct

    def abi_args(self) -> dict[str, Any]:
        struct = rules_to_tuple(self.rules, self.effective_round)
        members = ("effectiveRound", *(abi for abi, _ in RULE_FIELDS))
        return {
            "effectiveRound": self.effective_round,
            "version": self.version,
            "rules": dict(zip(members, (_plain(v) for v in struct), strict=True)),
        }


class GovernanceTransferred(ChainEvent):
    name: ClassVar[str] = "GovernanceTransferred"
    previous_governor: ChecksummedAddress
    new_governor: ChecksummedAddress


EVENT_TYPES: Final[dict[str, type[ChainEvent]]] = {
    cls.name: cls
    for cls in (
        Genesis,
        Registered,
        ExitRequested,
        Withdrawn,
        Committed,
        Revealed,
        Attested,
        RoundFinalized,
        NodePenalised,
        RulesScheduled,
        GovernanceTransferred,
    )
}


# ---------------------------------------------------------------- decoding


class EventCodec:
    """Decodes one event's logs with eth_abi directly, into its arguments by ABI name (indexed
    ones first; indexed dynamic values as their topic hash, all the chain keeps of them)."""

    def __init__(self, abi: Mapping[str, Any]) -> None:
        self.name = str(abi["name"])
        inputs = list(abi["inputs"])
        self.indexed = [(str(p["name"]), abi_type(p)) for p in inputs if p.get("indexed")]
        self.data = [p for p in inputs if not p.get("indexed")]
        self.data_types = [abi_type(p) for p in self.data]
        self.signature = f"{self.name}({','.join(abi_type(p) for p in inputs)})"

    def decode(self, codec: Any, log: RawLog) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for (name, abi_t), topic in zip(self.indexed, log["topics"][1:], strict=True):
            if _is_dynamic(abi_t):
                args[name] = bytes(topic)
            else:
                args[name] = codec.decode([abi_t], bytes(topic))[0]
        values = codec.decode(self.data_types, bytes(log["data"])) if self.data else ()
        for param, value in zip(self.data, values, strict=True):
            args[str(param["name"])] = value
        return args


def _is_dynamic(abi_type: str) -> bool:
    return abi_type in ("bytes", "string") or abi_type.endswith("]") or abi_type.startswith("(")


def typed_event(
    name: str,
    args: Mapping[str, Any],
    log: RawLog,
    types: Mapping[str, type[ChainEvent]] = EVENT_TYPES,
) -> ChainEvent:
    """The typed event `name` (a model of `types`) with decoded `args` (by ABI name), at `log`'s
    place in the chain."""
    return types[name].model_validate(
        {
            **args,
            "block_number": int(log["blockNumber"]),
            "log_index": int(log["logIndex"]),
            "tx_hash": bytes(log["transactionHash"]),
        }
    )


class EventDecoder:
    """This contract's raw logs → typed events; also the names and topics of its events.

    @param types the event models by name: protocol v1's `EVENT_TYPES` by default,
        `flchain.ledger.events_v2.EVENT_TYPES_V2` for an FLChainV2 contract
    @raises ChainConfigError if the ABI has an event without a model in `types`, or whose
        arguments differ from the model's (a contract change the Python side has not followed)
    """

    def __init__(
        self,
        abi: Sequence[Mapping[str, Any]],
        address: str,
        codec: Any,
        types: Mapping[str, type[ChainEvent]] = EVENT_TYPES,
    ) -> None:
        self.types = types
        self.address = to_checksum_address(address)
        self._address_key = self.address.lower()
        self._codec = codec
        self._by_topic: dict[bytes, EventCodec] = {}
        self.topics: dict[str, bytes] = {}
        for item in abi:
            if item.get("type") != "event":
                continue
            event = EventCodec(item)
            model = types.get(event.name)
            logged = [name for name, _ in event.indexed] + [str(p["name"]) for p in event.data]
            if model is None or logged != _argument_aliases(model):
                raise ChainConfigError(f"event {event.name} of the contract has no matching model")
            topic = keccak(event.signature.encode())
            self._by_topic[topic] = event
            self.topics[event.name] = topic

    def kind(self, kind: str | type[ChainEvent]) -> type[ChainEvent]:
        """The model of an event given by name or model; refuses events the contract lacks."""
        name = kind if isinstance(kind, str) else kind.name
        if name not in self.topics:
            raise ChainConfigError(f"the contract has no event named {name}")
        return self.types[name]

    def decode(self, logs: Iterable[RawLog]) -> list[ChainEvent]:
        """This contract's logs among `logs` as typed events (others and unknown topics dropped)."""
        out: list[ChainEvent] = []
        for log in logs:
            if not log["topics"] or str(log["address"]).lower() != self._address_key:
                continue
            event = self._by_topic.get(bytes(log["topics"][0]))
            if event is not None:
                out.append(self._typed(event, log))
        return out

    def _typed(self, event: EventCodec, log: RawLog) -> ChainEvent:
        # A log is the RPC's word: one the artifact cannot have emitted is named, not a crash.
        where = f"block {int(log['blockNumber'])}, log {int(log['logIndex'])}"
        try:
            args = event.decode(self._codec, log)
        except (DecodingError, ValueError, TypeError) as exc:
            raise MalformedLog(
                f"the {event.name} log at {where} does not decode with the contract's ABI "
                f"({first_line(exc, type(exc).__name__)})"
            ) from None
        try:
            return typed_event(event.name, args, log, self.types)
        except ValidationError as exc:
            problem = exc.errors()[0]
            field = ".".join(str(p) for p in problem["loc"])
            raise MalformedLog(
                f"the {event.name} log at {where} holds a value no {event.name} can: "
                f"{field}: {problem['msg']}"
            ) from None


def _argument_aliases(model: type[ChainEvent]) -> list[str]:
    """The model's arguments by ABI name, in field order (the order a log carries them)."""
    return [info.alias or f for f, info in model.model_fields.items() if f not in _POSITION]

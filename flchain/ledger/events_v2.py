"""The events of the protocol v2 contract (`IFLChainV2`) as typed values.

One frozen model per event, fields named like the ABI's in snake case (`from` is `sender` or
`start`, a keyword in Python). Values are as `flchain.protocol.machine` and `RoundRecordV2`
keep them: addresses checksummed, digests and CIDs as `bytes` (CIDs binary, as the contract
logs them), enums as the machine's `IntEnum`s, the `Deployment`, `Rules` and `Result` structs as
the machine's dataclasses. Every model is a `flchain.ledger.events.ChainEvent` (its place in the
chain, `log_record()`), decoded by the same fast `EventDecoder` as v1's with this module's
table, `EVENT_TYPES_V2` (checked against web3's `process_log` in tests/ledger/v2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Annotated, Any, ClassVar, Final

from pydantic import Field, PlainSerializer, PlainValidator
from pydantic.alias_generators import to_camel

from flchain.ledger.events import ChainEvent, ChecksummedAddress, OnChainCid
from flchain.protocol.machine import (
    Deployment,
    Fault,
    Result,
    RevealOutcome,
    RulesV2,
)
from flchain.protocol.types import HexBytes32, HexData

#: A CID in its binary form, as the contract logs it (`ChainEvent.cids` names it)
CidBytes = Annotated[HexData, OnChainCid()]

__all__ = [
    "EVENT_TYPES_V2",
    "FORWARD_EVENT_TYPES_V2",
    "Attested",
    "BeaconPosted",
    "BondAdded",
    "Collected",
    "Committed",
    "ExitRequested",
    "Finalized",
    "ForwardAccepted",
    "ForwardPosted",
    "ForwardVoted",
    "Genesis",
    "GovernanceTransferStarted",
    "GovernanceTransferred",
    "Paused",
    "PoolFunded",
    "Registered",
    "Revealed",
    "RoundOpened",
    "RulesCancelled",
    "RulesScheduled",
    "Settled",
    "Slashed",
    "Unpaused",
    "Withdrawn",
    "deployment_from_abi",
    "struct_doc",
]


def deployment_from_abi(values: Sequence[Any]) -> Deployment:
    """A decoded `Deployment` tuple (declaration order) as the machine's dataclass."""
    kwargs: dict[str, Any] = {}
    for f, v in zip(fields(Deployment), values, strict=True):
        kwargs[f.name] = bytes(v) if f.type in ("bytes", bytes) else v
    return Deployment(**kwargs)


def _deployment(value: Any) -> Deployment:
    return value if isinstance(value, Deployment) else deployment_from_abi(value)


def _rules(value: Any) -> RulesV2:
    return value if isinstance(value, RulesV2) else RulesV2.from_abi(value)


def struct_doc(value: Any) -> dict[str, Any]:
    """One of the machine's ABI structs by ABI member name, JSON-ready (bytes as 0x-hex,
    enums as ints): how a struct argument shows in `log_record()`."""
    out: dict[str, Any] = {}
    for f in fields(value):
        v = getattr(value, f.name)
        out[to_camel(f.name)] = (
            "0x" + v.hex() if isinstance(v, bytes) else int(v) if isinstance(v, int) else v
        )
    return out


DeploymentStruct = Annotated[
    Deployment, PlainValidator(_deployment), PlainSerializer(struct_doc, when_used="json")
]
RulesStruct = Annotated[
    RulesV2, PlainValidator(_rules), PlainSerializer(struct_doc, when_used="json")
]


class _StructEvent(ChainEvent):
    """An event with struct arguments: `abi_args` shows them as objects by member name."""

    def abi_args(self) -> dict[str, Any]:
        out = super().abi_args()
        for f, info in type(self).model_fields.items():
            value = getattr(self, f)
            if isinstance(value, (Deployment, RulesV2)):
                out[info.alias or f] = struct_doc(value)
        return out


# ---------------------------------------------------------------- identity (§3)


class Genesis(_StructEvent):
    name: ClassVar[str] = "Genesis"
    deployment: DeploymentStruct


class Registered(ChainEvent):
    name: ClassVar[str] = "Registered"
    node: ChecksummedAddress
    index: int
    bond: int
    from_round: int


class BondAdded(ChainEvent):
    name: ClassVar[str] = "BondAdded"
    node: ChecksummedAddress
    amount: int
    bond: int
    from_round: int


class ExitRequested(ChainEvent):
    name: ClassVar[str] = "ExitRequested"
    node: ChecksummedAddress
    from_round: int
    withdrawable_at: int


class Withdrawn(ChainEvent):
    name: ClassVar[str] = "Withdrawn"
    node: ChecksummedAddress
    amount: int


class Collected(ChainEvent):
    name: ClassVar[str] = "Collected"
    node: ChecksummedAddress
    amount: int


# ---------------------------------------------------------------- a round (§4–§8)


class RoundOpened(ChainEvent):
    name: ClassVar[str] = "RoundOpened"
    round: int
    reserved: int
    total_stake: int


class Committed(ChainEvent):
    name: ClassVar[str] = "Committed"
    round: int
    node: ChecksummedAddress
    commitment: HexBytes32


class Revealed(ChainEvent):
    """A reveal; its payload is in the calldata of transaction `tx_hash` (§5)."""

    name: ClassVar[str] = "Revealed"
    round: int
    node: ChecksummedAddress
    update_digest: HexBytes32
    base_digest: HexBytes32
    roi_bps: int
    salt: HexBytes32
    outcome: RevealOutcome
    payload_length: int


class BeaconPosted(ChainEvent):
    name: ClassVar[str] = "BeaconPosted"
    round: int
    node: ChecksummedAddress  # indexed arguments come first, as a log carries them
    beacon_round: int
    signature: HexData


class Attested(ChainEvent):
    name: ClassVar[str] = "Attested"
    round: int
    node: ChecksummedAddress
    result_hash: HexBytes32
    weight: int
    merged_digest: HexBytes32
    merged_cid: CidBytes
    manifest_cid: CidBytes
    settlement_root: HexBytes32
    round_earned: int

    @property
    def result(self) -> Result:
        """The attested result, as `attest` and `finalize` take it."""
        return Result(
            self.merged_digest,
            self.merged_cid,
            self.manifest_cid,
            self.settlement_root,
            self.round_earned,
        )


class Finalized(ChainEvent):
    name: ClassVar[str] = "Finalized"
    round: int
    result_hash: HexBytes32
    tally: int
    total_stake: int


class Settled(ChainEvent):
    name: ClassVar[str] = "Settled"
    node: ChecksummedAddress
    round: int
    cum_earned: int
    cum_penalties: int
    slashed: int


class Slashed(ChainEvent):
    name: ClassVar[str] = "Slashed"
    node: ChecksummedAddress
    round: int
    fault: Fault
    amount: int
    bounty: int
    beneficiary: ChecksummedAddress


class PoolFunded(ChainEvent):
    name: ClassVar[str] = "PoolFunded"
    sender: ChecksummedAddress = Field(alias="from")
    amount: int


# ---------------------------------------------------------------- governance (§10)


class RulesScheduled(_StructEvent):
    name: ClassVar[str] = "RulesScheduled"
    effective_round: int
    version: int
    rules: RulesStruct


class RulesCancelled(ChainEvent):
    name: ClassVar[str] = "RulesCancelled"
    version: int


class GovernanceTransferStarted(ChainEvent):
    name: ClassVar[str] = "GovernanceTransferStarted"
    governor: ChecksummedAddress
    pending_governor: ChecksummedAddress


class GovernanceTransferred(ChainEvent):
    name: ClassVar[str] = "GovernanceTransferred"
    previous_governor: ChecksummedAddress
    new_governor: ChecksummedAddress


class Paused(ChainEvent):
    name: ClassVar[str] = "Paused"
    start: int = Field(alias="from")
    until: int


class Unpaused(ChainEvent):
    name: ClassVar[str] = "Unpaused"


EVENT_TYPES_V2: Final[dict[str, type[ChainEvent]]] = {
    cls.name: cls
    for cls in (
        Genesis,
        Registered,
        BondAdded,
        ExitRequested,
        Withdrawn,
        Collected,
        RoundOpened,
        Committed,
        Revealed,
        BeaconPosted,
        Attested,
        Finalized,
        Settled,
        Slashed,
        PoolFunded,
        RulesScheduled,
        RulesCancelled,
        GovernanceTransferStarted,
        GovernanceTransferred,
        Paused,
        Unpaused,
    )
}

# ---------------------------------------------------------------- forward windows (§15)
# emitted by the forward box (`forwardBox()`, IFLChainV2Forward), not by FLChainV2 itself


class ForwardPosted(ChainEvent):
    """A forward window file was posted (each post, a repeated one too); its bytes are
    transaction `tx_hash`'s calldata when the poster called the box directly."""

    name: ClassVar[str] = "ForwardPosted"
    round: int
    window_hash: HexBytes32
    poster: ChecksummedAddress
    length: int


class ForwardVoted(ChainEvent):
    name: ClassVar[str] = "ForwardVoted"
    round: int
    node: ChecksummedAddress
    window_hash: HexBytes32
    weight: int


class ForwardAccepted(ChainEvent):
    name: ClassVar[str] = "ForwardAccepted"
    round: int
    window_hash: HexBytes32
    tally: int


FORWARD_EVENT_TYPES_V2: Final[dict[str, type[ChainEvent]]] = {
    cls.name: cls for cls in (ForwardPosted, ForwardVoted, ForwardAccepted)
}

#: Events whose first indexed argument is the round (an `eth_getLogs` topic filter finds a
#: round's); `Settled` and `Slashed` index the node first and the round second.
ROUND_TOPIC_EVENTS: Final = frozenset(
    {"RoundOpened", "Committed", "Revealed", "BeaconPosted", "Attested", "Finalized"}
)

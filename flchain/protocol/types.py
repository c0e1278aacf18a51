"""Protocol values: what the chain records about commitments, reveals, attestations and models.

Plain, immutable values: no I/O, no chain or storage access. The ledger turns contract state
and events into them; the merge and the audit consume them. Every field that takes part in a
decision is an integer (basis points, parts per million, fixed point) so that no float ever
sits next to a threshold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from enum import IntEnum
from typing import Annotated, Any

from eth_utils import to_checksum_address
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    model_validator,
)

from flchain.protocol.digests import ZERO32
from flchain.protocol.machine import Result, RulesV2
from flchain.protocol.machine import RevealOutcome as RevealOutcomeV2

Address = str  # checksummed 0x-address; canonical order is by lower-case hex
Bytes32 = str  # 0x-prefixed, 64 lower-case hex digits


class Aggregation(IntEnum):
    """How the merge combines accepted updates (rule parameter, stored on-chain as uint8)."""

    MEAN_EQUAL = 0  # weighted mean, every accepted update weight 1 (before cluster caps)
    MEAN_ROI = 1  # weighted mean, weight = verified ROI bps shifted to be positive
    MEDIAN = 2  # coordinate-wise median
    TRIMMED_MEAN = 3  # coordinate-wise trimmed mean, trim fraction = Rules.trim_ppm


class SimilarityMetric(IntEnum):
    BEHAVIOURAL = 0  # agreement of reference position series on the benchmark
    WEIGHT_DELTA = 1  # cosine of weight deltas, computed exactly


class RevealOutcome(IntEnum):
    """On-chain outcome of a reveal (contract enum, same numbering)."""

    ACCEPTED = 0
    REJECTED_ABNORMAL_ROI = 1
    REJECTED_INELIGIBLE = 2


class Directive(BaseModel):
    """An exploration assignment for one node in the next round."""

    model_config = ConfigDict(frozen=True)

    node: Address
    feature_set: str
    lookback_scale: int
    learning_rate_ppm: int
    epochs: int
    init_seed: int


class Reveal(BaseModel):
    """One revealed update as the chain recorded it (from the `Revealed` event)."""

    model_config = ConfigDict(frozen=True)

    round: int
    node: Address
    update_digest: Bytes32  # sha256 of the canonical safetensors bytes
    cid: str  # CIDv1 string (base32), as `ipfs add --cid-version=1 --raw-leaves`
    base_digest: Bytes32  # digest of the global model the update started from
    roi_bps: int  # the node's ROI claim on the benchmark, basis points
    salt: Bytes32
    outcome: RevealOutcome
    block_number: int = 0
    log_index: int = 0


class Commitment(BaseModel):
    model_config = ConfigDict(frozen=True)

    round: int
    node: Address
    commitment: Bytes32
    block_number: int = 0


class Attestation(BaseModel):
    model_config = ConfigDict(frozen=True)

    round: int
    attester: Address
    result_hash: Bytes32
    merged_digest: Bytes32
    merged_cid: str
    manifest_cid: str
    penalised: tuple[Address, ...]
    block_number: int = 0


class GlobalModel(BaseModel):
    """A finalized global model (or the genesis model, round = -1)."""

    model_config = ConfigDict(frozen=True)

    round: int
    digest: Bytes32
    cid: str
    manifest_cid: str | None = None
    finalized_at: int = 0  # block timestamp of finalization (0 for genesis)


def canonical_address_key(address: Address) -> str:
    """Sort key for canonical input order: by lower-case hex address, never by arrival."""
    return address.lower()


# ---------------------------------------------------------------- protocol v2 (docs/protocol.md)
#
# The values of a v2 round as the chain records them. Byte values are `bytes` (web3 decodes them
# so, and `flchain.protocol.digests` hashes them); they also validate from `0x`-hex strings, and
# serialise to `0x`-hex in JSON. CIDs are binary, as the contract keeps them (36 bytes, CIDv1
# sha2-256); the merge writes them as strings. Rules and results are `flchain.protocol.machine`'s
# ABI structs themselves (one definition of each field list).


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        return bytes.fromhex(value[2:])
    raise ValueError(f"expected bytes or 0x-hex, got {type(value).__name__}")


def _to_bytes32(value: Any) -> bytes:
    raw = _to_bytes(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _checksum(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an address string, got {type(value).__name__}")
    return to_checksum_address(value)


HexData = Annotated[bytes, BeforeValidator(_to_bytes), PlainSerializer(_hex, when_used="json")]
HexBytes32 = Annotated[bytes, BeforeValidator(_to_bytes32), PlainSerializer(_hex, when_used="json")]
ChecksumAddress = Annotated[str, BeforeValidator(_checksum)]


class _AbiStructIO:
    """Pydantic validation and JSON form of one of the machine's frozen ABI dataclasses: from an
    instance or a mapping of exactly its fields (`bytes` fields also as `0x`-hex), to that
    mapping (bytes as `0x`-hex, enums as ints). The dataclass's own checks (ABI ranges) run on
    construction."""

    def __init__(self, cls: type[Any]) -> None:
        members = dataclass_fields(cls)
        self.cls = cls
        self.names = [f.name for f in members]
        self.byte_fields = {f.name for f in members if f.type in ("bytes", bytes)}

    def parse(self, value: Any) -> Any:
        if isinstance(value, self.cls):
            return value
        if not isinstance(value, Mapping) or set(value) != set(self.names):
            raise ValueError(f"expected a {self.cls.__name__} or a mapping of {self.names}")
        return self.cls(
            **{n: _to_bytes(value[n]) if n in self.byte_fields else value[n] for n in self.names}
        )

    def dump(self, value: Any) -> dict[str, Any]:
        items = {n: getattr(value, n) for n in self.names}
        return {
            n: _hex(v) if n in self.byte_fields else int(v) if isinstance(v, IntEnum) else v
            for n, v in items.items()
        }


_RULES_V2 = _AbiStructIO(RulesV2)
_RESULT = _AbiStructIO(Result)
RulesV2Field = Annotated[
    RulesV2, PlainValidator(_RULES_V2.parse), PlainSerializer(_RULES_V2.dump, when_used="json")
]
ResultField = Annotated[
    Result, PlainValidator(_RESULT.parse), PlainSerializer(_RESULT.dump, when_used="json")
]


class RevealV2(BaseModel):
    """One v2 reveal: the `Revealed` event and the payload read from its transaction's calldata.

    `payload` is None when the transaction's input does not decode as a `reveal` call to this
    contract whose payload hashes to `update_digest` (a reveal sent through another contract):
    the merge calls that `payload_unreadable`. A payload that is present always hashes to
    `update_digest` (checked here: the reader verifies what it read)."""

    model_config = ConfigDict(frozen=True)

    node: ChecksumAddress
    update_digest: HexBytes32  # sha256(payload), computed by the contract
    base_digest: HexBytes32
    roi_bps: int = Field(ge=-(2**31), lt=2**31)
    salt: HexBytes32
    outcome: RevealOutcomeV2
    block_number: int = Field(ge=0)
    log_index: int = Field(ge=0)
    payload: HexData | None

    @model_validator(mode="after")
    def _payload_is_the_digest(self) -> RevealV2:
        if self.payload is not None and hashlib.sha256(self.payload).digest() != self.update_digest:
            raise ValueError(
                f"payload of {self.node}'s reveal does not hash to its update digest: "
                "a reader must give None for a payload it could not read"
            )
        return self

    @property
    def position(self) -> tuple[int, int]:
        return self.block_number, self.log_index


class BeaconPost(BaseModel):
    """A `BeaconPosted` event: a frozen-set node posted a signature for beacon round D(r)."""

    model_config = ConfigDict(frozen=True)

    node: ChecksumAddress
    beacon_round: int = Field(ge=0, lt=2**64)
    signature: HexData
    block_number: int = Field(ge=0)
    log_index: int = Field(ge=0)

    @property
    def position(self) -> tuple[int, int]:
        return self.block_number, self.log_index


class BeaconParams(BaseModel):
    """The deployment's beacon (§2.1, the `Genesis` event): genesis time, period, delay δ and
    the 48-byte BLS public key."""

    model_config = ConfigDict(frozen=True)

    genesis: int = Field(ge=0, lt=2**64)
    period: int = Field(gt=0, lt=2**64)
    delay: int = Field(ge=0, lt=2**64)
    public_key: HexData


class RegisteredNode(BaseModel):
    """A node registered before S(r): its settlement-tree position is `index`."""

    model_config = ConfigDict(frozen=True)

    address: ChecksumAddress
    index: int = Field(ge=0, lt=2**32)


class BaseModelV2(BaseModel):
    """The base of a v2 round: the latest final model at S(r) (`latest()`), or genesis
    (round −1, no manifest, settlement root 0)."""

    model_config = ConfigDict(frozen=True)

    round: int = Field(ge=-1)
    digest: HexBytes32
    cid: HexData  # binary CIDv1, as `latest()` returns it
    manifest_cid: HexData | None = None
    settlement_root: HexBytes32 = ZERO32

    @model_validator(mode="after")
    def _genesis_has_no_manifest(self) -> BaseModelV2:
        if (self.round == -1) != (self.manifest_cid is None):
            raise ValueError("the base has a manifest exactly when it is not genesis (round -1)")
        if self.round == -1 and self.settlement_root != ZERO32:
            raise ValueError("the genesis base has settlement root 0")
        return self


class AttestationV2(BaseModel):
    """An `Attested` event (the audit reads it; the merge does not)."""

    model_config = ConfigDict(frozen=True)

    node: ChecksumAddress
    result_hash: HexBytes32
    weight: int = Field(ge=0)
    result: ResultField  # as attested: CIDs binary, as the contract keeps them
    block_number: int = Field(ge=0)
    log_index: int = Field(ge=0)


class FinalizedV2(BaseModel):
    """The `Finalized` event of the round (the audit reads it; the merge does not)."""

    model_config = ConfigDict(frozen=True)

    result_hash: HexBytes32
    tally: int = Field(ge=0)
    total_stake: int = Field(ge=0)
    block_number: int = Field(ge=0)
    log_index: int = Field(ge=0)

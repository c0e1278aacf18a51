"""Protocol values: what the chain records about commitments, reveals, attestations and models.

Plain, immutable values: no I/O, no chain or storage access. The ledger turns contract state
and events into them; the merge and the audit consume them. Every field that takes part in a
decision is an integer (basis points, parts per million, fixed point) so that no float ever
sits next to a threshold.
"""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel, ConfigDict

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

"""Protocol v1 data types shared by the ledger, the merge, the node and the audit.

These are plain, immutable values: no I/O, no chain or storage access. The ledger turns
contract state and events into them; the merge and the audit consume them. Every field that
takes part in a decision is an integer (basis points, parts per million, fixed point) so
that no float ever sits next to a threshold.
"""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 1

BPS = 10_000  # 1.0 in basis points
PPM = 1_000_000  # 1.0 in parts per million

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


class Rules(BaseModel):
    """Rule parameters in force for a round. Mirrors the contract's `Rules` struct."""

    model_config = ConfigDict(frozen=True)

    roi_min_bps: int = Field(-5_000, description="lowest acceptable ROI claim (bps)")
    roi_max_bps: int = Field(20_000, description="highest acceptable ROI claim (bps)")
    eligibility_min_score_bps: int = Field(
        -10_000, description="minimum mean performance score (bps) after probation"
    )
    probation_rounds: int = Field(3, ge=0, description="reveals before eligibility applies")
    max_participants: int = Field(64, ge=1, description="updates kept by the select step")
    similarity_threshold_ppm: int = Field(950_000, ge=0, le=PPM)
    cluster_cap_ppm: int = Field(
        1_000_000, ge=0, le=PPM, description="max total weight share of one cluster"
    )
    similarity_metric: SimilarityMetric = SimilarityMetric.BEHAVIOURAL
    aggregation: Aggregation = Aggregation.MEAN_EQUAL
    trim_ppm: int = Field(100_000, ge=0, lt=500_000, description="trimmed-mean cut per side")
    roi_tolerance_bps: int = Field(1, ge=0, description="max |claimed - recomputed| ROI (bps)")
    norm_bound_micro: int = Field(
        100_000_000, ge=0, description="max L2 norm of (update - base), in 1e-6 units"
    )
    quorum: int = Field(1, ge=1, description="distinct attesters needed to finalize")
    fee_ppm: int = Field(1_000, ge=0, description="backtest fee rate (ppm of notional)")
    benchmark_id: Bytes32 = Field("0x" + "00" * 32, description="content hash of benchmark data")


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


class RoundRecord(BaseModel):
    """Everything the chain says about one round, rebuilt from events."""

    model_config = ConfigDict(frozen=True)

    round: int
    chain_id: int
    contract: Address
    start: int
    commit_end: int
    reveal_end: int
    end: int
    rules: Rules
    commitments: tuple[Commitment, ...] = ()
    reveals: tuple[Reveal, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    base: GlobalModel
    directives_from_previous: tuple[Directive, ...] = ()
    finalized: GlobalModel | None = None


def canonical_address_key(address: Address) -> str:
    """Sort key for canonical input order: by lower-case hex address, never by arrival."""
    return address.lower()

"""A node's update for one round, as a pure function of what it can always rebuild.

    prepare_update(inputs) -> Update

The inputs are the base global model (bytes from the store, checked against the chain's
digest), the directive the base model's manifest assigned to this node (if any), the node's own
bars, the round's rules and benchmark, and a training seed derived from public on-chain values.
Training is deterministic on one machine (`flchain.model.train`), so the same inputs give the
same bytes, digest, CID and ROI claim — which is what lets a restarted node reveal exactly what
it committed without having written anything down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flchain.backtest import roi_bps
from flchain.hashing import sha256_hex
from flchain.ledger import commitment_hash
from flchain.market import OHLCV, Benchmark
from flchain.model import (
    ModelConfig,
    config_from_metadata,
    config_to_metadata,
    reference_positions,
    train,
)
from flchain.protocol import Address, Bytes32, Directive, GlobalModel, Rules
from flchain.protocol import digests as dg
from flchain.protocol.binding import compute_binding_metadata
from flchain.protocol.machine import RulesV2
from flchain.storage.cid import cid_for_bytes, cid_from_bytes
from flchain.storage.weights import decode_weights, encode_weights


@dataclass(frozen=True)
class UpdateInputs:
    """Everything an update is a function of."""

    chain_id: int
    contract: Address
    round: int
    node: Address
    base: GlobalModel
    base_weights: bytes
    directive: Directive | None
    bars: OHLCV
    # the update reads `fee_ppm`, which both versions have; a v2 update also names its reveal
    rules: Rules | RulesV2
    benchmark: Benchmark
    seed: int


@dataclass(frozen=True)
class Update:
    """A trained update and its claim, before sealing (adversaries may alter it here)."""

    payload: bytes
    roi_bps: int
    config: ModelConfig


@dataclass(frozen=True)
class SealedUpdate:
    """What gets committed and revealed."""

    round: int
    payload: bytes
    digest: Bytes32
    cid: str
    base_digest: Bytes32
    roi_bps: int
    salt: Bytes32
    commitment: Bytes32


def update_config(
    base_config: ModelConfig, base: GlobalModel, directive: Directive | None
) -> ModelConfig:
    """The config this round's update trains with: the global model's, or the directive's."""
    if directive is not None:
        return base_config.following(directive, base.digest)
    return base_config.model_copy(
        update={"base_digest": base.digest, "directive": None, "perturb_ppm": 0}
    )


def update_metadata(config: ModelConfig, inputs: UpdateInputs) -> dict[str, str]:
    """The update's safetensors metadata: its config and, in protocol v2, the binding to the
    reveal it is for (`flchain.protocol.binding`, docs/protocol.md §5)."""
    metadata = config_to_metadata(config)
    if isinstance(inputs.rules, RulesV2):  # the rules' version is the protocol's
        metadata |= compute_binding_metadata(inputs.node, inputs.round)
    return metadata


def claim_roi_bps(
    weights_payload: bytes, config: ModelConfig, benchmark: Benchmark, rules: Rules | RulesV2
) -> int:
    """The ROI claim exactly as the merge recomputes it: reference inference on the benchmark,
    the DESIGN §4 ROI, fee from the rules, in basis points."""
    tensors, _ = decode_weights(weights_payload)
    positions = reference_positions(tensors, config, benchmark.bars)
    return roi_bps(benchmark.exec_prices, positions, rules.fee_ppm)


def prepare_update(inputs: UpdateInputs) -> Update:
    """Train from the base on the node's bars and compute the honest ROI claim."""
    base_tensors, base_meta = decode_weights(inputs.base_weights)
    config = update_config(config_from_metadata(base_meta), inputs.base, inputs.directive)
    weights = train(base_tensors, config, inputs.bars, inputs.seed)
    payload = encode_weights(weights, update_metadata(config, inputs))
    return Update(
        payload=payload,
        roi_bps=claim_roi_bps(payload, config, inputs.benchmark, inputs.rules),
        config=config,
    )


def seal(inputs: UpdateInputs, update: Update, salt: Bytes32) -> SealedUpdate:
    """Digest, CID and the commitment the contract will check at reveal."""
    digest = sha256_hex(update.payload)
    cid = cid_for_bytes(update.payload)
    commitment = commitment_hash(
        inputs.chain_id,
        inputs.contract,
        inputs.round,
        inputs.node,
        digest,
        cid,
        inputs.base.digest,
        update.roi_bps,
        salt,
    )
    return SealedUpdate(
        round=inputs.round,
        payload=update.payload,
        digest=digest,
        cid=cid,
        base_digest=inputs.base.digest,
        roi_bps=update.roi_bps,
        salt=salt,
        commitment=commitment,
    )


def with_claim(update: Update, roi: int) -> Update:
    return replace(update, roi_bps=roi)


@dataclass(frozen=True)
class SealedUpdateV2:
    """What a protocol-v2 node commits and reveals: the payload travels in the reveal's
    calldata and its CID is the raw-leaf CID of its digest (docs/protocol.md §4, §5)."""

    round: int
    payload: bytes
    digest: bytes
    base_digest: bytes
    roi_bps: int
    salt: bytes
    commitment: bytes

    @property
    def cid(self) -> str:
        return str(cid_from_bytes(dg.raw_leaf_cid(self.digest)))


def seal_v2(inputs: UpdateInputs, update: Update, salt: bytes) -> SealedUpdateV2:
    """The v2 commitment (`digests.commitment_hash_v2`) of `update` on the inputs' base."""
    digest = dg.sha256(update.payload)
    base_digest = bytes.fromhex(inputs.base.digest.removeprefix("0x"))
    commitment = dg.commitment_hash_v2(
        inputs.chain_id, inputs.contract, inputs.round, inputs.node, digest, base_digest,
        update.roi_bps, salt,
    )  # fmt: skip
    return SealedUpdateV2(
        round=inputs.round,
        payload=update.payload,
        digest=digest,
        base_digest=base_digest,
        roi_bps=update.roi_bps,
        salt=salt,
        commitment=commitment,
    )

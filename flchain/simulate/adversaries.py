"""Every deliberate fault in one place: the simulation's adversaries and the faults tests inject.

Nothing here is honest, and nothing on the daemon path (`flchain.node`, `flchain.replay`,
`flchain.cli.node`) imports this module — tests/test_architecture.py checks it. The simulation
(`flchain simulate --adversaries`) and `flchain.testing` are its only users.

* node behaviours (`flchain.node.behaviour` extension points), stackable on any update source
  through `Fault.inner`: `InflatedRoi`, `AbnormalRoi`, `Copycat`, `NanWeights`, `NoReveal`,
  `Tampering`, `WrongAttestation`; `behaviour_for(kind)` by the simulation's kind names;
* payload corruptions: `inject_nan`, `inject_inf`;
* tampers — what a merger publishes and attests instead of the honest replay (`Tamper`):
  `attest_base_instead`, `tamper_shift_weights`, `tamper_accept_any_claim`;
* a store that withholds content it announces: `WithholdingStore`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO

import numpy as np

from flchain.hashing import sha256_hex
from flchain.merge.core import MergeResult, merge
from flchain.merge.manifest import encode_manifest
from flchain.node.behaviour import HONEST, Behaviour
from flchain.node.update import Update, UpdateInputs
from flchain.protocol import Address
from flchain.replay import ReplayError, ReplayResult, Tamper, parse_manifest
from flchain.storage import ContentStore
from flchain.storage.cid import Cid, cid_for_bytes, cid_for_stream
from flchain.storage.weights import decode_weights, encode_weights

__all__ = [
    "ACCEPT_ANY_TOLERANCE_BPS",
    "ADVERSARY_KINDS",
    "AbnormalRoi",
    "Copycat",
    "Fault",
    "InflatedRoi",
    "NanWeights",
    "NoReveal",
    "Tampering",
    "WithholdingStore",
    "WrongAttestation",
    "attest_base_instead",
    "behaviour_for",
    "inject_inf",
    "inject_nan",
    "tamper_accept_any_claim",
    "tamper_shift_weights",
]

#: The simulation's adversary kinds, in the order `--adversaries all` assigns them.
ADVERSARY_KINDS: tuple[str, ...] = (
    "inflated-roi",
    "abnormal-roi",
    "copycat",
    "nan-weights",
    "no-reveal",
    "wrong-attestation",
)

#: The ROI tolerance of a merger that skips verification: 10⁹ bps, so every claim passes (the
#: contract bounds the real rule at 10 000 bps; this value only ever lives in a forged merge).
ACCEPT_ANY_TOLERANCE_BPS = 10**9


# --- node behaviours ----------------------------------------------------------------------


class Fault(Behaviour):
    """A deliberate fault layered on `inner` (honest by default): a subclass overrides the one
    point it corrupts and every other point is `inner`'s, so faults stack."""

    kind = "fault"

    def __init__(self, inner: Behaviour = HONEST) -> None:
        self.inner = inner

    @property
    def reveals(self) -> bool:
        return self.inner.reveals

    def training_identity(self, node: Address) -> Address:
        return self.inner.training_identity(node)

    def prepare(self, inputs: UpdateInputs) -> Update:
        return self.inner.prepare(inputs)

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        return self.inner.alter(update, inputs)

    @property
    def tamper(self) -> Tamper | None:
        return self.inner.tamper


class InflatedRoi(Fault):
    """Claims more ROI than its weights earn (still inside the on-chain band): the merge's ROI
    verification must reject it and the attesters penalise it."""

    kind = "inflated-roi"

    def __init__(self, extra_bps: int = 700, inner: Behaviour = HONEST) -> None:
        super().__init__(inner)
        self.extra_bps = extra_bps

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        honest = self.inner.alter(update, inputs)
        return replace(
            honest, roi_bps=min(honest.roi_bps + self.extra_bps, inputs.rules.roi_max_bps)
        )


class AbnormalRoi(Fault):
    """Claims an ROI above the rules' band: the contract rejects it at reveal."""

    kind = "abnormal-roi"

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        return replace(self.inner.alter(update, inputs), roi_bps=inputs.rules.roi_max_bps + 25_000)


class Copycat(Fault):
    """One of a cluster that trains the leader's strategy (same data, same seed): identical
    updates, caught by the diversity step (capped, then sent exploring)."""

    kind = "copycat"

    def __init__(self, leader: Address, inner: Behaviour = HONEST) -> None:
        super().__init__(inner)
        self.leader = leader

    def training_identity(self, node: Address) -> Address:
        return self.leader


class NanWeights(Fault):
    """Uploads weights with a NaN in them (claiming the honest ROI): validation rejects them."""

    kind = "nan-weights"

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        honest = self.inner.alter(update, inputs)
        return replace(honest, payload=inject_nan(honest.payload))


class NoReveal(Fault):
    """Commits every round and never reveals."""

    kind = "no-reveal"

    @property
    def reveals(self) -> bool:
        return False


class Tampering(Fault):
    """Attests what `tamper` makes of the honest replay instead of the replay itself."""

    kind = "tampering"

    def __init__(self, tamper: Tamper, inner: Behaviour = HONEST) -> None:
        super().__init__(inner)
        self._tamper = tamper

    @property
    def tamper(self) -> Tamper | None:
        return self._tamper


class WrongAttestation(Tampering):
    """Attests a result it did not compute (the round's base model instead of the merge)."""

    kind = "wrong-attestation"

    def __init__(self, inner: Behaviour = HONEST) -> None:
        super().__init__(attest_base_instead, inner)


def behaviour_for(kind: str, leader: Address | None = None) -> Behaviour:
    """A behaviour by its kind name (see `ADVERSARY_KINDS`)."""
    if kind == "honest":
        return HONEST
    if kind == "inflated-roi":
        return InflatedRoi()
    if kind == "abnormal-roi":
        return AbnormalRoi()
    if kind == "copycat":
        if leader is None:
            raise ValueError("a copycat needs a leader")
        return Copycat(leader)
    if kind == "nan-weights":
        return NanWeights()
    if kind == "no-reveal":
        return NoReveal()
    if kind == "wrong-attestation":
        return WrongAttestation()
    raise ValueError(f"unknown behaviour {kind!r}")


# --- payload corruptions ------------------------------------------------------------------


def _overwrite_first_float(payload: bytes, bits: int) -> bytes:
    (header_len,) = struct.unpack("<Q", payload[:8])
    start = 8 + header_len
    return payload[:start] + struct.pack("<I", bits) + payload[start + 4 :]


def inject_nan(payload: bytes) -> bytes:
    """FAULT: the same safetensors bytes with the first float32 of the data section set to NaN
    (the header, names and shapes stay valid, so only the finiteness check can catch it)."""
    return _overwrite_first_float(payload, 0x7FC00000)


def inject_inf(payload: bytes) -> bytes:
    """FAULT: as `inject_nan`, with +Inf."""
    return _overwrite_first_float(payload, 0x7F800000)


# --- tampers ------------------------------------------------------------------------------


def attest_base_instead(replay: ReplayResult) -> MergeResult:
    """Tamper: publish the base model's bytes as if they were the merge (deliberate fault)."""
    assert replay.inputs is not None
    base = replay.inputs.base_weights
    honest = replay.result
    if base == honest.merged_weights:  # nothing was merged: attest a doctored manifest instead
        doctored = honest.manifest + b" "
        return honest.model_copy(
            update={"manifest": doctored, "manifest_cid": cid_for_bytes(doctored)}
        )
    return honest.model_copy(
        update={
            "merged_weights": base,
            "merged_digest": sha256_hex(base),
            "merged_cid": cid_for_bytes(base),
        }
    )


def _with_merged(result: MergeResult, merged: bytes) -> MergeResult:
    """`result` with other merged bytes, the manifest's `merged` entry rewritten to match, so
    the forgery is internally consistent and only a replay can tell."""
    digest, cid = sha256_hex(merged), cid_for_bytes(merged)
    doc = parse_manifest(result.manifest)
    doc["merged"] = {"digest": digest, "cid": cid}
    manifest = encode_manifest(doc)
    return result.model_copy(
        update={
            "merged_weights": merged,
            "merged_digest": digest,
            "merged_cid": cid,
            "manifest": manifest,
            "manifest_cid": cid_for_bytes(manifest),
        }
    )


def tamper_shift_weights(replay: ReplayResult, delta: float = 1e-3) -> MergeResult:
    """FAULT: attest merged weights with `delta` added to every element of the first tensor
    (valid canonical safetensors, plausible values, wrong bytes)."""
    tensors, metadata = decode_weights(replay.result.merged_weights)
    first = sorted(tensors)[0]
    tensors[first] = (tensors[first].astype(np.float64) + delta).astype(np.float32)
    return _with_merged(replay.result, encode_weights(tensors, metadata))


def tamper_accept_any_claim(replay: ReplayResult) -> MergeResult:
    """FAULT: a merger that skips ROI verification (its tolerance is `ACCEPT_ANY_TOLERANCE_BPS`),
    so false claims are accepted; everything else is computed honestly."""
    if replay.inputs is None:
        raise ReplayError("this replay kept no inputs to re-run")
    inputs = replay.inputs
    rules = inputs.record.rules.model_copy(update={"roi_tolerance_bps": ACCEPT_ANY_TOLERANCE_BPS})
    record = inputs.record.model_copy(update={"rules": rules})
    faulty = merge(
        record, inputs.payloads, inputs.base_weights, inputs.benchmark, inputs.directives
    )
    # The forged manifest keeps the real rules, so the lie is in the decisions, not the header.
    doc = parse_manifest(faulty.manifest)
    doc["rules"] = inputs.record.rules.model_dump(mode="json")
    manifest = encode_manifest(doc)
    return faulty.model_copy(update={"manifest": manifest, "manifest_cid": cid_for_bytes(manifest)})


# --- content withheld ---------------------------------------------------------------------


class WithholdingStore:
    """FAULT: a content store that acknowledges every write with the right CID and keeps none
    of it (a node that announces content it never serves); reads go to `store`."""

    def __init__(self, store: ContentStore) -> None:
        self.store = store

    def put(self, data: bytes) -> str:
        return cid_for_bytes(data)

    def put_stream(self, stream: BinaryIO, *, pin: bool = True) -> str:
        return cid_for_stream(stream)

    def get(self, cid: str | Cid) -> bytes:
        return self.store.get(cid)

    def iter_content(self, cid: str | Cid) -> Iterator[bytes]:
        return self.store.iter_content(cid)

    def has(self, cid: str | Cid) -> bool:
        return self.store.has(cid)

    def pin(self, cid: str | Cid) -> None:
        """Nothing was kept, so nothing is pinned."""

    def export_car(self, cid: str | Cid, out: BinaryIO) -> int:
        return self.store.export_car(cid, out)

    def import_car(self, stream: BinaryIO, *, pin: bool = True) -> list[str]:
        raise NotImplementedError("a withholding store keeps no CAR either")

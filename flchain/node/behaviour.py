"""How a node departs from the protocol — honest by default; adversaries for the simulation.

The daemon and the simulation run the same `NodeRunner`; a `Behaviour` only alters what that
code produces at three documented points (which identity's data and seed it trains with, the
update before it is sealed, and the merge result it attests) and whether it reveals. Every
adversary is a deliberate fault that says so in its name; the honest behaviour changes nothing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from flchain.hashing import sha256_hex
from flchain.merge.core import MergeResult
from flchain.node.update import Update, UpdateInputs
from flchain.protocol import Address
from flchain.replay import ReplayResult, Tamper
from flchain.storage.cid import cid_for_bytes

ADVERSARY_KINDS: tuple[str, ...] = (
    "inflated-roi",
    "abnormal-roi",
    "copycat",
    "nan-weights",
    "no-reveal",
    "wrong-attestation",
)


class Behaviour:
    """Honest: train on its own data, claim the true ROI, reveal, attest the true merge."""

    kind = "honest"
    reveals = True

    def training_identity(self, node: Address) -> Address:
        """Whose data partition and training seed to use."""
        return node

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        return update

    @property
    def tamper(self) -> Tamper | None:
        return None


HONEST = Behaviour()


class InflatedRoi(Behaviour):
    """Claims more ROI than its weights earn (still inside the on-chain band): the merge's ROI
    verification must reject it and the attesters penalise it."""

    kind = "inflated-roi"

    def __init__(self, extra_bps: int = 700) -> None:
        self.extra_bps = extra_bps

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        return replace(
            update, roi_bps=min(update.roi_bps + self.extra_bps, inputs.rules.roi_max_bps)
        )


class AbnormalRoi(Behaviour):
    """Claims an ROI above the rules' band: the contract rejects it at reveal."""

    kind = "abnormal-roi"

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        return replace(update, roi_bps=inputs.rules.roi_max_bps + 25_000)


@dataclass
class Copycat(Behaviour):
    """One of a cluster that trains the leader's strategy (same data, same seed): identical
    updates, caught by the diversity step (capped, then sent exploring)."""

    leader: Address
    kind = "copycat"

    def training_identity(self, node: Address) -> Address:
        return self.leader


class NanWeights(Behaviour):
    """Uploads weights with a NaN in them (claiming the honest ROI): validation rejects them."""

    kind = "nan-weights"

    def alter(self, update: Update, inputs: UpdateInputs) -> Update:
        return replace(update, payload=inject_nan(update.payload))


class NoReveal(Behaviour):
    """Commits every round and never reveals."""

    kind = "no-reveal"
    reveals = False


class WrongAttestation(Behaviour):
    """Attests a result it did not compute (the round's base model instead of the merge)."""

    kind = "wrong-attestation"

    @property
    def tamper(self) -> Tamper | None:
        return attest_base_instead


def inject_nan(payload: bytes) -> bytes:
    """The same safetensors bytes with the first float32 of the data section set to NaN (the
    header, names and shapes stay valid, so only the finiteness check can catch it)."""
    (header_len,) = struct.unpack("<Q", payload[:8])
    start = 8 + header_len
    return payload[:start] + struct.pack("<I", 0x7FC00000) + payload[start + 4 :]


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

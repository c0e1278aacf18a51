"""Typed reads of the contract's storage (no transaction, no event): `get_*` over a `Deployment`.

Each function calls one view of the contract (through `Deployment.call`, which surfaces a
refusal by its custom error's name) and returns a `flchain.protocol` value or one of the records
below. The values fixed at deployment (schedule, genesis) are read once per deployment by
`Deployment` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import TYPE_CHECKING

from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict

from flchain.hashing import hex_to_bytes32
from flchain.ledger.backends import NETWORK_ERRORS, Backend
from flchain.ledger.errors import ChainUnavailable
from flchain.ledger.hashes import cid_to_str
from flchain.protocol import (
    Address,
    Bytes32,
    GlobalModel,
    RevealOutcome,
    Rules,
    Schedule,
    rules_from_tuple,
)

if TYPE_CHECKING:
    from flchain.ledger.deployment import Deployment


class NodeStatus(IntEnum):
    """Contract `NodeStatus` enum, same numbering."""

    NONE = 0
    ACTIVE = 1
    EXITING = 2
    WITHDRAWN = 3


class NodeRecord(BaseModel):
    """A node's registration and on-chain performance record."""

    model_config = ConfigDict(frozen=True)

    address: Address
    status: NodeStatus
    index: int
    accepted_reveals: int
    penalties: int
    roi_sum_bps: int
    last_attested_round: int | None
    withdrawable_at: int
    bond: int


class CommitState(BaseModel):
    """What the contract stores about one node's commitment in one round."""

    model_config = ConfigDict(frozen=True)

    commitment: Bytes32 | None  # None: not committed, or revealed (the slot then holds the outcome)
    revealed: bool
    outcome: RevealOutcome | None  # None until revealed


def _hex32(value: bytes) -> Bytes32:
    return "0x" + bytes(value).hex()


def get_latest_timestamp(backend: Backend) -> int:
    """Timestamp of the latest block: the chain's idea of 'now'."""
    try:
        return backend.latest_timestamp()
    except NETWORK_ERRORS:
        raise ChainUnavailable("cannot reach the chain to read the latest block") from None


def get_block_timestamp(backend: Backend, block_number: int) -> int:
    """Timestamp of block `block_number` (cached per backend)."""
    try:
        return backend.block_timestamp(block_number)
    except NETWORK_ERRORS:
        raise ChainUnavailable("cannot reach the chain to read a block") from None


def get_schedule(d: Deployment) -> Schedule:
    return Schedule(
        t0=int(d.call("T0")),
        round_length=int(d.call("roundLength")),
        commit_window=int(d.call("commitWindow")),
        reveal_window=int(d.call("revealWindow")),
    )


def get_genesis(d: Deployment) -> GlobalModel:
    digest, cid = d.call("genesis")
    return GlobalModel(round=-1, digest=_hex32(digest), cid=cid_to_str(cid))


def get_governor(d: Deployment) -> Address:
    return str(d.call("governor"))


def get_rules_for_round(d: Deployment, round: int) -> Rules:
    return rules_from_tuple(d.call("rulesForRound", round))[1]


def get_node_record(d: Deployment, node: Address) -> NodeRecord:
    record, bond = d.call("nodeRecord", to_checksum_address(node))
    items = list(record.values()) if isinstance(record, Mapping) else list(record)
    status, index, accepted, penalties, roi_sum, last_attested, withdrawable_at = items
    return NodeRecord(
        address=to_checksum_address(node),
        status=NodeStatus(int(status)),
        index=int(index),
        accepted_reveals=int(accepted),
        penalties=int(penalties),
        roi_sum_bps=int(roi_sum),
        last_attested_round=int(last_attested) - 1 if int(last_attested) else None,
        withdrawable_at=int(withdrawable_at),
        bond=int(bond),
    )


def get_is_eligible(d: Deployment, node: Address, round: int) -> bool:
    return bool(d.call("isEligible", to_checksum_address(node), round))


def get_votes_for(d: Deployment, round: int, result_hash: Bytes32) -> int:
    return int(d.call("votesFor", round, hex_to_bytes32(result_hash)))


def get_finalized(d: Deployment, round: int) -> GlobalModel | None:
    """The finalized global model of `round` from contract storage, or None."""
    is_final, digest, merged_cid, manifest_cid, finalized_at, _votes = d.call("finalized", round)
    if not is_final:
        return None
    return GlobalModel(
        round=round,
        digest=_hex32(digest),
        cid=cid_to_str(merged_cid),
        manifest_cid=cid_to_str(manifest_cid),
        finalized_at=int(finalized_at),
    )


def get_commitment_of(d: Deployment, round: int, node: Address) -> CommitState:
    """The contract's record of `node`'s commitment in `round` (storage, not events): the
    pending commitment before the reveal; after it, `revealed` and the on-chain outcome."""
    value, revealed, outcome = d.call("commitmentOf", round, to_checksum_address(node))
    commitment = _hex32(value)
    return CommitState(
        commitment=None if int(commitment, 16) == 0 else commitment,
        revealed=bool(revealed),
        outcome=RevealOutcome(int(outcome)) if revealed else None,
    )

"""Protocol v2 digests: the one definition of every hash the contract, merge, ledger and audit
compute (docs/protocol.md §4–§8, §12).

Each is `keccak256(abi.encode(TAG, …))` with a tag of its own, so no digest of one kind can be
passed off as another; the deployment-bound ones also carry `chainId` and the contract address.
`tests/protocol/vectors/digests.json` pins every function here byte for byte; the contract's
forge tests check the same file, and `tests/protocol/test_digests.py` evaluates each expression
in the EVM as Solidity writes it.

Byte values are `bytes` (32 bytes for digests, 20 for the accumulator); addresses are hex
strings in any case. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from eth_abi import encode as abi_encode
from eth_hash.auto import keccak as _keccak
from eth_utils import to_canonical_address

__all__ = [
    "ACCUMULATOR_OPENED_MARK",
    "ACC_ATTESTED_TAG",
    "ACC_BEACON_TAG",
    "ACC_FINALIZED_TAG",
    "ACC_NO_REVEAL_TAG",
    "ACC_REVEALED_TAG",
    "COMMIT_TAG",
    "EMPTY_ACCUMULATOR",
    "LEAF_TAG",
    "RAW_CID_PREFIX",
    "RESULT_TAG",
    "SEED_TAG",
    "ZERO32",
    "accumulate",
    "attested_entry",
    "beacon_entry",
    "commitment_hash_v2",
    "finalized_entry",
    "keccak",
    "leaf_hash",
    "no_reveal_entry",
    "raw_leaf_cid",
    "result_hash_v2",
    "revealed_entry",
    "salts_hash",
    "seed",
    "sha256",
    "tie_key",
]


def keccak(data: bytes) -> bytes:
    """keccak256 (Ethereum's hash)."""
    return bytes(_keccak(data))


ZERO32: Final = bytes(32)
#: The accumulator of a round with no entry yet (§12).
EMPTY_ACCUMULATOR: Final = bytes(20)
#: The bit `openRound` sets in the accumulator's word (the top bit of its `others` counter,
#: masked by every reader): the round's first entry then rewrites the word instead of creating it.
ACCUMULATOR_OPENED_MARK: Final = 1 << 31
#: Binary raw-leaf CIDv1 prefix: version 1, codec raw (0x55), sha2-256 (0x12), 32 bytes (0x20).
RAW_CID_PREFIX: Final = bytes([0x01, 0x55, 0x12, 0x20])

COMMIT_TAG: Final = keccak(b"flchain.v2.commit")
RESULT_TAG: Final = keccak(b"flchain.v2.result")
LEAF_TAG: Final = keccak(b"flchain.v2.leaf")
SEED_TAG: Final = keccak(b"flchain.v2.seed")
ACC_REVEALED_TAG: Final = keccak(b"flchain.v2.acc.revealed")
ACC_BEACON_TAG: Final = keccak(b"flchain.v2.acc.beacon")
ACC_ATTESTED_TAG: Final = keccak(b"flchain.v2.acc.attested")
ACC_FINALIZED_TAG: Final = keccak(b"flchain.v2.acc.finalized")
ACC_NO_REVEAL_TAG: Final = keccak(b"flchain.v2.acc.noreveal")


def _b32(value: bytes, name: str) -> bytes:
    if len(value) != 32:
        raise ValueError(f"{name} must be 32 bytes, got {len(value)}")
    return bytes(value)


def _address_key(address: str) -> int:
    return int.from_bytes(to_canonical_address(address), "big")


# ---------------------------------------------------------------- §4, §7, §8


def _abi_keccak(*fields: tuple[str, Any]) -> bytes:
    """keccak256(abi.encode(v_1, …, v_n)) of (type, value) pairs, so each type sits by its value."""
    return keccak(abi_encode([t for t, _ in fields], [v for _, v in fields]))


def commitment_hash_v2(
    chain_id: int,
    contract: str,
    round: int,
    node: str,
    update_digest: bytes,
    base_digest: bytes,
    roi_bps: int,
    salt: bytes,
) -> bytes:
    """§4: `keccak256(abi.encode(COMMIT_TAG, chainId, contract, round, node, updateDigest,
    baseDigest, roiBps, salt))`, `roiBps` an int32."""
    return _abi_keccak(
        ("bytes32", COMMIT_TAG),
        ("uint256", chain_id),
        ("address", contract),
        ("uint256", round),
        ("address", node),
        ("bytes32", _b32(update_digest, "update_digest")),
        ("bytes32", _b32(base_digest, "base_digest")),
        ("int32", roi_bps),
        ("bytes32", _b32(salt, "salt")),
    )


def result_hash_v2(
    chain_id: int,
    contract: str,
    round: int,
    merged_digest: bytes,
    merged_cid: bytes,
    manifest_cid: bytes,
    settlement_root: bytes,
    round_earned: int,
) -> bytes:
    """§7: `keccak256(abi.encode(RESULT_TAG, chainId, contract, round, mergedDigest,
    keccak256(mergedCid), keccak256(manifestCid), settlementRoot, roundEarned))`, the CIDs
    binary, `roundEarned` a uint128."""
    return _abi_keccak(
        ("bytes32", RESULT_TAG),
        ("uint256", chain_id),
        ("address", contract),
        ("uint256", round),
        ("bytes32", _b32(merged_digest, "merged_digest")),
        ("bytes32", keccak(merged_cid)),
        ("bytes32", keccak(manifest_cid)),
        ("bytes32", _b32(settlement_root, "settlement_root")),
        ("uint128", round_earned),
    )


def leaf_hash(
    chain_id: int,
    contract: str,
    node: str,
    index: int,
    cum_earned: int,
    cum_penalties: int,
    merged_rounds: int,
    last_penalty_round: int,
    score_bps: int,
) -> bytes:
    """§8: `keccak256(bytes.concat(keccak256(abi.encode(LEAF_TAG, chainId, contract, node, index,
    cumEarned, cumPenalties, mergedRounds, lastPenaltyRound, scoreBps))))` — hashed twice, so a
    leaf is never the hash of a 64-byte pair, i.e. never an inner node."""
    inner = _abi_keccak(
        ("bytes32", LEAF_TAG),
        ("uint256", chain_id),
        ("address", contract),
        ("address", node),
        ("uint32", index),
        ("uint128", cum_earned),
        ("uint32", cum_penalties),
        ("uint32", merged_rounds),
        ("uint32", last_penalty_round),
        ("int32", score_bps),
    )
    return keccak(inner)


def raw_leaf_cid(digest: bytes) -> bytes:
    """§5: the binary raw-leaf CIDv1 of content whose sha256 is `digest` (36 bytes).

    An update payload (≤ 16 KiB, one chunk) gets exactly this CID from `ipfs add
    --cid-version=1 --raw-leaves`."""
    return RAW_CID_PREFIX + _b32(digest, "digest")


# ---------------------------------------------------------------- §6


def salts_hash(salts_by_node: Mapping[str, bytes]) -> bytes:
    """§6: `keccak256(salt_1 ‖ … ‖ salt_n)` over every reveal of the round (whatever its
    outcome), nodes in canonical order (ascending address); `keccak256("")` for none."""
    ordered = sorted(salts_by_node.items(), key=lambda item: _address_key(item[0]))
    return keccak(b"".join(_b32(salt, "salt") for _, salt in ordered))


def seed(chain_id: int, contract: str, round: int, salts: bytes, randomness: bytes) -> bytes:
    """§6: `keccak256(abi.encode(SEED_TAG, chainId, contract, round, saltsHash, randomness))`;
    `randomness` is `sha256(signature)` of the first valid beacon post, or 32 zero bytes."""
    return _abi_keccak(
        ("bytes32", SEED_TAG),
        ("uint256", chain_id),
        ("address", contract),
        ("uint256", round),
        ("bytes32", _b32(salts, "salts")),
        ("bytes32", _b32(randomness, "randomness")),
    )


def tie_key(seed_value: bytes, node: str) -> bytes:
    """§6: `keccak256(abi.encodePacked(seed, node))` (52 bytes hashed): the order of ties in
    select and cluster-best, ascending — never the address itself."""
    return keccak(_b32(seed_value, "seed") + to_canonical_address(node))


# ---------------------------------------------------------------- §12 accumulator


def revealed_entry(
    node: str,
    update_digest: bytes,
    base_digest: bytes,
    roi_bps: int,
    salt: bytes,
    outcome: int,
    payload_length: int,
) -> bytes:
    """Entry of a `Revealed` event: `keccak256(abi.encode(ACC_REVEALED_TAG, node, updateDigest,
    baseDigest, roiBps (int32), salt, outcome (uint8), payloadLength (uint32)))`."""
    return _abi_keccak(
        ("bytes32", ACC_REVEALED_TAG),
        ("address", node),
        ("bytes32", _b32(update_digest, "update_digest")),
        ("bytes32", _b32(base_digest, "base_digest")),
        ("int32", roi_bps),
        ("bytes32", _b32(salt, "salt")),
        ("uint8", outcome),
        ("uint32", payload_length),
    )


def beacon_entry(node: str, signature: bytes) -> bytes:
    """Entry of a `BeaconPosted` event: `keccak256(abi.encode(ACC_BEACON_TAG, node,
    keccak256(signature)))` (the beacon round is D(round), implied)."""
    return _abi_keccak(
        ("bytes32", ACC_BEACON_TAG), ("address", node), ("bytes32", keccak(signature))
    )


def attested_entry(node: str, result_hash: bytes, weight: int) -> bytes:
    """Entry of an `Attested` event: `keccak256(abi.encode(ACC_ATTESTED_TAG, node, resultHash,
    weight))`."""
    return _abi_keccak(
        ("bytes32", ACC_ATTESTED_TAG),
        ("address", node),
        ("bytes32", _b32(result_hash, "result_hash")),
        ("uint256", weight),
    )


def finalized_entry(result_hash: bytes, tally: int, total_stake: int) -> bytes:
    """Entry of a `Finalized` event: `keccak256(abi.encode(ACC_FINALIZED_TAG, resultHash, tally,
    totalStake))`."""
    return _abi_keccak(
        ("bytes32", ACC_FINALIZED_TAG),
        ("bytes32", _b32(result_hash, "result_hash")),
        ("uint256", tally),
        ("uint256", total_stake),
    )


def no_reveal_entry(node: str, amount: int, bounty: int, beneficiary: str) -> bytes:
    """Entry of a no-reveal `Slashed` event: `keccak256(abi.encode(ACC_NO_REVEAL_TAG, node,
    amount, bounty, beneficiary))`."""
    return _abi_keccak(
        ("bytes32", ACC_NO_REVEAL_TAG),
        ("address", node),
        ("uint256", amount),
        ("uint256", bounty),
        ("address", beneficiary),
    )


def accumulate(accumulator: bytes, entry: bytes) -> bytes:
    """One step of a round's hash chain: `bytes20(keccak256(abi.encode(acc, entry)))` — `acc` a
    bytes20 (left-aligned in its word), the result the hash's first 20 bytes."""
    if len(accumulator) != 20:
        raise ValueError(f"accumulator must be 20 bytes, got {len(accumulator)}")
    word = accumulator + bytes(12)
    return keccak(word + _b32(entry, "entry"))[:20]


def sha256(data: bytes) -> bytes:
    """sha256 (the update and model digest)."""
    return hashlib.sha256(data).digest()

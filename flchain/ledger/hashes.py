"""The two hashes the contract checks, computed exactly as it does, and the on-chain form of a
CID both ways (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable

from eth_abi import encode
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from flchain.hashing import hex_to_bytes32
from flchain.protocol import Address, Bytes32, canonical_address_key
from flchain.storage.cid import cid_from_bytes, parse_cid


def cid_to_bytes(cid: str | bytes) -> bytes:
    """Binary CIDv1 (36 bytes) from a CID string; binary input is passed through unchanged."""
    if isinstance(cid, bytes):
        return cid
    return parse_cid(cid).to_v1().to_bytes()


def cid_to_str(cid: bytes | str) -> str:
    """CID string (CIDv1, base32) of a binary CID as the contract stores and logs it; a string is
    returned unchanged."""
    if isinstance(cid, str):
        return cid
    return str(cid_from_bytes(bytes(cid)))


def canonical_penalised(penalised: Iterable[Address]) -> tuple[Address, ...]:
    """Checksummed, de-duplicated, in canonical (lower-case hex) order: the order the contract requires."""
    unique = {to_checksum_address(a) for a in penalised}
    return tuple(sorted(unique, key=canonical_address_key))


def commitment_hash(
    chain_id: int,
    contract: Address,
    round: int,
    node: Address,
    update_digest: Bytes32,
    cid: str | bytes,
    base_digest: Bytes32,
    roi_bps: int,
    salt: Bytes32,
) -> Bytes32:
    """keccak256(abi.encode(chainId, contract, round, node, updateDigest, keccak256(cid),
    baseDigest, roiBps, salt)) — what `FLChain.reveal` recomputes and compares.

    Binding chain id and contract makes a commitment useless on any other deployment.
    """
    data = encode(
        [
            "uint256",
            "address",
            "uint256",
            "address",
            "bytes32",
            "bytes32",
            "bytes32",
            "int256",
            "bytes32",
        ],
        [
            chain_id,
            to_checksum_address(contract),
            round,
            to_checksum_address(node),
            hex_to_bytes32(update_digest),
            keccak(cid_to_bytes(cid)),
            hex_to_bytes32(base_digest),
            roi_bps,
            hex_to_bytes32(salt),
        ],
    )
    return "0x" + keccak(data).hex()


def result_hash(
    round: int,
    merged_digest: Bytes32,
    merged_cid: str | bytes,
    manifest_cid: str | bytes,
    penalised: Iterable[Address] = (),
) -> Bytes32:
    """keccak256(abi.encode(round, mergedDigest, keccak256(mergedCid), keccak256(manifestCid),
    penalised[])) with `penalised` in canonical order — what attesters agree on."""
    data = encode(
        ["uint256", "bytes32", "bytes32", "bytes32", "address[]"],
        [
            round,
            hex_to_bytes32(merged_digest),
            keccak(cid_to_bytes(merged_cid)),
            keccak(cid_to_bytes(manifest_cid)),
            list(canonical_penalised(penalised)),
        ],
    )
    return "0x" + keccak(data).hex()

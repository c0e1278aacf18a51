"""Digests used across the protocol (pure functions)."""

from __future__ import annotations

import hashlib

from eth_hash.auto import keccak as _keccak


def sha256_hex(data: bytes) -> str:
    """`0x`-prefixed sha256 of `data`: the protocol's update / model digest."""
    return "0x" + hashlib.sha256(data).hexdigest()


def keccak_hex(data: bytes) -> str:
    """`0x`-prefixed keccak256 of `data` (Ethereum's hash)."""
    return "0x" + _keccak(data).hex()


def hex_to_bytes32(value: str) -> bytes:
    """Parse a `0x`-prefixed 32-byte hex string, refusing anything else."""
    raw = value[2:] if value.startswith(("0x", "0X")) else value
    if len(raw) != 64:
        raise ValueError(f"expected 32 bytes of hex, got {len(raw) // 2} bytes")
    return bytes.fromhex(raw)

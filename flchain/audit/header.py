"""A block header checked against its own hash (pure).

    compute_header_hash(block) -> bytes

The audit proves storage against a header's `stateRoot` (`flchain.audit.proof`). An RPC that
answers `eth_getBlockByNumber` with its own `stateRoot` beside the real block's `hash` could
make a forged state verify; so the header's fields, RLP-encoded in the order of the Yellow
Paper and the forks that appended to it, must hash to the block hash the RPC states. What is
then left to trust is one 32-byte hash — the report names it, to be compared with any other
source (a second RPC, a block explorer, a light client).

The fields appended by forks are present exactly when the fork is active, each after the
previous one: London's `baseFeePerGas`, Shanghai's `withdrawalsRoot`, Cancun's `blobGasUsed`,
`excessBlobGas` and `parentBeaconBlockRoot`, Prague's `requestsHash`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import rlp
from eth_utils import keccak

__all__ = ["FORK_FIELDS", "HEADER_FIELDS", "compute_header_hash"]

#: (JSON-RPC name, kind) of the pre-London header, in RLP order
HEADER_FIELDS: Final = (
    ("parentHash", "bytes"),
    ("sha3Uncles", "bytes"),
    ("miner", "bytes"),
    ("stateRoot", "bytes"),
    ("transactionsRoot", "bytes"),
    ("receiptsRoot", "bytes"),
    ("logsBloom", "bytes"),
    ("difficulty", "int"),
    ("number", "int"),
    ("gasLimit", "int"),
    ("gasUsed", "int"),
    ("timestamp", "int"),
    ("extraData", "bytes"),
    ("mixHash", "bytes"),
    ("nonce", "bytes"),
)
#: the fields forks appended, in order; a header carries a prefix of them
FORK_FIELDS: Final = (
    ("baseFeePerGas", "int"),
    ("withdrawalsRoot", "bytes"),
    ("blobGasUsed", "int"),
    ("excessBlobGas", "int"),
    ("parentBeaconBlockRoot", "bytes"),
    ("requestsHash", "bytes"),
)


def _value(kind: str, raw: Any) -> bytes | int:
    if kind == "int":
        return int(raw, 16) if isinstance(raw, str) else int(raw)
    if isinstance(raw, str):
        return bytes.fromhex(raw.removeprefix("0x"))
    return bytes(raw)


def compute_header_hash(block: Mapping[str, Any]) -> bytes:
    """keccak256 of the RLP of `block`'s header fields (a JSON-RPC block object, raw or as
    web3 decodes it)."""
    fields = [_value(kind, block[name]) for name, kind in HEADER_FIELDS]
    for name, kind in FORK_FIELDS:
        if block.get(name) is None:
            break
        fields.append(_value(kind, block[name]))
    return keccak(rlp.encode(fields))

"""Storage words proven against a block's state root (Merkle-Patricia proofs, EIP-1186).

    fetch_proof(backend, address, slots, block) -> StateProof   (I/O)
    verify_proof(proof) -> ProvenAccount                          (pure)

A JSON-RPC chain answers `eth_getProof`; the embedded chain (py-evm) has no such method, so the
same proof nodes are read from its trie database (`HexaryTrie.get_proof`). Either way the proof
is checked here, in Python, against the `stateRoot` of the block header: the account's leaf
(nonce, balance, storage root, code hash) under `keccak(address)`, then each storage word under
`keccak(slot)` in that storage root. A lying RPC can drop or rewrite an event, or answer a view
with anything; it cannot make a proof verify against the header's root for a word the state
does not hold. Nor can it forge the header: its fields must hash to the block hash it states
(`flchain.audit.header`). What is left to trust is that hash: the report names the block hash
and state root it verified against, to be compared with a second source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rlp
from eth_utils import keccak, to_checksum_address
from trie import HexaryTrie
from trie.exceptions import BadTrieProof
from web3.types import RPCEndpoint

from flchain.audit.errors import AuditError, ProofError
from flchain.audit.header import compute_header_hash
from flchain.ledger import Backend, EmbeddedBackend

__all__ = ["ProofError", "ProvenAccount", "StateProof", "fetch_proof", "verify_proof"]

#: keccak256 of the empty code and of the empty trie: an account without code or storage.
EMPTY_CODE_HASH = keccak(b"")
EMPTY_TRIE_ROOT = keccak(rlp.encode(b""))


@dataclass(frozen=True)
class StateProof:
    """What a proof of `address` and `slots` at `block_number` consists of: the header's state
    root and hash, and the trie nodes (RLP bytes) from each root to the leaf."""

    block_number: int
    block_hash: bytes
    state_root: bytes
    address: str
    account_nodes: tuple[bytes, ...]
    slots: tuple[int, ...]
    storage_nodes: tuple[tuple[bytes, ...], ...]  # per slot


@dataclass(frozen=True)
class ProvenAccount:
    """The account and storage words a `StateProof` proves."""

    block_number: int
    block_hash: bytes
    state_root: bytes
    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes
    words: dict[int, bytes]  # slot -> 32-byte word (zero for an absent slot)


def _lookup(root: bytes, key: bytes, nodes: Sequence[bytes], what: str) -> bytes:
    try:
        decoded = [rlp.decode(n) for n in nodes]
        value: bytes = HexaryTrie.get_from_proof(root, key, decoded)
    except (BadTrieProof, rlp.DecodingError, ValueError, TypeError, KeyError) as exc:
        raise ProofError(f"the proof of {what} does not verify: {type(exc).__name__}") from None
    return value


def verify_proof(proof: StateProof) -> ProvenAccount:
    """The account and words `proof` proves under its state root.

    @raises ProofError when a node is missing, altered, or does not lead to the key
    """
    account_rlp = _lookup(
        proof.state_root, keccak(bytes.fromhex(proof.address[2:])), proof.account_nodes,
        f"account {proof.address}",
    )  # fmt: skip
    if account_rlp == b"":
        nonce, balance, storage_root, code_hash = 0, 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH
    else:
        try:
            raw_nonce, raw_balance, storage_root, code_hash = rlp.decode(account_rlp)
        except (rlp.DecodingError, ValueError) as exc:
            raise ProofError(f"account {proof.address} is not an account: {exc}") from None
        nonce, balance = int.from_bytes(raw_nonce, "big"), int.from_bytes(raw_balance, "big")
    words: dict[int, bytes] = {}
    for slot, nodes in zip(proof.slots, proof.storage_nodes, strict=True):
        encoded = _lookup(storage_root, keccak(slot.to_bytes(32, "big")), nodes, f"slot {slot:#x}")
        value = rlp.decode(encoded) if encoded else b""
        if not isinstance(value, bytes) or len(value) > 32:
            raise ProofError(f"slot {slot:#x} holds no storage word")
        words[slot] = value.rjust(32, b"\0")
    return ProvenAccount(
        block_number=proof.block_number,
        block_hash=proof.block_hash,
        state_root=proof.state_root,
        nonce=nonce,
        balance=balance,
        storage_root=bytes(storage_root),
        code_hash=bytes(code_hash),
        words=words,
    )


def _hex_bytes(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def fetch_proof(
    backend: Backend, address: str, slots: Sequence[int], block_number: int
) -> StateProof:
    """The proof of `address` and `slots` at `block_number` (the embedded chain's from its
    trie database, any other's with `eth_getProof`), and the header it is checked against.

    @raises AuditError when the chain does not answer `eth_getProof`
    """
    address = to_checksum_address(address)
    if isinstance(backend, EmbeddedBackend):
        return _embedded_proof(backend, address, slots, block_number)
    header = backend.w3.eth.get_block(block_number)
    if compute_header_hash(header) != _hex_bytes(header["hash"]):
        raise ProofError(
            f"block {block_number}'s header from the RPC does not hash to the block hash it "
            "states: the RPC forged it, and nothing proven against it can be trusted"
        )
    answer = backend.w3.provider.make_request(
        RPCEndpoint("eth_getProof"),
        [address, ["0x" + s.to_bytes(32, "big").hex() for s in slots], hex(block_number)],
    )
    result = answer.get("result")
    if not isinstance(result, dict):
        why = str(answer.get("error", {}).get("message", "no result")).splitlines()[0][:160]
        raise AuditError(f"the chain does not answer eth_getProof ({why}): nothing can be proven")
    by_key = {int(p["key"], 16): p for p in result.get("storageProof", [])}
    return StateProof(
        block_number=block_number,
        block_hash=_hex_bytes(header["hash"]),
        state_root=_hex_bytes(header["stateRoot"]),
        address=address,
        account_nodes=tuple(_hex_bytes(n) for n in result.get("accountProof", [])),
        slots=tuple(slots),
        storage_nodes=tuple(
            tuple(_hex_bytes(n) for n in by_key.get(s, {}).get("proof", [])) for s in slots
        ),
    )


def _embedded_proof(
    backend: EmbeddedBackend, address: str, slots: Sequence[int], block_number: int
) -> StateProof:
    chain = backend.tester.backend.chain
    header = chain.get_canonical_block_header_by_number(block_number)
    db = chain.chaindb.db
    state = HexaryTrie(db, header.state_root)
    account_key = keccak(bytes.fromhex(address[2:]))
    account_nodes = state.get_proof(account_key)
    found = state.get(account_key)
    storage_root = rlp.decode(found)[2] if found else EMPTY_TRIE_ROOT
    storage = HexaryTrie(db, storage_root)
    return StateProof(
        block_number=block_number,
        block_hash=bytes(header.hash),
        state_root=bytes(header.state_root),
        address=address,
        account_nodes=tuple(rlp.encode(n) for n in account_nodes),
        slots=tuple(slots),
        storage_nodes=tuple(
            tuple(rlp.encode(n) for n in storage.get_proof(keccak(s.to_bytes(32, "big"))))
            for s in slots
        ),
    )

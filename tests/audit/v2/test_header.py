"""`compute_header_hash` on real headers (anvil's, with every fork field up to Cancun); a
header with any field rewritten (a forging RPC, injected on purpose) no longer hashes to its
block hash, and the audit's proof fetch refuses it. The embedded chain is not here: its proofs
come from its own database, not from an RPC's header."""

from __future__ import annotations

from typing import Any

import pytest

from flchain.audit.errors import ProofError
from flchain.audit.header import FORK_FIELDS, HEADER_FIELDS, compute_header_hash
from flchain.audit.proof import fetch_proof
from flchain.devnet.anvil import AnvilProcess
from flchain.ledger import Backend, RpcBackend

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def backend(anvil: AnvilProcess) -> RpcBackend:
    return RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)


def _blocks(backend: Backend) -> list[dict[str, Any]]:
    backend.fund("0x000000000000000000000000000000000000dEaD", 1)  # a block with a transaction
    latest = backend.w3.eth.block_number
    return [dict(backend.w3.eth.get_block(n)) for n in range(max(0, latest - 2), latest + 1)]


def test_real_headers_hash_to_their_block_hash(backend: Backend) -> None:
    for block in _blocks(backend):
        assert compute_header_hash(block) == bytes(block["hash"]), block["number"]
    assert all(block.get(name) is not None for name, _ in FORK_FIELDS[:5])  # up to Cancun


@pytest.mark.parametrize(
    "name",
    [n for n, _ in HEADER_FIELDS if n in ("stateRoot", "number", "timestamp", "receiptsRoot")],
)
def test_a_rewritten_field_no_longer_hashes_to_the_block_hash(backend: Backend, name: str) -> None:
    block = _blocks(backend)[-1]
    value = block[name]
    forged = {**block, name: value + 1 if isinstance(value, int) else b"\x01" * len(value)}
    assert compute_header_hash(forged) != bytes(block["hash"])


def test_the_proof_fetch_refuses_a_forged_header(backend: Backend) -> None:
    assert isinstance(backend, RpcBackend)
    n = backend.w3.eth.block_number
    fetch_proof(backend, "0x000000000000000000000000000000000000dEaD", [0], n)  # honest: fine
    real = backend.w3.eth.get_block

    def forged(block: Any, *args: Any, **kwargs: Any) -> Any:
        header = dict(real(block, *args, **kwargs))
        header["stateRoot"] = b"\x11" * 32
        return header

    backend.w3.eth.get_block = forged  # type: ignore[method-assign]
    try:
        with pytest.raises(ProofError, match="does not hash to the block hash it states"):
            fetch_proof(backend, "0x000000000000000000000000000000000000dEaD", [0], n)
    finally:
        backend.w3.eth.get_block = real  # type: ignore[method-assign]

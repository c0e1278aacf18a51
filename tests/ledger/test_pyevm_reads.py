"""The embedded chain's trie read cache (`flchain.ledger.pyevm_reads`) returns what a walk of
py-evm's own tries returns, its shared jump-destination checks what a fresh code stream finds,
it stays on the embedded backend's chain, and the C keccak it selects hashes as pycryptodome
does."""

from __future__ import annotations

import os
from pathlib import Path

from eth.db.account import AccountDB
from eth.db.storage import AccountStorageDB
from eth.vm.code_stream import CodeStream
from eth_hash.auto import keccak
from eth_hash.backends import pycryptodome
from eth_tester import PyEVMBackend
from trie import HexaryTrie

from flchain.ledger import EmbeddedBackend
from flchain.protocol.machine import Phase
from flchain.storage import LocalStore
from flchain.testing.driver import RoundDriverV2


def test_every_kept_read_is_what_a_fresh_trie_walk_reads(tmp_path: Path) -> None:
    backend = EmbeddedBackend()
    driver = RoundDriverV2.deploy(backend, LocalStore(tmp_path, fsync=False), 3)
    driver.play_round(0)
    driver.step_phase(1, Phase.COMMIT)
    reads = backend.tester.backend.trie_reads
    assert reads.hits > 0 and reads.misses > 0
    assert len(reads.accounts) > 10 and len(reads.slots) > 100
    db = backend.tester.backend.chain.chaindb.db
    for (root, address), value in reads.accounts.items():
        assert HexaryTrie(db, root)[keccak(address)] == value
    for (root, slot), value in reads.slots.items():
        assert HexaryTrie(db, root)[keccak(slot.rjust(32, b"\0"))] == value
    assert any(valid for valid, _ in reads.code_checks.values())
    for code, (valid, invalid) in reads.code_checks.items():
        assert not valid & invalid
        for position in valid | invalid:  # what a fresh code stream finds
            assert CodeStream(code).is_valid_opcode(position) == (position in valid)


def test_a_kept_slot_moves_with_the_storage_root(tmp_path: Path) -> None:
    backend = EmbeddedBackend()
    driver = RoundDriverV2.deploy(backend, LocalStore(tmp_path, fsync=False), 2)
    chain = backend.tester.backend.chain
    contract = bytes.fromhex(driver.gov.contract.address[2:])
    before = chain.get_vm().state
    values = {slot: before.get_storage(contract, slot) for slot in range(64)}
    driver.play_round(0)  # writes the contract's storage: a new storage root
    after = chain.get_vm().state
    assert after.state_root != before.state_root
    plain = AccountDB(chain.chaindb.db, after.state_root)
    for slot in range(64):
        assert after.get_storage(contract, slot) == plain.get_storage(contract, slot)
    old = AccountDB(chain.chaindb.db, before.state_root)
    assert values == {slot: old.get_storage(contract, slot) for slot in range(64)}


def test_other_py_evm_chains_keep_the_library_classes() -> None:
    EmbeddedBackend()
    state = PyEVMBackend().chain.get_vm().state
    assert type(state._account_db) is AccountDB
    store = state._account_db._get_address_store(b"\x01" * 20)
    assert type(store) is AccountStorageDB


def test_the_c_keccak_hashes_as_pycryptodome() -> None:
    EmbeddedBackend()
    for n in (*range(0, 200), 1_000, 100_000):
        data = os.urandom(n)
        assert keccak(data) == pycryptodome.keccak256(data)
        assert keccak.new(data).digest() == pycryptodome.keccak256(data)

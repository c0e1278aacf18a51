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


def test_the_fast_nibbles_are_tries_own() -> None:
    from trie.utils import nibbles

    from flchain.ledger import pyevm_reads

    assert pyevm_reads.use_fast_nibbles()
    assert nibbles.bytes_to_nibbles is pyevm_reads._bytes_to_nibbles  # installed
    slow_split = pyevm_reads.TRIE_ORIGINALS["bytes_to_nibbles"]
    slow_end = pyevm_reads.TRIE_ORIGINALS["add_nibbles_terminator"]
    samples = [b"", b"\x00", b"\xff", bytes(range(256)), *(os.urandom(n) for n in range(1, 70))]
    for value in samples:
        split = pyevm_reads._bytes_to_nibbles(value)
        assert split == slow_split(value) and type(split) is tuple
        for cut in (split, split[1:], split[:3], (*split, 16), ()):
            assert pyevm_reads._add_nibbles_terminator(cut) == slow_end(cut)
            assert pyevm_reads._add_nibbles_terminator(list(cut)) == slow_end(list(cut))


def test_a_trie_has_the_same_root_with_the_fast_nibbles() -> None:
    from trie import hexary
    from trie.utils import nibbles, nodes

    from flchain.ledger import pyevm_reads

    assert pyevm_reads.use_fast_nibbles()
    ops = [(os.urandom(32 if k % 3 else 5), os.urandom(1 + k % 40)) for k in range(400)]

    def build() -> bytes:
        trie = HexaryTrie({})
        for k, (key, value) in enumerate(ops):
            trie[key] = value
            if k % 7 == 0:
                del trie[ops[k // 2][0]]
        assert all(trie[key] in (value, b"") for key, value in ops)
        return trie.root_hash

    fast = build()
    originals = pyevm_reads.TRIE_ORIGINALS
    saved = [
        (m, n, getattr(m, n)) for m in (nibbles, hexary, nodes) for n in originals if hasattr(m, n)
    ]
    try:
        for module, name, _ in saved:
            setattr(module, name, originals[name])
        slow = build()
    finally:
        for module, name, value in saved:
            setattr(module, name, value)
    assert fast == slow

"""Trie reads (and code checks) the embedded chain answers from memory (`install_read_cache`).

Every call and every transaction on py-evm builds a fresh state from a state root, and each
state starts with cold caches: each account and storage slot it reads walks the hexary trie
from the root again, reading and rlp-decoding every node on the way (a 10 × 7 simulation read
37 208 values that way, through 147 228 node decodes). A trie's root hash is the keccak of its
contents, so the value under a key in the trie with a given root can never change: a read
cache keyed by (root hash, key) returns exactly what the walk would. Writes are untouched (they
go through py-evm's tries as before, and a write changes the root, so later reads ask under the
new root).

The same holds for the jump-destination checks of a contract's code (whether a position is an
opcode or PUSH data is a function of the code bytes): computations of the same code share the
positions checked (`_SharedCodeChecks`) instead of each looking back for PUSHes again.

The caches are installed on one chain object only (the embedded backend's, through subclasses
of its VM, state, account, storage and computation classes): other users of py-evm in the
process keep the library's own classes. py-evm's witness bookkeeping (the trie node hashes a
state read, reported by `persist` for stateless clients) then lists only the nodes read on a
miss; nothing in eth-tester or flchain reads it.

`use_c_keccak` is the one process-wide change: eth-hash's `keccak` (which py-evm, trie, web3 and
flchain all call) hashes with pysha3's C Keccak instead of pycryptodome's, a quarter of the
cost per hash (~1.4 µs against ~5.9 µs; a 10 × 7 simulation hashes ~200 000 times). Both compute
the same Keccak-256; pysha3 comes with eth-tester[py-evm] (eth-hash[pysha3]), but eth-hash picks
pycryptodome first whenever that is installed too.

`use_fast_nibbles` is the other, for the same reason: trie's splitting of keys into nibbles (on
every trie read and write) and its leaf terminator become equal functions made of a few C calls
instead of a Python generator per byte (~6 µs → ~1.8 µs and ~4.3 µs → ~0.5 µs a call).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

from eth.constants import BLANK_ROOT_HASH
from eth.db.accesslog import KeyAccessLoggerDB
from eth.db.account import AccountDB
from eth.db.cache import CacheDB
from eth.db.hash_trie import HashTrie
from eth.db.journal import JournalDB
from eth.db.storage import AccountStorageDB, StorageLookup
from trie import HexaryTrie

#: Values kept per table before it starts over (a value is an rlp account or slot of tens of
#: bytes: some tens of MiB at most; a 10 × 7 simulation reads ~13 000 distinct ones).
READS_KEPT: Final = 200_000

#: Contract codes whose jump-destination checks are kept (a chain here runs a handful).
CODES_KEPT: Final = 64


class TrieReads:
    """Values read from the tries of one chain, by (root hash, key): accounts by address,
    storage slots by slot (big-endian bytes), each table bounded by `READS_KEPT` (emptied when
    full: dropping values cannot change one, they are read again)."""

    __slots__ = ("accounts", "code_checks", "hits", "misses", "slots")

    def __init__(self) -> None:
        self.accounts: dict[tuple[bytes, bytes], bytes] = {}
        self.slots: dict[tuple[bytes, bytes], bytes] = {}
        #: code -> (positions found valid, found invalid) as jump targets (`_SharedCodeChecks`)
        self.code_checks: dict[bytes, tuple[set[int], set[int]]] = {}
        self.hits = 0
        self.misses = 0

    def read(
        self,
        table: dict[tuple[bytes, bytes], bytes],
        root: bytes,
        key: bytes,
        walk: Callable[[bytes], bytes],
    ) -> bytes:
        """The value under `key` in the trie with root `root`: kept, or `walk(key)`."""
        at = (root, key)
        value = table.get(at)
        if value is None:
            self.misses += 1
            value = walk(key)
            if len(table) >= READS_KEPT:
                table.clear()
            table[at] = value
        else:
            self.hits += 1
        return value


class _CachedHashTrie(HashTrie):
    """The account trie (address → rlp account) with reads answered from `TrieReads`."""

    _reads: TrieReads | None

    def __init__(self, db: Any, reads: TrieReads | None = None) -> None:
        super().__init__(db)
        # KeyMapDB forwards attribute writes to the trie below; this one is its own.
        object.__setattr__(self, "_reads", reads)

    def __getitem__(self, key: bytes) -> bytes:
        reads = self._reads
        if reads is None:  # the scratch trie of `squash_changes`: writes only
            return super().__getitem__(key)
        root = cast(HexaryTrie, self._db).root_hash
        return reads.read(reads.accounts, root, key, super().__getitem__)


class _CachedStorageLookup(StorageLookup):
    """One account's storage trie (slot → rlp value) with reads answered from `TrieReads`."""

    def __init__(self, db: Any, storage_root: Any, address: Any, reads: TrieReads) -> None:
        super().__init__(db, storage_root, address)
        self._reads = reads

    def __getitem__(self, key: bytes) -> bytes:
        # Reads go to the write trie once written (its root moves with each write), else to
        # the trie at the starting root.
        write_trie = self._write_trie
        root = self._starting_root_hash if write_trie is None else write_trie.root_hash
        return self._reads.read(self._reads.slots, root, key, super().__getitem__)


class _CachedAccountStorageDB(AccountStorageDB):
    def __init__(self, db: Any, storage_root: Any, address: Any, reads: TrieReads) -> None:
        super().__init__(db, storage_root, address)
        # The same pipe as py-evm's (lookup → cache → locked changes → journal), on a lookup
        # that remembers its reads.
        self._storage_lookup = _CachedStorageLookup(db, storage_root, address, reads)
        self._storage_cache = CacheDB(self._storage_lookup)
        self._locked_changes = JournalDB(self._storage_cache)
        self._journal_storage = JournalDB(self._locked_changes)


class _CachedAccountDB(AccountDB):
    reads: TrieReads  # set on the per-chain subclass `install_read_cache` makes

    def __init__(self, db: Any, state_root: Any = BLANK_ROOT_HASH) -> None:
        super().__init__(db, state_root)
        # The same pipe as py-evm's (trie → access log → cache → journal), on a trie that
        # remembers its reads.
        self._trie = _CachedHashTrie(self._trie._db, self.reads)
        self._trie_logger = KeyAccessLoggerDB(self._trie, log_missing_keys=False)
        self._trie_cache = CacheDB(self._trie_logger)
        self._journaltrie = JournalDB(self._trie_cache)

    def _get_address_store(self, address: Any) -> Any:
        store = self._account_stores.get(address)
        if store is None:
            store = _CachedAccountStorageDB(
                self._raw_store_db, self._get_storage_root(address), address, self.reads
            )
            self._account_stores[address] = store
        return store


class _SharedCodeChecks:
    """A computation whose code stream shares, with every other run of the same code, the
    positions it found valid or invalid as jump destinations: py-evm works each out by looking
    back for a PUSH, again in each new computation (the contract is ~24 KB), and the answer is
    a function of the code bytes alone."""

    reads: TrieReads  # set on the per-chain subclass `install_read_cache` makes

    def __init__(self, state: Any, message: Any, transaction_context: Any) -> None:
        super().__init__(state, message, transaction_context)  # type: ignore[call-arg]
        kept = self.reads.code_checks
        checks = kept.get(message.code)
        if checks is None:
            if len(kept) >= CODES_KEPT:
                kept.clear()
            checks = kept[message.code] = (set(), set())
        code: Any = self.code  # type: ignore[attr-defined]
        code.valid_positions, code.invalid_positions = checks


def use_c_keccak() -> bool:
    """Make eth-hash's `keccak` hash with pysha3 for the whole process (see the module
    docstring); False, changing nothing, where pysha3 is not installed."""
    try:
        from eth_hash.backends import pysha3
    except ImportError:
        return False
    from eth_hash.auto import keccak

    # Bound methods, as eth-hash itself installs its backend's after the first hash (mypy
    # reads the attributes as the unbound methods they start as).
    keccak.hasher = pysha3.backend.keccak256  # type: ignore[assignment]
    keccak.preimage = pysha3.backend.preimage  # type: ignore[assignment]
    return True


_NIBBLE_TERMINATOR: Final = 16
#: hex digit → the character of its value, so `bytes.hex` and `str.translate` split bytes into
#: nibbles in C
_NIBBLE_OF_HEX: Final = str.maketrans("0123456789abcdef", "".join(map(chr, range(16))))


def _bytes_to_nibbles(value: bytes) -> tuple[int, ...]:
    """trie's `bytes_to_nibbles`: each byte's high then low nibble, as a tuple of ints."""
    return tuple(bytes(value).hex().translate(_NIBBLE_OF_HEX).encode("latin-1"))


def _add_nibbles_terminator(nibbles: Any) -> tuple[int, ...]:
    """trie's `add_nibbles_terminator`: the nibbles as a tuple ending in the terminator (16)."""
    out = tuple(nibbles)
    return out if out and out[-1] == _NIBBLE_TERMINATOR else (*out, _NIBBLE_TERMINATOR)


#: trie's own functions `use_fast_nibbles` replaced, by name (the tests' reference)
TRIE_ORIGINALS: dict[str, Callable[..., tuple[int, ...]]] = {}


def use_fast_nibbles() -> bool:
    """Make trie's `bytes_to_nibbles` and `add_nibbles_terminator` (a key's nibbles on every
    trie read and write, a leaf's on every leaf encoded: ~150 000 calls in a 10 × 7
    simulation, ~0.6 s) the equal functions above, for the whole process: a tuple of the same
    ints from a few C calls instead of a generator per byte. False, changing nothing, where
    trie's functions are not the ones these replace (tests/ledger/test_pyevm_reads.py compares
    them on random input)."""
    from trie import hexary
    from trie.constants import NIBBLE_TERMINATOR
    from trie.utils import nibbles, nodes

    if NIBBLE_TERMINATOR != _NIBBLE_TERMINATOR:
        return False
    targets = (
        (nibbles, "bytes_to_nibbles", _bytes_to_nibbles),
        (hexary, "bytes_to_nibbles", _bytes_to_nibbles),
        (nibbles, "add_nibbles_terminator", _add_nibbles_terminator),
        (nodes, "add_nibbles_terminator", _add_nibbles_terminator),
    )
    for module, name, fast in targets:
        current = getattr(module, name, None)
        if current is not fast and getattr(current, "__module__", None) != "trie.utils.nibbles":
            return False
    for module, name, fast in targets:
        TRIE_ORIGINALS.setdefault(name, getattr(module, name))
        setattr(module, name, fast)
    return True


def install_read_cache(chain: Any) -> TrieReads:
    """Give `chain` (a py-evm chain object) VMs whose states answer trie reads from one
    `TrieReads` (and share jump-destination checks through it), and return it. Only this
    object changes: its class becomes a subclass of its own class with the same VM schedule,
    each VM a subclass of the original."""
    reads = TrieReads()
    account_db = type("CachedAccountDB", (_CachedAccountDB,), {"reads": reads})

    def state_class(vm: Any) -> Any:
        state = vm.get_state_class()
        computation = type(
            state.computation_class.__name__,
            (_SharedCodeChecks, state.computation_class),
            {"reads": reads},
        )
        return state.configure(account_db_class=account_db, computation_class=computation)

    vms = tuple(
        (block, vm.configure(_state_class=state_class(vm)))
        for block, vm in type(chain).vm_configuration
    )
    chain.__class__ = type(chain).configure(vm_configuration=vms)
    return reads

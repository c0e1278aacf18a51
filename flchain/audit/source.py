"""Where the audit reads from: a chain (RPC URL, devnet profile or simulation run folder) and
a content store (IPFS daemon or local blockstore), opened read-only.

`SnapshotLedger` pins the audit to the chain as it was at its first event read: every later
query is answered from the ledger's shared event index (`flchain.ledger.index`) up to that
block, so all rounds and the history checks judge one consistent log even on a live chain. It
adds nothing to what the chain says.

A `flchain simulate --chain anvil` run folder outlives its anvil: its profile's `rpc_url` is
dead once the simulation ended, but `anvil-state.json` beside it holds `anvil_dumpState`. For a
run folder `open_source` always starts a temporary anvil (127.0.0.1, free port), `anvil_loadState`s
the dump into it and audits against it (a profile with a dump beside it: only when its RPC does
not answer); `AuditSource.close()` stops it.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flchain.audit.errors import AuditError
from flchain.devnet.profile import DevnetProfile, load_profile
from flchain.ledger import Backend, ChainUnavailable, Deployment, Ledger, LedgerV2, RpcBackend
from flchain.ledger.deployment import detect_protocol_version
from flchain.storage import ContentStore, IpfsClient, LocalStore
from flchain.storage.ipfs import RETRIES

__all__ = ["ANVIL_STATE_FILE", "RESTORED_NOTE", "AuditSource", "SnapshotLedger", "open_source"]

#: What `flchain simulate --chain anvil` writes beside its profile: `{"state": <anvil_dumpState>}`.
ANVIL_STATE_FILE = "anvil-state.json"
RESTORED_NOTE = f"chain restored from {ANVIL_STATE_FILE} into a temporary anvil"


class SnapshotLedger(Ledger):
    """A read-only Ledger whose event queries see the log up to the block of its first read."""

    def __init__(self, backend: Backend, address: str, *, from_block: int = 0) -> None:
        super().__init__(Deployment.connect(backend, address, from_block=from_block))
        self._pinned: int | None = None

    @property
    def pinned_block(self) -> int | None:
        """The last block this view reads events from (None before the first read)."""
        return self._pinned

    def refresh(self) -> None:
        """Unpin (the next query reads the blocks mined since)."""
        self._pinned = None

    def _read_horizon(self, to_block: int | None) -> int | None:
        if self._pinned is None:
            self._pinned = self.sync_events()
        return self._pinned if to_block is None else min(to_block, self._pinned)


@dataclass
class AuditSource:
    """What the audit reads: a ledger, a content store, and how to release them.

    `notes` say how the chain was obtained when it is not simply the one named (shown in the
    report header). Use as a context manager, or call `close()`, so a temporary chain process
    is stopped whatever happens.
    """

    ledger: Ledger | LedgerV2
    store: ContentStore
    label: str
    notes: tuple[str, ...] = ()
    _cleanup: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def close(self) -> None:
        """Stop whatever `open_source` started for this source (safe to call twice)."""
        while self._cleanup:
            self._cleanup.pop()()

    def __enter__(self) -> AuditSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ledger_of(backend: Backend, address: str, from_block: int) -> Ledger | LedgerV2:
    """A read-only view of the contract at `address`: v1's pinned `SnapshotLedger`, or a
    `LedgerV2` (the v2 audit pins every read to the head block it starts at itself)."""
    if detect_protocol_version(backend, address) == 2:
        return LedgerV2.connect(backend, address, from_block=from_block, check=False)
    return SnapshotLedger(backend, address, from_block=from_block)


def _store_of(profile: DevnetProfile, ipfs_retries: int) -> ContentStore:
    if profile.store == "ipfs" and profile.ipfs_url:
        return IpfsClient(profile.ipfs_url, retries=ipfs_retries)
    if profile.store_dir is None:
        raise AuditError("the profile names no store folder and no IPFS URL")
    return LocalStore(profile.store_dir)


def _dumped_state(path: Path) -> str:
    """The `anvil_dumpState` payload saved in `path` (a hex string)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AuditError(f"cannot read {path}: {type(exc).__name__}") from None
    state = doc.get("state") if isinstance(doc, dict) else None
    if not isinstance(state, str) or not state.startswith("0x"):
        raise AuditError(f'{path} holds no anvil state (expected {{"state": "0x…"}})')
    return state


def _restored_anvil(profile: DevnetProfile, dump: Path) -> tuple[Backend, Callable[[], None]]:
    """A fresh anvil on a free 127.0.0.1 port holding the dumped chain, and its stop."""
    from flchain.devnet.anvil import AnvilProcess, DevChainError

    state = _dumped_state(dump)
    try:  # anvil_dumpState's payload is gzip'd JSON; a big one is refused as one RPC request
        loaded = gzip.decompress(bytes.fromhex(state[2:]))
    except (ValueError, OSError, EOFError) as exc:
        raise AuditError(
            f"anvil refused the state in {dump}: not the gzip'd JSON anvil_dumpState writes "
            f"({type(exc).__name__})"
        ) from None
    with tempfile.TemporaryDirectory(prefix="flchain-audit-state-") as tmp:
        file = Path(tmp) / "state.json"
        file.write_bytes(loaded)
        anvil = AnvilProcess(chain_id=profile.chain_id, load_state=file)
        try:
            anvil.start()  # ready once it answers: the state is loaded by then
        except DevChainError as exc:
            raise AuditError(f"anvil refused the state in {dump}: {exc}") from None
    backend = RpcBackend(anvil.url, kind="anvil", expected_chain_id=profile.chain_id)
    return backend, anvil.stop


_Opened = tuple[Backend, tuple[str, ...], list[Callable[[], None]]]


def _backend_of(profile: DevnetProfile, folder: Path, *, prefer_dump: bool = False) -> _Opened:
    """The chain a profile names; for a dead anvil with a dump beside it, a restored one.

    With `prefer_dump` (a simulation run folder) an anvil dump is used even when something
    answers at the recorded URL: the run's own anvil is gone, and whatever listens on that port
    now — perhaps another anvil with the same chain id and contract address — is not its chain.
    Also returns the notes for the report header and what stops a temporary process.
    """
    if profile.rpc_url:
        dump = folder / ANVIL_STATE_FILE
        if prefer_dump and profile.chain == "anvil" and dump.is_file():
            backend, stop = _restored_anvil(profile, dump)
            return backend, (RESTORED_NOTE,), [stop]
        try:
            return RpcBackend(profile.rpc_url, expected_chain_id=profile.chain_id), (), []
        except ChainUnavailable:
            if profile.chain != "anvil" or not dump.is_file():
                raise
        backend, stop = _restored_anvil(profile, dump)
        return backend, (RESTORED_NOTE,), [stop]
    journal = (profile.state_dir or folder) / "chain.jsonl"
    if not journal.exists():
        raise AuditError(f"embedded chain without a journal: {journal} does not exist")
    from flchain.devnet.journal import replay_journal

    return replay_journal(journal), (), []


def open_source(
    *,
    rpc: str | None = None,
    contract: str | None = None,
    ipfs: str | None = None,
    store_dir: str | Path | None = None,
    profile: str | Path | None = None,
    run: str | Path | None = None,
    from_block: int = 0,
    ipfs_retries: int = RETRIES,
) -> AuditSource:
    """Open exactly one chain source (RPC + contract, a profile, or a run folder) and a store
    (an IPFS daemon's requests retried `ipfs_retries` times after a connection error).

    A run folder (or profile) of an anvil chain whose RPC no longer answers is restored from
    its `anvil-state.json` into a temporary anvil; close the returned source to stop it.

    @raises AuditError for a missing or contradictory choice; UnavailableError subclasses when
        the chain cannot be reached.
    """
    chosen = [x for x in (rpc, profile, run) if x]
    if len(chosen) != 1:
        raise AuditError("give exactly one of --rpc (with --contract), --profile or --run")
    if run or profile:
        path = Path(run) / "profile.json" if run else Path(str(profile))
        prof = load_profile(path)
        backend, notes, cleanup = _backend_of(prof, path.parent, prefer_dump=bool(run))
        try:
            ledger = _ledger_of(backend, prof.contract, prof.deployment_block)
            store = (
                IpfsClient(ipfs, retries=ipfs_retries)
                if ipfs
                else LocalStore(store_dir)
                if store_dir
                else _store_of(prof, ipfs_retries)
            )
        except BaseException:
            for stop in cleanup:
                stop()
            raise
        return AuditSource(ledger, store, str(path), notes, cleanup)
    if not contract:
        raise AuditError("--rpc needs --contract ADDRESS")
    if not (ipfs or store_dir):
        raise AuditError("--rpc needs --ipfs URL or --store DIR to fetch content from")
    backend = RpcBackend(str(rpc))
    ledger = _ledger_of(backend, contract, from_block)
    store = IpfsClient(ipfs, retries=ipfs_retries) if ipfs else LocalStore(str(store_dir))
    return AuditSource(ledger, store, f"{rpc} {ledger.address}")

"""Where the audit reads from: a chain (RPC URL, devnet profile or simulation run folder) and
a content store (IPFS daemon or local blockstore), opened read-only.

`SnapshotLedger` pins the audit to the chain as it was at its first event read: every later
query is answered from the ledger's shared event index (`flchain.ledger.events`) up to that
block, so all rounds and the history checks judge one consistent log even on a live chain. It
adds nothing to what the chain says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flchain.audit.errors import AuditError
from flchain.config import DevnetProfile, load_profile
from flchain.ledger import Backend, ChainEvent, Ledger, RpcBackend
from flchain.storage import ContentStore, IpfsClient, LocalStore

__all__ = ["AuditSource", "SnapshotLedger", "open_source"]


class SnapshotLedger(Ledger):
    """A read-only Ledger whose event queries see the log up to the block of its first read."""

    def __init__(self, backend: Backend, address: str, *, from_block: int = 0) -> None:
        super().__init__(backend, address, None, from_block=from_block)
        self._pinned: int | None = None

    @property
    def pinned_block(self) -> int | None:
        """The last block this view reads events from (None before the first read)."""
        return self._pinned

    def refresh(self) -> None:
        """Unpin (the next query reads the blocks mined since)."""
        self._pinned = None

    def events(
        self, name: str | None = None, round: int | None = None, *, to_block: int | None = None
    ) -> list[ChainEvent]:
        if self._pinned is None:
            self._pinned = self.sync_events()
        if name is not None:
            self._topic_of(name)  # an unknown event name is an error, as on any Ledger
        limit = self._pinned if to_block is None else min(to_block, self._pinned)
        return self.event_index.query(name, round, to_block=limit)


@dataclass
class AuditSource:
    ledger: Ledger
    store: ContentStore
    label: str


def _store_of(profile: DevnetProfile) -> ContentStore:
    if profile.store == "ipfs" and profile.ipfs_url:
        return IpfsClient(profile.ipfs_url)
    if profile.store_dir is None:
        raise AuditError("the profile names no store folder and no IPFS URL")
    return LocalStore(profile.store_dir)


def _backend_of(profile: DevnetProfile, folder: Path) -> Backend:
    if profile.rpc_url:
        return RpcBackend(profile.rpc_url, expected_chain_id=profile.chain_id)
    journal = (profile.state_dir or folder) / "chain.jsonl"
    if not journal.exists():
        raise AuditError(f"embedded chain without a journal: {journal} does not exist")
    from flchain.devnet.journal import replay_journal

    return replay_journal(journal)


def open_source(
    *,
    rpc: str | None = None,
    contract: str | None = None,
    ipfs: str | None = None,
    store_dir: str | Path | None = None,
    profile: str | Path | None = None,
    run: str | Path | None = None,
    from_block: int = 0,
) -> AuditSource:
    """Open exactly one chain source (RPC + contract, a profile, or a run folder) and a store.

    @raises AuditError for a missing or contradictory choice; UnavailableError subclasses when
        the chain cannot be reached.
    """
    chosen = [x for x in (rpc, profile, run) if x]
    if len(chosen) != 1:
        raise AuditError("give exactly one of --rpc (with --contract), --profile or --run")
    if run or profile:
        path = Path(run) / "profile.json" if run else Path(str(profile))
        prof = load_profile(path)
        backend = _backend_of(prof, path.parent)
        ledger = SnapshotLedger(backend, prof.contract, from_block=prof.deployment_block)
        store = (
            IpfsClient(ipfs) if ipfs else LocalStore(store_dir) if store_dir else _store_of(prof)
        )
        return AuditSource(ledger, store, str(path))
    if not contract:
        raise AuditError("--rpc needs --contract ADDRESS")
    if not (ipfs or store_dir):
        raise AuditError("--rpc needs --ipfs URL or --store DIR to fetch content from")
    backend = RpcBackend(str(rpc))
    ledger = SnapshotLedger(backend, contract, from_block=from_block)
    store = IpfsClient(ipfs) if ipfs else LocalStore(str(store_dir))
    return AuditSource(ledger, store, f"{rpc} {ledger.address}")

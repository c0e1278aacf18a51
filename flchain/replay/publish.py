"""The merger's side: replay, store the merged weights and manifest (pinned), attest on-chain.

publish_and_attest(ledger, account, store, round) -> MergeResult
"""

from __future__ import annotations

from typing import Protocol

from eth_account.signers.local import LocalAccount

from flchain.ledger import Ledger
from flchain.merge.core import MergeResult
from flchain.protocol import RoundRecord
from flchain.replay.core import MergeMemo, Tamper, replay_round
from flchain.replay.errors import ReplayError
from flchain.storage import ContentStore


class Published(Protocol):
    """What `publish` stores: a v1 `MergeResult` or a v2 `MergeResultV2`."""

    @property
    def merged_weights(self) -> bytes: ...
    @property
    def merged_cid(self) -> str: ...
    @property
    def manifest(self) -> bytes: ...
    @property
    def manifest_cid(self) -> str: ...


def publish(store: ContentStore, result: Published) -> None:
    """Put the merged weights and the manifest in the store (pinned) and check their CIDs."""
    for label, data, cid in (
        ("merged weights", result.merged_weights, result.merged_cid),
        ("manifest", result.manifest, result.manifest_cid),
    ):
        stored = store.put(data)
        if stored != cid:
            raise ReplayError(f"the store gave {label} CID {stored}, the merge computed {cid}")
        store.pin(stored)


def already_attested(record: RoundRecord, address: str) -> bool:
    return any(a.attester.lower() == address.lower() for a in record.attestations)


def publish_and_attest(
    ledger: Ledger,
    account: LocalAccount,
    store: ContentStore,
    round: int,
    *,
    tamper: Tamper | None = None,
    memo: MergeMemo | None = None,
) -> MergeResult:
    """Replay `round`, publish the merged weights and manifest, attest the result on-chain.

    Idempotent: if `account` already attested this round, nothing is written and the
    (replayed, possibly tampered) result is returned.

    @param tamper a deliberate fault for adversary simulations and tamper tests: it receives
        the honest replay and returns the result to publish and attest instead.
    @param memo an in-process `MergeMemo` shared by the simulation's nodes (see `replay_round`)
    @return the result that was (or had been) attested
    @raises ContractRevert e.g. RoundNotClosed, AttestationOutOfOrder, Unregistered
    """
    replay = replay_round(ledger, store, round, memo=memo)
    result = tamper(replay) if tamper is not None else replay.result
    if already_attested(replay.record, account.address):
        return result
    publish(store, result)
    # A ledger already signing as `account` (a node's own) is reused: `with_account` builds a
    # fresh contract binding and re-reads the schedule on first use.
    signer = ledger if ledger.account is account else ledger.with_account(account)
    signer.attest(
        round, result.merged_digest, result.merged_cid, result.manifest_cid, result.penalised
    )
    return result

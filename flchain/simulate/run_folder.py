"""The run folder's chain and content files: enough to audit the run after it ended.

events.json, manifests/, chain.jsonl (embedded) or anvil-state.json (anvil), store/ (a local
copy of what an audit reads when the run used an IPFS daemon), profile.json naming all of it. summary.json, table.txt
and plot.png are written by the run itself (`flchain.simulate.core`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flchain.devnet.federation import Genesis
from flchain.devnet.journal import JournaledEmbeddedBackend, save_journal
from flchain.devnet.profile import DevnetProfile, ProfileWallet, save_profile
from flchain.ledger import Backend, Ledger, LedgerV2
from flchain.ledger.events_v2 import Attested, Finalized
from flchain.simulate.config import NodeRole, SimulationConfig
from flchain.storage import ContentStore, LocalStore

__all__ = ["write_run_folder"]


def write_run_folder(
    work: Path,
    run_dir: Path,
    config: SimulationConfig,
    backend: Backend,
    store: ContentStore,
    ledger: Ledger | LedgerV2,
    genesis: Genesis,
    roles: Sequence[NodeRole],
    manifests: dict[int, dict[str, Any]],
    info: dict[str, Any],
) -> None:
    """Write the chain, content and profile files of a finished run into `work`."""
    events = ledger.events()
    times = {e.block_number: ledger.block_timestamp(e.block_number) for e in events}
    (work / "events.json").write_text(
        json.dumps(
            [{**e.log_record(), "timestamp": times[e.block_number]} for e in events], indent=1
        )
        + "\n"
    )
    mdir = work / "manifests"
    mdir.mkdir()
    for day, manifest in manifests.items():
        (mdir / f"round-{day:04d}.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        )
    if isinstance(backend, JournaledEmbeddedBackend):
        save_journal(backend, work / "chain.jsonl")
    else:
        state = backend.w3.provider.make_request("anvil_dumpState", [])  # type: ignore[arg-type]
        (work / "anvil-state.json").write_text(
            json.dumps({"anvil_url": info.get("anvil_url"), "state": state.get("result")}) + "\n"
        )
    if not isinstance(store, LocalStore):  # copy everything the audit needs into a local store
        local = LocalStore(work / "store", fsync=False)
        for cid in _referenced_cids(ledger, genesis):
            if store.has(cid):
                local.put(store.get(cid))
    profile = DevnetProfile(
        chain="embedded" if config.chain == "embedded" else "anvil",
        rpc_url=None if config.chain == "embedded" else info.get("anvil_url"),
        state_dir=Path(".") if config.chain == "embedded" else None,  # relative to the profile
        chain_id=ledger.chain_id,
        contract=ledger.address,
        deployment_block=ledger.from_block,
        store="local",
        store_dir=Path("store"),
        keystore_dir=Path("keystores"),
        wallets=tuple(ProfileWallet(name=r.name, address=r.address) for r in roles),
        genesis_cid=genesis.cid,
        genesis_digest=genesis.digest,
        protocol=2 if isinstance(ledger, LedgerV2) else 1,
    )
    save_profile(profile, work / "profile.json")


def _referenced_cids(ledger: Ledger | LedgerV2, genesis: Genesis) -> list[str]:
    """The content an audit of the run reads: on v1 every CID an event names; on v2 the
    genesis model and each final result's model and manifest (payloads and forward windows
    are in calldata; a vote for another result is judged by its hash). Not the CIDs of
    results nobody finalized: a Sybil's forged CIDs were never stored, and js-ipfs waits its
    whole block timeout (5 s) for each block it does not have, offline or not."""
    cids = [genesis.cid]
    events = ledger.events()
    if isinstance(ledger, LedgerV2):
        final = {(e.round, e.result_hash) for e in events if isinstance(e, Finalized)}
        events = [
            e for e in events if isinstance(e, Attested) and (e.round, e.result_hash) in final
        ]
    for e in events:
        cids.extend(e.cids())
    return list(dict.fromkeys(cids))

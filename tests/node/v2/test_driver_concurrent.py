"""`RoundDriverV2`'s concurrent mode on a real anvil: the nodes of a phase step on threads while
the driver mines, and the rounds merge exactly as the one-after-another run of the same
federation (same deployment, same salts: `SeededSalts`). Also: anvil's clock stays where the
driver put it however long a phase takes, and the progress callback counts each phase.

Both runs start from one anvil snapshot, so the deployment (address, t0) is the same. The
manifest names where each input landed (block number, log index), and the concurrent mode
packs them into fewer blocks: manifests are compared without those positions (and without
the base's manifest CID, which hashes the previous round's positions); the merged weights,
decisions, seed and settlement table are compared whole.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3.exceptions import TransactionNotFound

from flchain.devnet.anvil import AnvilControl, AnvilProcess
from flchain.ledger import ChainConfigError, EmbeddedBackend, RpcBackend
from flchain.protocol.machine import Phase
from flchain.protocol.record import RoundRecordV2
from flchain.replay.v2 import replay_round_v2
from flchain.storage import LocalStore
from flchain.testing.driver import ETHER, PhaseProgress, RoundDriverV2, RoundPlanV2

pytestmark = pytest.mark.anvil

NODES = 6
ROUNDS = 2
SALT_SEED = b"test_driver_concurrent"


@pytest.fixture
def chain(anvil: AnvilProcess) -> Iterator[RpcBackend]:
    backend = RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)
    snapshot = backend.snapshot()
    yield backend
    backend.revert(snapshot)


def _play(
    backend: RpcBackend, tmp: Path, workers: int, progress: list[PhaseProgress] | None = None
) -> tuple[RoundDriverV2, list[RoundRecordV2], list[bytes]]:
    driver = RoundDriverV2.deploy(
        backend, LocalStore(tmp, fsync=False), NODES, salt_seed=SALT_SEED, workers=workers,
        progress=None if progress is None else progress.append,
    )  # fmt: skip
    records = []
    for r in range(ROUNDS):
        withheld = [driver.addresses[1]] if r == 1 else []
        outcome = driver.play_round(r, RoundPlanV2(withheld=withheld))
        assert outcome.failures == []  # a lost finalization race is named and done
        records.append(outcome.record)
    driver.step_phase(ROUNDS, Phase.COMMIT)  # settles the last round and slashes the withholder
    finals = [driver.gov.round_view(r).final_result for r in range(ROUNDS)]
    return driver, records, finals


WHERE = {"block_number", "log_index"}


def _merge_view(record: RoundRecordV2) -> dict[str, Any]:
    """What the merge reads of a record, without where in the chain each event landed."""
    reveals = sorted((r.model_dump(exclude=WHERE) for r in record.reveals), key=lambda r: r["node"])
    view = record.model_dump(exclude={"reveals", "beacon_posts", "attestations", "finalized"})
    view["base"].pop("manifest_cid")
    view["reveals"] = reveals
    view["committed"] = set(view["committed"])  # arrival order; the merge sorts it (§15)
    view["beacon_signatures"] = {p.signature for p in record.beacon_posts}
    return view


def _positionless(manifest: bytes) -> Any:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in WHERE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    out = strip(json.loads(manifest))
    out["base"].pop("manifest_cid")
    return out


def test_concurrent_rounds_merge_exactly_as_sequential_ones(
    chain: RpcBackend, tmp_path: Path
) -> None:
    snapshot = chain.snapshot()
    seq, seq_records, seq_finals = _play(chain, tmp_path / "seq", workers=1)
    seq_merges = [replay_round_v2(seq.gov, seq.store, r).result for r in range(ROUNDS)]
    seq_withholder = seq.gov.node_view(seq.addresses[1])
    seq_blocks = chain.w3.eth.block_number - seq.gov.from_block
    chain.revert(snapshot)

    progress: list[PhaseProgress] = []
    con, con_records, con_finals = _play(chain, tmp_path / "con", workers=NODES, progress=progress)
    con_merges = [replay_round_v2(con.gov, con.store, r).result for r in range(ROUNDS)]

    assert con.gov.address == seq.gov.address
    assert all(f != bytes(32) for f in seq_finals + con_finals)
    for s, c in zip(seq_records, con_records, strict=True):
        assert _merge_view(c) == _merge_view(s)
        assert len(c.reveals) == len(s.reveals) > 0
    for s, c, final in zip(seq_merges, con_merges, con_finals, strict=True):
        assert c.result_hash == final  # what the concurrent nodes finalized is the replay's
        assert c.merged_weights == s.merged_weights
        assert c.merged_digest == s.merged_digest
        assert (c.decisions, c.directives, c.penalised) == (s.decisions, s.directives, s.penalised)
        assert c.settlement == s.settlement
        assert (c.seed.value, c.seed.salts_hash, c.seed.randomness) == (
            s.seed.value, s.seed.salts_hash, s.seed.randomness,
        )  # fmt: skip
        assert _positionless(c.manifest) == _positionless(s.manifest)
    assert con.gov.node_view(con.addresses[1]) == seq_withholder  # slashed in both
    assert chain.w3.eth.block_number - con.gov.from_block < seq_blocks  # batched

    last = {(p.round, p.phase): p for p in progress}
    commit = last[(0, Phase.COMMIT)]
    assert (commit.stepped, commit.acted, commit.total) == (NODES, NODES, NODES)
    attest = last[(1, Phase.ATTEST)]
    assert (attest.stepped, attest.acted) == (NODES, NODES)
    assert attest.eta_s == 0.0
    assert "6 attested of 6" in attest.line()


def test_the_clock_stays_where_the_driver_put_it(chain: RpcBackend, tmp_path: Path) -> None:
    driver = RoundDriverV2.deploy(chain, LocalStore(tmp_path, fsync=False), 2, workers=2)
    driver.goto(0, Phase.COMMIT)
    before = chain.latest_timestamp()
    time.sleep(2.2)
    driver.step_phase(0, Phase.COMMIT)  # mines blocks, none of them later in chain time
    assert chain.latest_timestamp() == before
    assert driver.gov.phase() == (0, Phase.COMMIT)
    assert AnvilControl(chain).pending() == 0


def test_concurrency_needs_an_anvil_the_driver_mines(tmp_path: Path) -> None:
    with pytest.raises(ChainConfigError, match="needs an anvil"):
        RoundDriverV2.deploy(EmbeddedBackend(), LocalStore(tmp_path, fsync=False), 2, workers=2)


def test_a_receipt_served_late_is_still_ours(
    chain: RpcBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Injected fault: the node counts the wallet's nonce as used before it serves the receipt
    # (anvil under load). The sender used to take the nonce for another transaction's, send
    # the call again and be refused (`AlreadyRegistered` for its own registration).
    driver = RoundDriverV2.deploy(chain, LocalStore(tmp_path, fsync=False), 1)
    newcomer = Account.create()
    chain.fund(newcomer.address, 10 * ETHER)
    real = chain.w3.eth.get_transaction_receipt
    late = [2]

    def served_late(tx_hash: Any) -> Any:
        if late[0]:
            late[0] -= 1
            raise TransactionNotFound("injected: not served yet")
        return real(tx_hash)

    monkeypatch.setattr(chain.w3.eth, "get_transaction_receipt", served_late)
    driver.gov.with_account(newcomer).register(ETHER)
    assert late == [0]
    assert driver.gov.with_account(newcomer).node_view(newcomer.address).status.name == "ACTIVE"

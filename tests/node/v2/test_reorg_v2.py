"""The v2 node through anvil's own reorgs (`anvil_reorg [depth, []]` replaces the last `depth`
blocks with empty ones): the next step notices, says so, reads the chain again and re-sends
what was lost at the lost transactions' nonces — nothing sent twice, the round still final."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flchain.ledger import RpcBackend
from flchain.ledger.events_v2 import Attested, Committed
from flchain.protocol.machine import Phase
from flchain.storage import LocalStore
from flchain.testing import RoundDriverV2

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def chain(anvil: Any) -> RpcBackend:
    return RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)


def test_a_reorg_after_the_commits_sends_each_commit_again_once(
    chain: RpcBackend, tmp_path: Path
) -> None:
    fed = RoundDriverV2.deploy(chain, LocalStore(tmp_path / "s", fsync=False), 3)
    first = fed.step_phase(0, Phase.COMMIT)
    assert all(r.committed == [0] for r in first.values())
    nonces = {n: int(chain.w3.eth.get_transaction_count(n)) - 1 for n in fed.addresses}
    chain._rpc("anvil_reorg", [3, []])  # the three commit blocks replaced by empty ones
    assert fed.gov.events(Committed, 0) == []
    again = fed.step_phase(0, Phase.COMMIT)
    for report in again.values():
        assert report.reorged == [0] and report.committed == [0]
        assert any(a.startswith("reorg: blocks from ") for a in report.actions)
    for n in fed.addresses:  # re-sent at the lost commit's nonce: a pooled copy cannot land too
        assert int(chain.w3.eth.get_transaction_count(n)) - 1 == nonces[n]
    assert all(r.actions == [] for r in fed.step_phase(0, Phase.COMMIT).values())
    assert sorted(e.node for e in fed.gov.events(Committed, 0)) == sorted(fed.addresses)
    for phase in (Phase.REVEAL, Phase.BEACON, Phase.ATTEST):
        fed.step_phase(0, phase)
    assert fed.record(0).finalized is not None


def test_a_reorg_after_the_votes_sends_each_vote_again_and_finalizes(
    chain: RpcBackend, tmp_path: Path
) -> None:
    fed = RoundDriverV2.deploy(chain, LocalStore(tmp_path / "s", fsync=False), 3)
    for phase in (Phase.COMMIT, Phase.REVEAL, Phase.BEACON):
        fed.step_phase(0, phase)
    before = chain.head()[0] + 1  # the attest window opens with an empty block
    voted = fed.step_phase(0, Phase.ATTEST)
    assert sum(len(r.finalized) for r in voted.values()) == 1
    depth = chain.head()[0] - before  # three votes, the finalization, a settlement after it
    chain._rpc("anvil_reorg", [depth, []])
    assert fed.gov.events(Attested, 0) == [] and fed.record(0).finalized is None
    again = fed.step_phase(0, Phase.ATTEST)
    assert all(r.reorged == [0] and r.attested == [0] for r in again.values())
    assert len(fed.gov.events(Attested, 0)) == 3
    assert fed.record(0).finalized is not None

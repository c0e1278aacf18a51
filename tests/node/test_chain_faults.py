"""The node's path through reorgs and closing windows, on anvil, with the daemon's `NodeRunner`.

Each test deploys a fresh federation (`RoundDriver`, fast perturbed updates, a local store) and
keeps one runner per node for the whole test, as a daemon would. Reorgs are anvil's own:
`anvil_reorg [depth, []]` replaces the last `depth` blocks with empty ones (their transactions
are gone), `anvil_rollback [depth]` removes them. After each, a step must notice it, say so,
rebuild its view of the round from the chain and re-send what was lost — nothing committed,
revealed or attested twice, nothing lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flchain.ledger import Ledger, Phase, RpcBackend
from flchain.node.metrics import NodeMetrics
from flchain.node.runner import NodeRunner, StepReport
from flchain.protocol import Rules
from flchain.storage import LocalStore
from flchain.testing import RoundDriver

pytestmark = pytest.mark.anvil

QUORUM_2 = Rules(roi_min_bps=-10_000, probation_rounds=0, quorum=2)


@pytest.fixture(scope="module")
def chain(anvil: Any) -> RpcBackend:
    return RpcBackend(anvil.url, kind="anvil", expected_chain_id=anvil.chain_id)


@pytest.fixture
def fed(chain: RpcBackend, tmp_path: Path) -> Iterator[tuple[RoundDriver, list[NodeRunner]]]:
    driver = RoundDriver.deploy(
        chain, LocalStore(tmp_path / "store", fsync=False), 3, rules=QUORUM_2
    )
    runners = [driver.runner(node) for node in driver.addresses]
    yield driver, runners
    chain._rpc("evm_setAutomine", [True])


def step_all(runners: list[NodeRunner]) -> list[StepReport]:
    return [r.step() for r in runners]


def events_by_node(gov: Ledger, kind: str, round: int, field: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in gov.events(kind, round):
        key = getattr(event, field)
        counts[key] = counts.get(key, 0) + 1
    return counts


def goto(driver: RoundDriver, round: int, phase: Phase, offset: int = 5) -> None:
    driver.backend.goto(driver.gov.schedule, round, phase, offset)


def test_a_reorg_after_the_commits_is_noticed_and_each_commit_sent_again_once(
    fed: tuple[RoundDriver, list[NodeRunner]], chain: RpcBackend
) -> None:
    driver, runners = fed
    goto(driver, 0, Phase.COMMIT)
    first = step_all(runners)
    assert all(r.committed == [0] for r in first)
    lost_nonce = {
        r.address: int(chain.w3.eth.get_transaction_count(r.address)) - 1 for r in runners
    }
    chain._rpc("anvil_reorg", [3, []])  # the three commit blocks replaced by empty ones
    assert events_by_node(driver.gov, "Committed", 0, "node") == {}

    again = step_all(runners)
    for report in again:
        assert report.reorged == [0]
        assert any(
            a.startswith("reorg: blocks from ") and "commit of round 0" in a for a in report.actions
        )
        assert report.committed == [0]
    for runner in runners:  # re-sent at the lost commit's nonce: a pooled copy cannot be mined too
        assert (
            int(chain.w3.eth.get_transaction_count(runner.address)) - 1
            == lost_nonce[runner.address]
        )
    assert step_all(runners)[0].actions == []  # nothing more to do, nothing noticed twice
    assert events_by_node(driver.gov, "Committed", 0, "node") == {r.address: 1 for r in runners}

    goto(driver, 0, Phase.REVEAL)
    assert all(r.revealed == [0] for r in step_all(runners))
    goto(driver, 0, Phase.CLOSED)
    assert all(r.attested == [0] for r in step_all(runners))
    assert driver.gov.finalized(0) is not None


def test_a_reorg_after_the_reveals_sends_each_reveal_again_once(
    fed: tuple[RoundDriver, list[NodeRunner]], chain: RpcBackend
) -> None:
    driver, runners = fed
    goto(driver, 0, Phase.COMMIT)
    step_all(runners)
    goto(driver, 0, Phase.REVEAL)
    assert all(r.revealed == [0] for r in step_all(runners))
    chain._rpc("anvil_reorg", [3, []])
    assert events_by_node(driver.gov, "Revealed", 0, "node") == {}
    again = step_all(runners)
    assert all(r.reorged == [0] and r.revealed == [0] for r in again)
    assert events_by_node(driver.gov, "Revealed", 0, "node") == {r.address: 1 for r in runners}
    assert events_by_node(driver.gov, "Committed", 0, "node") == {r.address: 1 for r in runners}


def test_a_rollback_of_the_finalizing_attestations_is_attested_and_finalized_again_once(
    fed: tuple[RoundDriver, list[NodeRunner]], chain: RpcBackend
) -> None:
    driver, runners = fed
    goto(driver, 0, Phase.COMMIT)
    step_all(runners)
    goto(driver, 0, Phase.REVEAL)
    step_all(runners)
    goto(driver, 0, Phase.CLOSED)
    assert all(r.attested == [0] for r in step_all(runners))
    assert driver.gov.finalized(0) is not None
    chain._rpc("anvil_rollback", [3])  # the three attestation blocks removed, head goes back
    assert driver.gov.finalized(0) is None and driver.gov.events("RoundFinalized", 0) == []
    again = step_all(runners)
    assert all(r.reorged == [0] and r.attested == [0] for r in again)
    assert events_by_node(driver.gov, "Attested", 0, "attester") == {r.address: 1 for r in runners}
    assert len(driver.gov.events("RoundFinalized", 0)) == 1
    assert driver.gov.finalized(0) is not None


def test_a_reveal_that_can_no_longer_be_mined_in_its_window_is_reported_once(
    fed: tuple[RoundDriver, list[NodeRunner]], chain: RpcBackend
) -> None:
    driver, runners = fed
    goto(driver, 0, Phase.COMMIT)
    step_all(runners)
    # the latest block is the last second of the reveal window: the next one cannot be in it
    chain.set_time(driver.gov.schedule.reveal_end(0) - 1)
    late = runners[0].step()
    assert late.phase == Phase.REVEAL and late.missed == [0] and late.revealed == []
    assert any("missed the reveal of round 0" in a and "deadline" in a for a in late.actions)
    assert runners[0].step().actions == []  # reported once, not retried
    assert driver.gov.events("Revealed", 0) == []


def test_metrics_count_a_round_sent_again_after_a_reorg_once(
    fed: tuple[RoundDriver, list[NodeRunner]], chain: RpcBackend
) -> None:
    """The counters say what happened on-chain: a commit and a reveal a reorg took away and the
    node sent again are one committed and one revealed round, not two."""
    driver, runners = fed
    metrics = NodeMetrics()  # the first node's daemon
    for phase in (Phase.COMMIT, Phase.REVEAL):
        goto(driver, 0, phase)
        metrics.observe_step(step_all(runners)[0])
        chain._rpc("anvil_reorg", [3, []])
        again = step_all(runners)[0]
        assert again.reorged == [0] and (again.committed or again.revealed) == [0]
        metrics.observe_step(again)
    text = metrics.render()
    assert "flchain_node_rounds_committed_total 1.0" in text
    assert "flchain_node_rounds_revealed_total 1.0" in text

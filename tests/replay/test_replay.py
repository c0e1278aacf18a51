"""replay_round / publish_and_attest on the embedded chain with a real LocalStore."""

from __future__ import annotations

from pathlib import Path

import pytest

from flchain.ledger import EmbeddedBackend
from flchain.merge.reasons import Reason
from flchain.protocol import Rules
from flchain.replay import (
    ReplayUnavailable,
    directives_from_manifest,
    publish_and_attest,
    replay_round,
)
from flchain.simulate.adversaries import tamper_shift_weights
from flchain.storage import LocalStore
from flchain.testing import RoundDriver, RoundPlan


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> RoundDriver:
    store = LocalStore(tmp_path_factory.mktemp("replay") / "store", fsync=False)
    # a low similarity threshold puts every node in one cluster, so round 0 assigns directives
    rules = Rules(roi_min_bps=-10_000, probation_rounds=0, similarity_threshold_ppm=0)
    f = RoundDriver.deploy(EmbeddedBackend(), store, 3, rules=rules, seed=3)
    n = f.addresses
    f.play_round(0, RoundPlan(attesters=[n[0]]))
    f.play_round(1, RoundPlan(attesters=[n[0]], withheld=[n[2]]))
    return f


def test_replay_reproduces_the_finalized_result(fed: RoundDriver) -> None:
    rp = replay_round(fed.reader(), fed.store, 0)
    assert rp.record.finalized is not None
    assert (rp.result.merged_digest, rp.result.merged_cid, rp.result.manifest_cid) == (
        rp.record.finalized.digest, rp.record.finalized.cid, rp.record.finalized.manifest_cid,
    )  # fmt: skip
    assert rp.unavailable == () and rp.corrupted == ()
    assert rp.record.base.round == -1


def test_directives_come_from_the_base_manifest_and_are_followed(fed: RoundDriver) -> None:
    zero = replay_round(fed.reader(), fed.store, 0)
    assigned = directives_from_manifest(zero.result.manifest)
    assert len(assigned) == 2  # one cluster of three: all but the best explore
    one = replay_round(fed.reader(), fed.store, 1)
    assert one.inputs is not None and one.inputs.directives == assigned
    reasons = {d.node: d.reason for d in one.result.decisions}
    assert all(reasons[d.node] != Reason.IGNORED_DIRECTIVE for d in assigned)


def test_withheld_payload_is_unavailable_not_dropped(fed: RoundDriver) -> None:
    rp = replay_round(fed.reader(), fed.store, 1)
    withheld = fed.reveals(1)[2]
    assert rp.unavailable == (withheld.cid,)
    decision = next(d for d in rp.result.decisions if d.node == withheld.node)
    assert decision.reason == Reason.CONTENT_UNAVAILABLE
    assert withheld.node not in rp.result.penalised


def test_publish_and_attest_is_idempotent(fed: RoundDriver) -> None:
    n = fed.addresses
    view = fed.reader()
    before = len(view.round_record(0).attestations)
    again = publish_and_attest(fed.reader(), fed.account(n[0]), fed.store, 0)
    assert len(fed.reader().round_record(0).attestations) == before
    assert again.merged_digest == fed.attestation(0, n[0]).merged_digest


def test_tampered_attestation_is_recorded_and_published(fed: RoundDriver) -> None:
    n = fed.addresses
    forged = publish_and_attest(
        fed.reader(), fed.account(n[1]), fed.store, 0, tamper=tamper_shift_weights
    )
    record = fed.reader().round_record(0)
    mine = next(a for a in record.attestations if a.attester == n[1])
    assert mine.merged_digest == forged.merged_digest != record.finalized.digest  # type: ignore[union-attr]
    assert fed.store.has(forged.merged_cid) and fed.store.has(forged.manifest_cid)


def test_missing_base_model_is_unavailable(fed: RoundDriver, tmp_path: Path) -> None:
    with pytest.raises(ReplayUnavailable, match="genesis model"):
        replay_round(fed.reader(), LocalStore(tmp_path / "empty", fsync=False), 0)

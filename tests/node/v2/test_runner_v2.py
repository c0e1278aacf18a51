"""The protocol-v2 node (`NodeRunnerV2`, stepped by the daemon's loop) on FLChainV2, on the
embedded chain and on anvil, with a real LocalStore: a federation round by round, a restart
between commit and reveal, an attestation that fails on purpose, a withholder, a lagging node,
a malformed directive.

Each test deploys its own contract on the module's chain (`RoundDriverV2.deploy`); updates are
`PerturbedUpdates` (valid, fast). Faults are injected on purpose where a test says so.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from flchain.devnet.federation import deterministic_account
from flchain.ledger import Backend, ContractRevert
from flchain.ledger.events_v2 import Collected, Committed, Settled, Slashed, Withdrawn
from flchain.merge.manifest import MANIFEST_KIND, encode_manifest
from flchain.node.daemon import Daemon, runner_for
from flchain.node.errors import CommitmentLost, NodeWithdrawn, NotRegistered
from flchain.node.metrics import NodeMetrics
from flchain.node.runner_v2 import COLLECT_EVERY_ROUNDS, NodeRunnerV2, StepReportV2
from flchain.node.salt import SaltStore
from flchain.node.status import node_status_v2
from flchain.protocol.machine import CommitState, Fault, Phase, Result, RulesV2, Status
from flchain.replay.v2 import replay_round_v2
from flchain.storage import ContentStore, LocalStore
from flchain.storage.cid import Cid, cid_for_bytes, parse_cid
from flchain.storage.errors import IpfsUnavailableError
from flchain.testing.driver import ETHER, RoundDriverV2, RoundPlanV2

ROUNDS = 3


def _store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store", fsync=False)


def _driver(backend: Backend, tmp_path: Path, n: int = 4) -> RoundDriverV2:
    return RoundDriverV2.deploy(backend, _store(tmp_path), n, salts_dir=tmp_path / "salts")


def _daemon_step(metrics: dict[str, NodeMetrics]) -> object:
    """One pass of the daemon's loop (`Daemon.run(max_steps=1)`) per call, with metrics."""

    def step(runner: NodeRunnerV2) -> StepReportV2:
        daemon = Daemon(runner, poll_s=0, metrics=metrics.setdefault(runner.address, NodeMetrics()))
        assert daemon.run(max_steps=1) == 1
        assert isinstance(daemon.last_report, StepReportV2)
        return daemon.last_report

    return step


def test_a_federation_finalizes_every_round_and_every_node_is_paid(
    backend: Backend, tmp_path: Path
) -> None:
    """Four nodes, three rounds, each step through the daemon's loop: every round is final,
    every node settles and its settled earnings rise round over round, it collects once (its
    first settlement; the next collect is `COLLECT_EVERY_ROUNDS` later), nothing fails."""
    assert ROUNDS <= COLLECT_EVERY_ROUNDS
    fed = _driver(backend, tmp_path)
    metrics: dict[str, NodeMetrics] = {}
    paid = {n: [fed.gov.node_view(n).cum_earned] for n in fed.addresses}
    claimed = {n: [fed.gov.node_view(n).claimed] for n in fed.addresses}
    for r in range(ROUNDS):
        out = fed.play_round(r, step=_daemon_step(metrics))  # type: ignore[arg-type]
        assert out.failures == []
        assert out.record.finalized is not None, r
        assert fed.gov.round_view(r).final_result == out.record.finalized.result_hash
        assert {x.node for x in out.record.reveals} == set(fed.addresses)
        for n in fed.addresses:
            paid[n].append(fed.gov.node_view(n).cum_earned)
            claimed[n].append(fed.gov.node_view(n).claimed)
    assert fed.gov.latest().round_plus_one == ROUNDS
    for n, amounts in paid.items():
        assert all(b > a for a, b in itertools.pairwise(amounts[1:])), (n, amounts)
        assert amounts[-1] > 0
        # one collect, of all it had earned then, right after its first settlement; the rest
        # waits on-chain for the schedule
        collects = [e.amount for e in fed.gov.events(Collected) if e.node == n]
        assert len(collects) == 1 and collects[0] == claimed[n][-1] > 0, (n, collects)
        assert claimed[n][-1] in amounts and claimed[n][-1] < amounts[-1], (n, claimed[n])
    for m in metrics.values():
        text = m.render()
        assert f"flchain_node_rounds_committed_total {float(ROUNDS)}" in text
        assert f"flchain_node_rounds_attested_total {float(ROUNDS)}" in text
        assert "flchain_node_collects_total 1.0" in text  # the one collect above
    finalizers = sum(len(r.finalized) for reps in out.reports.values() for r in reps)
    assert finalizers == 1  # once final, nobody sends finalize again


def test_the_daemon_collects_on_its_schedule_and_every_round_once_exiting(
    backend: Backend, tmp_path: Path
) -> None:
    """A node collects after its first settlement, then not again for COLLECT_EVERY_ROUNDS
    rounds (a collect costs ~43 000 gas whatever it pays), and every round once it is exiting:
    nothing it earned is left behind when it withdraws."""
    fed = _driver(backend, tmp_path)
    node = fed.addresses[0]

    def collects() -> list[int]:
        return [e.amount for e in fed.gov.events(Collected) if e.node == node]

    fed.play_round(0)
    fed.play_round(1)
    fed.step_phase(2, Phase.COMMIT)  # round 1 settled by now
    view = fed.gov.node_view(node)
    assert len(collects()) == 1 and view.claimed == collects()[0] > 0
    assert view.cum_earned > view.claimed  # round 1's share waits on-chain for the schedule
    fed.runner(node).request_exit()
    fed.play_round(2)
    fed.step_phase(3, Phase.COMMIT)
    view = fed.gov.node_view(node)
    assert view.status == Status.EXITING
    # round 1's share in round 2's commit window, round 2's (its exit still lets it finish the
    # round) in round 3's: all of it, before it can leave
    assert len(collects()) == 3 and view.claimed == view.cum_earned


def test_the_collect_schedule_is_the_daemons_setting(backend: Backend, tmp_path: Path) -> None:
    """`collect_every_rounds` (the setting `flchain node run` passes to `runner_for`): 1 makes a
    node collect after every settlement, while a node on the default collects once in 3 rounds."""
    fed = _driver(backend, tmp_path)
    eager, default = fed.addresses[1], fed.addresses[0]
    runner = runner_for(
        fed.gov, fed.nodes[1], fed.store, fed.bars_for, data_dir=tmp_path / "data",
        collect_every_rounds=1,
    )  # fmt: skip
    assert isinstance(runner, NodeRunnerV2) and runner.collect_every_rounds == 1
    fed.set_runner(eager, runner)
    for r in range(3):
        fed.play_round(r)
    fed.step_phase(3, Phase.COMMIT)
    collected = {
        n: [e.amount for e in fed.gov.events(Collected) if e.node == n] for n in (eager, default)
    }
    assert len(collected[eager]) == 3 and len(collected[default]) == 1, collected
    view = fed.gov.node_view(eager)
    assert view.claimed == view.cum_earned == sum(collected[eager])
    with pytest.raises(ValueError, match="collect_every_rounds must be ≥ 1"):
        runner_for(
            fed.gov, fed.nodes[1], fed.store, fed.bars_for, data_dir=tmp_path / "data",
            collect_every_rounds=0,
        )  # fmt: skip


def test_the_daemon_picks_the_v2_runner_from_the_ledger(backend: Backend, tmp_path: Path) -> None:
    fed = _driver(backend, tmp_path, n=1)
    runner = runner_for(fed.gov, fed.nodes[0], fed.store, fed.bars_for, data_dir=tmp_path / "data")
    assert isinstance(runner, NodeRunnerV2)
    assert runner.salts.directory is not None
    assert runner.salts.directory.is_relative_to(tmp_path / "data" / "salts")


def test_a_node_restarted_after_commit_reveals(backend: Backend, tmp_path: Path) -> None:
    """The daemon dies after its commit; a new process (a fresh runner, the salt on disk)
    reveals the very update it committed. One whose salt file was lost cannot, says so, and
    is slashed by the others."""
    fed = _driver(backend, tmp_path)
    a, b = fed.addresses[:2]
    fed.step_phase(0, Phase.COMMIT)
    assert all(fed.runner(n).commit_state(0).name == "COMMITTED" for n in fed.addresses)
    fed.set_runner(a, fed.new_runner(a))  # a restart: nothing in memory, salts on disk
    lost = fed.new_runner(b)
    lost.salts = type(lost.salts)(tmp_path / "a wiped data dir")
    fed.set_runner(b, lost)
    reveals = fed.step_phase(0, Phase.REVEAL)
    assert reveals[a].revealed == [0] and reveals[a].failures == []
    assert reveals[b].revealed == [] and [f.error for f in reveals[b].failures] == [
        CommitmentLost.__name__
    ]
    beacon = fed.step_phase(0, Phase.BEACON)
    slashes = [s for rep in beacon.values() for s in rep.slashed]
    assert slashes == [(0, b)]
    fed.step_phase(0, Phase.ATTEST)
    record = fed.record(0)
    assert record.finalized is not None
    assert a in {x.node for x in record.reveals} and b not in {x.node for x in record.reveals}


class ManifestRefusingStore:
    """FAULT INJECTED ON PURPOSE: a store whose writes of merge manifests fail as a dead IPFS
    daemon's do (everything else goes through), so this node's publish-and-attest fails."""

    def __init__(self, inner: ContentStore) -> None:
        self.inner = inner

    def put(self, data: bytes) -> str:
        if f'"kind":"{MANIFEST_KIND}"'.encode() in data:
            raise IpfsUnavailableError("injected fault: the store refuses manifests")
        return self.inner.put(data)

    def put_stream(self, stream: BinaryIO, *, pin: bool = True) -> str:
        return self.inner.put_stream(stream, pin=pin)

    def get(self, cid: str | Cid) -> bytes:
        return self.inner.get(cid)

    def iter_content(self, cid: str | Cid) -> Iterator[bytes]:
        return self.inner.iter_content(cid)

    def has(self, cid: str | Cid) -> bool:
        return self.inner.has(cid)

    def pin(self, cid: str | Cid) -> None:
        self.inner.pin(cid)

    def export_car(self, cid: str | Cid, out: BinaryIO) -> int:
        return self.inner.export_car(cid, out)

    def import_car(self, stream: BinaryIO, *, pin: bool = True) -> list[str]:
        return self.inner.import_car(stream, pin=pin)


def test_a_failed_attestation_does_not_stop_the_next_commit(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fed = _driver(backend, tmp_path)
    a = fed.addresses[0]
    broken = NodeRunnerV2(
        fed.gov, fed.account(a), ManifestRefusingStore(fed.store), fed.bars_for,
        salts=fed.salts(a), beacon=fed.runner(a).beacon, merge_memo=fed.memo,
    )  # fmt: skip
    fed.set_runner(a, broken)
    with caplog.at_level(logging.WARNING, logger="flchain.node"):
        zero = fed.play_round(0)
    attest = [f for rep in zero.reports[a] for f in rep.failures]
    assert [(f.action, f.kind, f.error) for f in attest] == [
        ("attest", "unavailable", "IpfsUnavailableError")
    ]
    assert "attest failed: IpfsUnavailableError: injected fault" in caplog.text
    assert zero.record.finalized is not None  # the other three reach q
    assert a not in {x.node for x in zero.record.attestations}
    one = fed.play_round(1)
    assert [rep.committed for rep in one.reports[a] if rep.committed] == [[1]]
    assert [rep.revealed for rep in one.reports[a] if rep.revealed] == [[1]]
    assert a in {x.node for x in one.record.reveals}


def test_a_vote_on_a_final_round_is_settled_with_it_and_the_next_commit_stays_under_target(
    backend: Backend, tmp_path: Path
) -> None:
    """Four equal stakes, q = ⅔: the third attester finalizes round 0, so the fourth finds it
    final. It votes, then settles round 0 in the same step, which clears its vote. It used to
    settle before voting: the vote stayed pending and its round-1 commit cleared it (59 249 gas
    on anvil, over commit's 55 000). Its round-1 commit is under 55 000 now."""
    fed = _driver(backend, tmp_path)
    last = fed.addresses[3]
    zero = fed.play_round(0)
    assert zero.record.finalized is not None
    assert {x.node for x in zero.record.attestations} == set(fed.addresses)
    (vote,) = [x for x in zero.record.attestations if x.node == last]
    assert vote.result_hash == fed.gov.round_view(0).final_result
    (settled,) = [e for e in fed.gov.events(Settled) if e.node == last]
    assert (vote.block_number, vote.log_index) < (settled.block_number, settled.log_index)
    view = fed.gov.node_view(last)
    assert view.settled_round == 1 and view.last_vote_round == 0  # no vote left pending
    one = fed.play_round(1)
    assert one.failures == []
    (commit,) = [e for e in fed.gov.events(Committed, 1) if e.node == last]
    gas = backend.w3.eth.get_transaction_receipt(commit.tx_hash)["gasUsed"]  # type: ignore[arg-type]
    assert gas <= 55_000, gas


def test_a_withholder_is_slashed_by_an_honest_node(backend: Backend, tmp_path: Path) -> None:
    fed = _driver(backend, tmp_path)
    withholder = fed.addresses[3]
    bond = fed.gov.node_view(withholder).bond
    out = fed.play_round(0, RoundPlanV2(withheld=[withholder]))
    assert withholder not in {x.node for x in out.record.reveals}
    assert out.record.finalized is not None
    slashes = fed.gov.events(Slashed, 0)
    assert [(s.node, s.fault) for s in slashes] == [(withholder, Fault.NO_REVEAL)]
    slash = slashes[0]
    assert slash.beneficiary in fed.addresses[:3] and slash.bounty > 0
    assert fed.gov.node_view(withholder).bond == bond - slash.amount
    assert fed.gov.rules_for_round(0).no_reveal_slash_wei == slash.amount
    again = fed.play_round(1)  # nothing left to slash: nobody tries twice
    assert all(not rep.slashed for reps in again.reports.values() for rep in reps)


def test_a_lagging_node_settles_before_it_commits(backend: Backend, tmp_path: Path) -> None:
    """The first attester of round 0 settles nothing then (round 0 is not final yet) and is
    offline in round 1: in round 2 it lags — the contract refuses its commit — so its step
    settles its leaf of round 1 first, then commits."""
    fed = _driver(backend, tmp_path)
    late = fed.addresses[0]
    fed.play_round(0)
    fed.play_round(1, RoundPlanV2(skip=[late]))
    view = fed.gov.node_view(late)
    assert view.settled_round < view.last_participated_round <= fed.gov.latest().round_plus_one
    fed.goto(2, Phase.COMMIT)
    with pytest.raises(ContractRevert) as refused:
        fed.runner(late).ledger.commit(2, b"\x11" * 32)
    assert refused.value.error_name == "SettlementPending"
    report = fed.step_phase(2, Phase.COMMIT, [late])[late]
    assert report.settled == [1] and report.committed == [2] and report.failures == []
    settled = [e for e in fed.gov.events(Settled) if e.node == late]
    committed = [e for e in fed.gov.events(Committed, 2) if e.node == late]
    assert (settled[-1].block_number, settled[-1].log_index) < (
        committed[0].block_number,
        committed[0].log_index,
    )
    assert fed.gov.node_view(late).claimed > view.claimed


def test_a_malformed_directive_is_refused_with_a_logged_reason(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """FAULT INJECTED ON PURPOSE: three of four nodes attest (and finalize) round 0's honest
    merge with its manifest changed to assign node 1 a directive whose feature set is not on
    the menu. In round 1 node 1 refuses it, says why in its log, and sits the round out; the
    others play on."""
    fed = _driver(backend, tmp_path)
    victim = fed.addresses[1]
    for phase in (Phase.COMMIT, Phase.REVEAL, Phase.BEACON):
        fed.step_phase(0, phase)
    fed.goto(0, Phase.ATTEST)
    honest = replay_round_v2(fed.gov, fed.store, 0).result
    doc = json.loads(honest.manifest)
    doc["directives"] = [
        {"node": victim, "feature_set": "no-such-set", "lookback_scale": 1,
         "learning_rate_ppm": 1_000, "epochs": 1, "init_seed": "7"}
    ]  # fmt: skip
    manifest = encode_manifest(doc)
    assert fed.store.put(manifest) == cid_for_bytes(manifest)
    forged = Result(
        honest.result.merged_digest,
        honest.result.merged_cid,
        parse_cid(cid_for_bytes(manifest)).to_bytes(),
        honest.result.settlement_root,
        honest.result.round_earned,
    )
    fed.store.put(honest.merged_weights)
    for n in fed.addresses[:3]:
        fed.runner(n).ledger.attest(0, forged)
    fed.runner(fed.addresses[3]).ledger.finalize(0, forged)
    assert fed.gov.latest().manifest_cid == forged.manifest_cid

    with caplog.at_level(logging.INFO, logger="flchain.node"):
        step = _daemon_step({})
        reports = fed.step_phase(1, Phase.COMMIT, step=step)  # type: ignore[arg-type]
    assert reports[victim].committed == [] and reports[victim].sat_out == [1]
    assert "refusing the directive of round 0's manifest" in caplog.text
    assert "no-such-set" in caplog.text or "not on the menu" in caplog.text
    others = [n for n in fed.addresses if n != victim]
    assert all(reports[n].committed == [1] for n in others)


def test_wallet_actions_register_exit_withdraw(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The runner's wallet actions, as the CLI calls them: a new wallet registers with the
    deployment's minBond and takes part from the next round; an exiting node finishes its
    round, waits out the exit delay and withdraws its whole bond; a withdrawn wallet's daemon
    stops cleanly, a never-registered wallet's with `NotRegistered`."""
    fed = _driver(backend, tmp_path)
    leaver = fed.addresses[3]
    fed.play_round(0)
    status = node_status_v2(fed.gov, leaver.lower(), 0)
    assert (status["node"], status["status"], status["commitment"]) == (
        leaver,
        "ACTIVE",
        "REVEALED",
    )
    assert status["reveal_outcome"] == "ACCEPTED" and status["attested"] and status["finalized"]
    assert status["settled_round"] == 0 and status["claimed_wei"] == status["earned_wei"] > 0
    newcomer = deterministic_account("newcomer", 99)  # from round 1 on (never steps here)
    backend.fund(newcomer.address, 10 * ETHER)
    joiner = NodeRunnerV2(fed.gov, newcomer, fed.store, fed.bars_for, salts=SaltStore(None))
    joiner.register()
    view = fed.gov.node_view(newcomer.address)
    assert view.status == Status.ACTIVE and view.bond == fed.gov.deployment().min_bond
    assert (view.stake_this_round, view.stake_next_round) == (0, view.bond)
    with pytest.raises(ContractRevert) as nothing:
        joiner.collect()
    assert nothing.value.error_name == "NothingOwed"
    bond = fed.gov.node_view(leaver).bond
    fed.runner(leaver).request_exit()
    with pytest.raises(ContractRevert) as early:
        fed.runner(leaver).withdraw()
    assert early.value.error_name == "WithdrawalTooEarly"
    one = fed.play_round(1)
    assert [r.committed for r in one.reports[leaver] if r.committed] == []  # stake 0 from r+1
    assert one.record.finalized is not None
    fed.play_round(2)
    fed.goto(3, Phase.COMMIT)
    out = fed.runner(leaver).withdraw()
    assert [e.amount for e in out.events if isinstance(e, Withdrawn)] == [bond]
    with pytest.raises(NodeWithdrawn):
        fed.runner(leaver).step()
    # the daemon stops cleanly (exit 0: a supervisor's restart-on-failure must not loop on it)
    with caplog.at_level(logging.INFO, logger="flchain.node"):
        assert Daemon(fed.runner(leaver), poll_s=0).run(max_steps=5) == 0
    assert f"{leaver} withdrew its bond from {fed.gov.address}: nothing left to do" in caplog.text
    assert "stopped" in caplog.text
    stranger = deterministic_account("stranger", 98)
    with pytest.raises(NotRegistered) as never:  # never registered: still an error
        Daemon(
            NodeRunnerV2(fed.gov, stranger, fed.store, fed.bars_for, salts=SaltStore(None)),
            poll_s=0,
        ).run(max_steps=1)
    assert not isinstance(never.value, NodeWithdrawn)


def test_a_claim_outside_the_band_commits_nothing(backend: Backend, tmp_path: Path) -> None:
    """With an ROI band no update of this genesis reaches (claims here are about −30 %), every
    node sits the round out with the reason in its report, once, and nothing is committed."""
    band = RulesV2(roi_min_bps=5_000, probation_rounds=0, emission_wei=ETHER, notice_rounds=1)
    fed = RoundDriverV2.deploy(backend, _store(tmp_path), 2, rules=band)
    first = fed.step_phase(0, Phase.COMMIT)
    again = fed.step_phase(0, Phase.COMMIT)
    for n in fed.addresses:
        assert first[n].sat_out == [0] and first[n].committed == [] and first[n].failures == []
        assert any("outside the round's ROI band [5000, 20000]" in a for a in first[n].actions)
        assert again[n].sat_out == [] and again[n].actions == []
        assert fed.runner(n).commit_state(0) == CommitState.NONE

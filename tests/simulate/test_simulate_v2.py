"""`flchain simulate` on protocol v2, 20 nodes × 3 days with every adversary, on the embedded
chain: the honest federation finalizes every round, honest bonds are never slashed and their
rewards are paid, every cheater's bond falls by exactly its slashes, and each attack is refused
by the rule meant for it. Every figure is checked against the chain, rebuilt from the run
folder's journal (`replay_journal`), not against the table.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from flchain.config import load_profile
from flchain.devnet.federation import (
    DEVNET_NO_REVEAL_SLASH_WEI,
    DEVNET_PENALTY_SLASH_WEI,
    DEVNET_WRONG_VOTE_SLASH_WEI,
)
from flchain.devnet.journal import replay_journal
from flchain.ledger import LedgerV2
from flchain.ledger.events_v2 import (
    Attested,
    BondAdded,
    Collected,
    Finalized,
    Registered,
    Slashed,
    Withdrawn,
)
from flchain.protocol.machine import PPM, Fault
from flchain.simulate import SimulationConfig, SimulationResult, parse_adversaries, run_simulation
from flchain.simulate.adversaries import FLOOD_SIZE, V2_ADVERSARIES
from flchain.simulate.config import HONEST_SHARE_PPM, SimulationError

NODES, DAYS = 20, 3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("sim-v2") / "run"
    config = SimulationConfig(nodes=NODES, days=DAYS, adversaries=parse_adversaries("all"))
    return run_simulation(config, out, progress=False)


@pytest.fixture(scope="module")
def chain(run: SimulationResult) -> LedgerV2:
    """The run's chain rebuilt from its journal: what the assertions read."""
    profile = load_profile(Path(run.run_dir) / "profile.json")
    assert profile.protocol == 2 and profile.state_dir is not None
    backend = replay_journal(profile.state_dir / "chain.jsonl")
    return LedgerV2.connect(backend, profile.contract, from_block=profile.deployment_block)


def wallets(run: SimulationResult, kind: str) -> list[str]:
    return [r.address for r in run.roles if r.behaviour == kind]


def slashes(chain: LedgerV2, node: str) -> list[Slashed]:
    return [e for e in chain.events(Slashed) if e.node == node]


def answers(run: SimulationResult, kind: str) -> Counter[str]:
    (report,) = [a for a in run.adversary_reports if a.kind == kind]
    return Counter(report.answers)


def test_the_honest_federation_finalizes_every_round_with_at_least_70_percent(
    run: SimulationResult, chain: LedgerV2
) -> None:
    honest = set(wallets(run, "honest"))
    assert len(honest) == NODES - 8  # the v1 faults take 8 slots of --nodes
    finals = {e.round: e for e in chain.events(Finalized)}
    assert sorted(finals) == list(range(DAYS))
    for r, final in finals.items():
        votes = [a for a in chain.events(Attested, r) if a.node in honest]
        assert votes and all(a.result_hash == final.result_hash for a in votes)
        honest_weight = sum(a.weight for a in votes)
        assert honest_weight * PPM >= HONEST_SHARE_PPM * final.total_stake
    assert [row.finality for row in run.rounds] == ["final"] * DAYS
    assert run.stake is not None and run.stake.min_honest_ppm >= HONEST_SHARE_PPM


def test_honest_bonds_are_never_slashed_and_their_rewards_are_paid(
    run: SimulationResult, chain: LedgerV2
) -> None:
    paid = Counter[str]()
    for e in chain.events(Collected):
        paid[e.node] += e.amount
    for node in wallets(run, "honest"):
        view = chain.node_view(node)
        (registered,) = [e for e in chain.events(Registered) if e.node == node]
        assert slashes(chain, node) == []
        assert view.bond == registered.bond
        assert paid[node] > 0 and view.claimed == paid[node] == view.cum_earned
    # what the table says is what the chain says
    table = {b.address: b for b in run.balances}
    for node in wallets(run, "honest"):
        assert table[node].earned == paid[node] and table[node].slashed == 0


def test_every_cheaters_bond_falls_by_exactly_its_slashes(
    run: SimulationResult, chain: LedgerV2
) -> None:
    cheaters = [r.address for r in run.roles if r.behaviour != "honest"]
    added, withdrawn = Counter[str](), Counter[str]()
    for e in chain.events(BondAdded):
        added[e.node] += e.amount
    for w in chain.events(Withdrawn):
        withdrawn[w.node] += w.amount
    start = {e.node: e.bond for e in chain.events(Registered)}
    for node in cheaters:
        slashed = sum(s.amount for s in slashes(chain, node))
        end = chain.node_view(node).bond
        assert end == start[node] + added[node] - slashed - withdrawn[node], node
    slashed_kinds = {
        "inflated-roi": Fault.PENALTY,
        "nan-weights": Fault.PENALTY,
        "no-reveal": Fault.NO_REVEAL,
        "wrong-attestation": Fault.WRONG_VOTE,
        "sybil": Fault.WRONG_VOTE,
        "flooder": Fault.PENALTY,
        "exit-before-penalty": Fault.PENALTY,
        "oversized-payload": Fault.NO_REVEAL,
        "dag-pb": Fault.PENALTY,
        "copier": Fault.PENALTY,
    }
    amount = {
        Fault.PENALTY: DEVNET_PENALTY_SLASH_WEI,
        Fault.NO_REVEAL: DEVNET_NO_REVEAL_SLASH_WEI,
        Fault.WRONG_VOTE: DEVNET_WRONG_VOTE_SLASH_WEI,
    }
    for kind, fault in slashed_kinds.items():
        for node in wallets(run, kind):
            faults = slashes(chain, node)
            assert faults, (kind, node)
            assert {s.fault for s in faults} == {fault}, (kind, node)
            assert all(s.amount == amount[fault] for s in faults), (kind, node)
    for kind in ("abnormal-roi", "copycat", "timed-finalizer"):
        for node in wallets(run, kind):
            assert slashes(chain, node) == [], kind
    # the seed grinder pays for each reveal it withheld, and no more
    (grinder,) = wallets(run, "seed-grinder")
    withheld = answers(run, "seed-grinder")["withheld"]
    assert [s.fault for s in slashes(chain, grinder)] == [Fault.NO_REVEAL] * withheld


def test_each_attack_is_refused_by_the_rule_meant_for_it(
    run: SimulationResult, chain: LedgerV2
) -> None:
    assert {a.kind for a in run.adversary_reports} == set(V2_ADVERSARIES)
    sybil = answers(run, "sybil")
    assert sybil["NotInFrozenSet"] == 3  # registered during round 0: not in its frozen set
    assert sybil["BelowFinality"] == DAYS  # round 0 (no stake at all) and every later one
    forged = {a.result_hash for a in chain.events(Attested) if a.node in wallets(run, "sybil")}
    assert forged and not forged & {f.result_hash for f in chain.events(Finalized)}

    flood = answers(run, "flooder")
    assert len(wallets(run, "flooder")) == FLOOD_SIZE > 64
    assert flood["merge: not_safetensors"] == FLOOD_SIZE
    assert flood["NotInFrozenSet"] == 1  # slashed below minBond: out of the frozen set

    assert answers(run, "oversized-payload")["PayloadTooLarge"] == DAYS // 2 + DAYS % 2
    assert answers(run, "dag-pb")["merge: not_safetensors"] >= 1
    copier = answers(run, "copier")  # accepted on-chain, penalised by the merge: then ineligible
    assert copier["ACCEPTED"] == copier["merge: unbound_update"] == 1
    assert copier["REJECTED_INELIGIBLE"] == DAYS - 1
    assert answers(run, "timed-finalizer")["NotInAttestWindow"] == 2 * (DAYS - 1)
    assert answers(run, "rushing-governor")["NoticeTooShort"] == DAYS
    assert chain.rules_version_count() == 1  # no rule change went through

    leave = answers(run, "exit-before-penalty")
    assert leave["WithdrawalTooEarly"] >= 1 and leave["SettlementPending"] == 1
    (leaver,) = wallets(run, "exit-before-penalty")
    (out,) = [w for w in chain.events(Withdrawn) if w.node == leaver]
    assert out.amount == 10**18 - DEVNET_PENALTY_SLASH_WEI  # the penalty was not escaped

    grinder = answers(run, "seed-grinder")
    assert grinder["steered"] == 0 and grinder["not steered (beacon mixed in)"] >= 1


def test_the_run_states_the_split_and_the_table_shows_every_attack(run: SimulationResult) -> None:
    text = (Path(run.run_dir) / "table.txt").read_text()
    assert "stake: honest nodes" in text and "attacks (protocol v2)" in text
    for kind in V2_ADVERSARIES:
        assert kind in text
    summary = json.loads((Path(run.run_dir) / "summary.json").read_text())
    assert summary["protocol"] == 2 and len(summary["balances"]) == len(run.roles)
    assert (Path(run.run_dir) / "plot.png").read_bytes()[:4] == b"\x89PNG"


def test_a_v2_attack_on_protocol_v1_is_refused_with_one_line() -> None:
    with pytest.raises(SimulationError, match="a protocol v2 attack"):
        parse_adversaries("sybil", protocol=1)

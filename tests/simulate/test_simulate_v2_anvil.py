"""`flchain simulate` on protocol v2 on a real anvil: the attacks that need no node slot, caught
by their rules, every round final, bonds and rewards as the chain reported them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from flchain.devnet.federation import DEVNET_WRONG_VOTE_SLASH_WEI
from flchain.simulate import SimulationConfig, parse_adversaries, run_simulation

ATTACKS = "sybil,oversized-payload,copier,timed-finalizer,rushing-governor"

pytestmark = [pytest.mark.slow, pytest.mark.anvil]


def test_v2_attacks_on_anvil(tmp_path: Path) -> None:
    config = SimulationConfig(
        nodes=3, days=2, chain="anvil", adversaries=parse_adversaries(ATTACKS)
    )
    result = run_simulation(config, tmp_path / "run", progress=False)
    assert [r.finality for r in result.rounds] == ["final", "final"]
    assert (tmp_path / "run" / "anvil-state.json").is_file()
    answers = {a.kind: Counter(a.answers) for a in result.adversary_reports}
    assert answers["sybil"]["NotInFrozenSet"] == 3 and answers["sybil"]["BelowFinality"] == 2
    assert answers["oversized-payload"]["PayloadTooLarge"] == 1
    assert answers["copier"]["merge: unbound_update"] == 1  # then ineligible (penalty cooldown)
    assert answers["copier"]["REJECTED_INELIGIBLE"] == 1
    assert answers["timed-finalizer"]["NotInAttestWindow"] == 2
    assert answers["rushing-governor"]["NoticeTooShort"] == 2
    balances = {b.address: b for b in result.balances}
    for role in result.roles:
        b = balances[role.address]
        assert b.bond_end == b.bond_start + b.added - b.slashed - b.withdrawn
        if role.behaviour == "honest":
            assert b.slashed == 0 and b.earned > 0
        if role.behaviour == "sybil":  # its round-1 vote, applied at the closing settlement
            assert b.slashed == DEVNET_WRONG_VOTE_SLASH_WEI

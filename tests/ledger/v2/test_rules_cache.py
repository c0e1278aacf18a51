"""`LedgerV2.rules_for_round` keeps the rules of a started round (they can no longer change) and
reads a round that has not started every time: a version scheduled or cancelled for it shows at
once. A rewind drops what was kept."""

from __future__ import annotations

from dataclasses import replace

from _twin import FEE_PPM, Twin

from flchain.ledger import Backend
from flchain.ledger.backends import FROZEN_VIEWS
from flchain.protocol.machine import Phase


def test_started_rounds_rules_are_kept_and_pending_ones_read_each_time(backend: Backend) -> None:
    twin = Twin.deploy(backend)
    g = twin.gov
    kept = backend.shared((*FROZEN_VIEWS, "rules", g.address), dict)
    assert g.rules_for_round(0).fee_ppm == FEE_PPM
    assert kept == {}  # before round 0 starts nothing is frozen
    twin.goto(0, Phase.COMMIT)
    first = g.rules_for_round(0)
    assert g.rules_for_round(3) == first and set(kept) == {0}
    later = replace(first, effective_round=3, fee_ppm=2 * FEE_PPM)
    twin.send(g, "schedule_rules", later)
    assert g.rules_for_round(3) == later  # not started: read again, not the rules seen before
    twin.send(g, "cancel_rules")
    assert g.rules_for_round(3) == first
    twin.send(g, "schedule_rules", later)
    twin.goto(3, Phase.COMMIT)
    assert g.rules_for_round(3) == later and g.rules_for_round(0) == first
    assert set(kept) == {0, 3}
    backend.forget_blocks_from(g.from_block)  # what the event index and a runner do on a rewind
    assert backend.shared((*FROZEN_VIEWS, "rules", g.address), dict) == {}
    assert g.rules_for_round(3) == later

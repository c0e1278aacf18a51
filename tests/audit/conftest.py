"""One federation on the embedded chain and a real LocalStore, played once per module with a
documented fault in most rounds (every fault is deliberate and named here):

    round 0  honest; node 0 attests (quorum 1)                           -> verified
    round 1  node 0 attests honestly and finalizes; node 1 attests a
             result with shifted weights (tamper_shift_weights)          -> conflict, node 1 named
    round 2  quorum 2 from here (scheduled in round 0); nodes 2 and 3
             collude on shifted weights and finalize them                -> mismatch
    round 3  node 0 claims its true ROI + 700 bps; nodes 1 and 2 merge
             without verifying claims (tamper_accept_any_claim)          -> mismatch, node 0 named
    round 4  honest, nodes 0 and 1 attest                                -> verified (tests then
             damage copies of the store: corrupt / delete a payload)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flchain.audit.source import SnapshotLedger
from flchain.ledger import EmbeddedBackend
from flchain.simulate.adversaries import tamper_accept_any_claim, tamper_shift_weights
from flchain.storage import LocalStore
from flchain.testing import RoundDriver, RoundPlan

FALSE_CLAIM_BPS = 700


@dataclass
class Played:
    fed: RoundDriver
    store_dir: Path

    @property
    def nodes(self) -> list[str]:
        return self.fed.addresses

    def snapshot_ledger(self) -> SnapshotLedger:
        return self.fed.reader()


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    store_dir = tmp_path_factory.mktemp("audit") / "store"
    fed = RoundDriver.deploy(EmbeddedBackend(), LocalStore(store_dir, fsync=False), 4, seed=7)
    n = fed.addresses
    base_rules = fed.gov.rules_from_events(0)
    fed.play_round(0, RoundPlan(attesters=[n[0]]))
    fed.gov.schedule_rules(2, base_rules.model_copy(update={"quorum": 2}))
    fed.play_round(1, RoundPlan(attesters=[n[0], n[1]], tampers={n[1]: tamper_shift_weights}))
    fed.play_round(
        2,
        RoundPlan(
            attesters=[n[2], n[3]], tampers={n[2]: tamper_shift_weights, n[3]: tamper_shift_weights}
        ),
    )
    fed.play_round(
        3,
        RoundPlan(
            attesters=[n[1], n[2]],
            claim_offsets={n[0]: FALSE_CLAIM_BPS},
            tampers={n[1]: tamper_accept_any_claim, n[2]: tamper_accept_any_claim},
        ),
    )
    fed.play_round(4, RoundPlan(attesters=[n[0], n[1]]))
    yield Played(fed, store_dir)

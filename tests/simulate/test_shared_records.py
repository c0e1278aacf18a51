"""The N nodes of one process share what their round records are made of: every facade on one
binding (`LedgerV2.with_account`) gets records equal to a record built apart, whose reveals,
registrations, beacon posts and attestations are the same objects — so N nodes that each keep
the record of the round they replayed hold N² pointers, not N² reveals."""

from __future__ import annotations

from pathlib import Path

from flchain.ledger import EmbeddedBackend, history_v2
from flchain.protocol.machine import Phase
from flchain.storage import LocalStore
from flchain.testing.driver import RoundDriverV2

NODES = 4


def test_records_of_one_binding_share_their_elements(tmp_path: Path) -> None:
    driver = RoundDriverV2.deploy(EmbeddedBackend(), LocalStore(tmp_path, fsync=False), NODES)
    driver.play_round(0)
    gov = driver.gov
    a, b = (gov.with_account(driver.account(n)).round_record_v2(0) for n in driver.addresses[:2])
    apart = history_v2.compute_round_record_v2(
        gov, 0, chain_id=gov.chain_id, contract=gov.address, payloads=gov.payloads.read
    )
    assert a == b == apart
    assert len(a.reveals) == NODES and len(a.attestations) == NODES
    for name in ("nodes", "reveals", "beacon_posts", "attestations"):
        mine, theirs = getattr(a, name), getattr(b, name)
        assert all(x is y for x, y in zip(mine, theirs, strict=True)), name
        assert not any(x is y for x, y in zip(mine, getattr(apart, name), strict=True)), name
    # once the chain moved on (the next round opened and settled), still equal and shared
    driver.step_phase(1, Phase.COMMIT)
    c = gov.with_account(driver.account(driver.addresses[2])).round_record_v2(0)
    assert c == a and all(x is y for x, y in zip(c.reveals, a.reveals, strict=True))

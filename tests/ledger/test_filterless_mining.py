"""The embedded chain's eth-tester mines without building a block for filters nobody has, and
still feeds a block or log filter once one exists."""

from __future__ import annotations

from typing import Any

import pytest

from flchain.ledger.backends import EmbeddedBackend


def test_mining_without_filters_builds_no_block_for_them(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = EmbeddedBackend()
    tester = backend.tester

    def no_block(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a block was built for filters nobody has")

    before = backend.w3.eth.block_number
    monkeypatch.setattr(tester, "get_block_by_hash", no_block)
    hashes = tester.mine_blocks(3)
    assert len(hashes) == 3 and len(set(hashes)) == 3
    assert backend.w3.eth.block_number == before + 3
    monkeypatch.undo()
    assert [tester.get_block_by_number(before + 1 + i)["hash"] for i in range(3)] == hashes


def test_a_block_filter_and_a_log_filter_still_see_every_block() -> None:
    backend = EmbeddedBackend()
    tester = backend.tester
    blocks = tester.create_block_filter()
    logs = tester.create_log_filter()
    mined = tester.mine_blocks(2)
    sender = tester.get_accounts()[0]
    tx = tester.send_transaction(
        {"from": sender, "to": tester.get_accounts()[1], "value": 1, "gas": 21_000}
    )
    assert tester.get_transaction_receipt(tx)["status"] == 1
    seen = tester.get_only_filter_changes(blocks)
    assert list(seen[:2]) == list(mined) and len(seen) == 3
    assert list(tester.get_only_filter_changes(logs)) == []  # a plain transfer logs nothing

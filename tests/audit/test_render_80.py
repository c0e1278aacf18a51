"""The terminal report on an 80-column terminal: nothing longer than 80, no reason code cut.

Rendered for the module federation's five rounds (verified, conflict, two mismatches, one of
them a decision the finalized manifest took differently) and for a round whose payload was
deleted from a copy of the store (unavailable content). Reason codes appear as the shared short
labels (`flchain.display`) with a legend; the only '…' allowed is inside a deliberately
shortened hex value or CID; the full addresses stay in --json.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from flchain.audit.core import audit
from flchain.audit.render import print_report, report_json, short_address
from flchain.audit.report import AuditReport
from flchain.display import REASON_LABELS, reason_label
from flchain.storage import LocalStore

from .conftest import Played

#: A shortened value: hex (0x…) or a base32 CID, an ellipsis, then its tail.
SHORTENED = re.compile(r"^(0x[0-9a-fA-F]+|baf[a-z2-7]+)…[0-9a-zA-Z]+$")


def rendered(report: AuditReport) -> str:
    buf = io.StringIO()
    print_report(report, Console(file=buf, width=80, color_system=None))
    return buf.getvalue()


def check_fits(text: str, report: AuditReport) -> None:
    lines = text.splitlines()
    too_long = [line for line in lines if len(line) > 80]
    assert too_long == [], too_long
    for token in re.findall(r"[^\s{};,]*…[^\s{};,%]*", text):
        assert SHORTENED.match(token), f"cut value {token!r} in:\n{text}"
    words = set(re.findall(r"[\w.-]+", text))
    for a in report.rounds:
        for row in a.inputs:
            assert short_address(row.node) in text
            for code in (row.reason, row.finalized_reason):
                if code is None:
                    continue
                assert reason_label(code) in words, (code, text)
                if code in REASON_LABELS:  # its legend line names it in full
                    legend = rf"^{re.escape(REASON_LABELS[code])}\s+{re.escape(code)}\s*$"
                    assert re.search(legend, text, re.M), (code, text)
        for att in a.attesters:
            assert short_address(att.attester) in text


@pytest.fixture(scope="module")
def whole(played: Played) -> AuditReport:
    return audit(played.snapshot_ledger(), played.fed.store)


def test_whole_history_fits_80_columns(whole: AuditReport) -> None:
    text = rendered(whole)
    check_fits(text, whole)
    # the faulty round's differing decision is readable: roi-nr by the replay, accepted finalized
    liar_row = next(r for r in whole.rounds[3].inputs if r.reason == "roi_not_reproduced")
    row_line = next(line for line in text.splitlines() if short_address(liar_row.node) in line
                    and "roi-nr" in line)  # fmt: skip
    assert "accepted" in row_line
    assert "flchain audit" in text and whole.contract in text


def test_full_addresses_stay_in_json(whole: AuditReport) -> None:
    doc = json.loads(report_json(whole))
    nodes = {r["node"] for a in doc["rounds"] for r in a["inputs"]}
    assert nodes and all(re.fullmatch(r"0x[0-9a-fA-F]{40}", n) for n in nodes)
    assert "roi_not_reproduced" in {r["reason"] for a in doc["rounds"] for r in a["inputs"]}


def test_unavailable_content_fits_80_columns(played: Played, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    shutil.copytree(played.store_dir, store_dir)
    victim = played.fed.reveals(4)[1]
    (store_dir / "blocks" / victim.cid[-2:] / victim.cid).unlink()
    report = audit(played.snapshot_ledger(), LocalStore(store_dir, fsync=False), [4])
    text = rendered(report)
    check_fits(text, report)
    assert "unavailable" in text

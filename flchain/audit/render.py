"""Rendering an `AuditReport`: rich terminal text, JSON, and one self-contained HTML page.

The HTML page has no external resource and no script: styles inline, plots as base64 PNG
(matplotlib, Agg backend). The overall verdict is a banner in a solid colour that says it at
a glance (and lets a screenshot test find it): green verified, red mismatch, amber could not
verify.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from flchain.audit.report import AuditReport, CheckStatus, RoundAudit, RuleCheck, Severity, Verdict
from flchain.display import reason_label, reason_legend
from flchain.protocol import BPS

__all__ = ["BANNER_RGB", "print_report", "report_html", "report_json", "short_address"]

#: Banner colours by exit code (0 verified, 1 mismatch, 2 could not verify).
BANNER_RGB: dict[int, tuple[int, int, int]] = {0: (26, 127, 55), 1: (207, 34, 46), 2: (191, 135, 0)}

_STYLE = {
    Verdict.VERIFIED: "bold green",
    Verdict.NOT_FINALIZED: "cyan",
    Verdict.CONFLICT: "bold red",
    Verdict.MISMATCH: "bold red",
    Verdict.UNVERIFIABLE: "bold yellow",
}


def _short(text: str | None, keep: int = 10) -> str:
    if not text:
        return "-"
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-6:]}"


def short_address(address: str | None) -> str:
    """`0x1234…abcd`: enough to tell the nodes of a report apart (the full one is in --json)."""
    if not address:
        return "-"
    return address if len(address) <= 13 else f"{address[:6]}…{address[-4:]}"


# --- terminal ---------------------------------------------------------------------------------
# Everything fits an 80-column terminal without cutting a value: long codes are short labels
# named in a legend (`flchain.display`), addresses and hashes are shortened on purpose
# (full values in --json/--html), and free text wraps at spaces instead of being truncated.


def _rich_table(title: str | None = None) -> Table:
    return Table(
        title=title,
        box=box.SIMPLE_HEAD,
        header_style="bold",
        pad_edge=False,
        collapse_padding=True,
    )


def _legend(codes: Sequence[str]) -> Table | None:
    pairs = reason_legend(codes)
    if not pairs:
        return None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, code in pairs:
        grid.add_row(label, code)
    return grid


def _inputs_table(a: RoundAudit) -> Table:
    t = _rich_table("inputs (ROI in bps)")
    t.add_column("node", no_wrap=True)
    t.add_column("claimed", justify="right", no_wrap=True)
    t.add_column("recom-\nputed", justify="right", no_wrap=True)
    t.add_column("decision\nreplay", no_wrap=True)
    t.add_column("decision\nfinalized", no_wrap=True)
    t.add_column("content", overflow="fold")
    for row in a.inputs:
        differs = row.finalized_reason is not None and row.finalized_reason != row.reason
        t.add_row(
            short_address(row.node),
            str(row.claimed_roi_bps),
            "-" if row.recomputed_roi_bps is None else str(row.recomputed_roi_bps),
            reason_label(row.reason),
            "-" if row.finalized_reason is None else reason_label(row.finalized_reason),
            row.content,
            style="red" if differs or row.content in ("unavailable", "corrupted") else "",
        )
    return t


def _attesters_table(a: RoundAudit) -> Table:
    t = _rich_table("attesters")
    t.add_column("attester", no_wrap=True)
    t.add_column("result hash", no_wrap=True)
    t.add_column("agrees\nw/ replay", no_wrap=True)
    t.add_column("final\nresult", no_wrap=True)
    t.add_column("differs in", overflow="fold")
    for r in a.attesters:
        agrees = "?" if r.matches_replay is None else ("yes" if r.matches_replay else "NO")
        t.add_row(short_address(r.attester), short_address(r.result_hash), agrees,
                  "yes" if r.finalizing else "", ", ".join(r.differs_in) or "-",
                  style="red" if r.matches_replay is False else "")  # fmt: skip
    return t


_CHECK_STYLE = {
    CheckStatus.PASS: "green",
    CheckStatus.FAIL: "bold red",
    CheckStatus.UNVERIFIABLE: "yellow",
    CheckStatus.SKIPPED: "dim",
}


def print_checks(checks: Sequence[RuleCheck], console: Console) -> None:
    """One verdict line per rule (protocol v2): status, rule, what was found."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for c in checks:
        grid.add_row(f"[{_CHECK_STYLE[c.status]}]{c.status.value}[/]", c.rule, c.message)
    console.print(grid)


def print_round(a: RoundAudit, console: Console) -> None:
    console.rule(f"round {a.round}")
    console.print(f"[{_STYLE[a.verdict]}]{a.verdict.value.upper()}[/]  {a.headline}")
    console.print(f"base:  round {a.base_round}, {_short(a.base_digest)}")
    if a.checks:  # protocol v2: the rule lines say everything the findings would repeat
        console.print(f"rules: finality {a.rules.get('finalityPpm')} ppm, max payload "
                      f"{a.rules.get('maxPayloadBytes')} B, emission {a.rules.get('emissionWei')} wei")  # fmt: skip
        print_checks(a.checks, console)
        return
    console.print(f"rules: aggregation {a.rules.get('aggregation')}, quorum "
                  f"{a.rules.get('quorum')}, roi tolerance {a.rules.get('roi_tolerance_bps')} bps")  # fmt: skip
    if a.finalized or a.replayed:
        t = _rich_table()
        t.add_column("fact", no_wrap=True)
        t.add_column("finalized on-chain", no_wrap=True)
        t.add_column("replayed", no_wrap=True)
        for name in ("merged_digest", "merged_cid", "manifest_cid"):
            fin = getattr(a.finalized, name) if a.finalized else None
            rep = getattr(a.replayed, name) if a.replayed else None
            style = "" if fin is None or fin == rep else "red"
            t.add_row(name, _short(fin, 14), _short(rep, 14), style=style)
        console.print(t)
    if a.inputs:
        console.print(_inputs_table(a))
        codes = [c for r in a.inputs for c in (r.reason, r.finalized_reason) if c is not None]
        legend = _legend(codes)
        if legend is not None:
            console.print(legend)
    if a.clusters:
        console.print(
            "clusters: "
            + "; ".join("{" + ", ".join(short_address(n) for n in c) + "}" for c in a.clusters)
        )
    if a.weights:
        console.print(
            "weights: "
            + ", ".join(f"{short_address(w.node)} {w.share_ppm / 1e4:.2f}%" for w in a.weights)
        )
    if a.attesters:
        console.print(_attesters_table(a))
    for f in a.findings:
        if f.severity != Severity.NOTE or a.verdict != Verdict.VERIFIED:
            colour = {"mismatch": "red", "unverifiable": "yellow", "note": "dim"}[f.severity.value]
            console.print(f"  [{colour}]{f.severity.value}[/] {f.fact}: {f.message}")


def print_report(report: AuditReport, console: Console) -> None:
    """The readable terminal report: one section per round, then the history and the verdict.

    Fits an 80-column terminal: reason codes as short labels with a legend, addresses and hashes
    shortened (full values in `report_json`).
    """
    console.print(f"[bold]flchain audit[/]  chain id {report.chain_id}")
    console.print(f"contract {report.contract}")
    for note in report.notes:
        console.print(f"[dim]{note}[/]")
    if report.checks:
        console.rule("deployment")
        print_checks(report.checks, console)
    for a in report.rounds:
        print_round(a, console)
    if report.protocol_version < 2:  # v2's history is in its deployment and round rules
        console.rule("history")
        if not report.history:
            console.print(
                "each round's base is the previous finalized model; rule changes were scheduled "
                "in advance"
            )
    for f in report.history:
        console.print(f"  [red]{f.severity.value}[/] {f.fact}: {f.message}")
    style = {0: "bold green", 1: "bold red", 2: "bold yellow"}[report.exit_code]
    counts = ", ".join(f"{sum(r.verdict == v for r in report.rounds)} {v.value}" for v in Verdict
                       if any(r.verdict == v for r in report.rounds))  # fmt: skip
    console.print(
        f"[{style}]{report.verdict.upper()}[/] — {len(report.rounds)} round(s): {counts or 'none'}"
    )


# --- JSON -------------------------------------------------------------------------------------


def report_json(report: AuditReport) -> str:
    doc: dict[str, Any] = report.model_dump(mode="json")
    doc["exit_code"] = report.exit_code
    doc["verdict"] = report.verdict
    return json.dumps(doc, indent=2, sort_keys=True)


# --- HTML -------------------------------------------------------------------------------------


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return (
        '<img alt="plot" src="data:image/png;base64,'
        + base64.b64encode(buf.getvalue()).decode()
        + '">'
    )


def _plots(report: AuditReport) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: list[tuple[str, str]] = []
    rounds = [a for a in report.rounds if a.global_roi_bps is not None]
    if rounds:
        fig, ax = plt.subplots(figsize=(7, 3))
        equity, xs, ys = 1.0, [rounds[0].round - 1], [1.0]
        for a in rounds:
            equity *= 1 + (a.global_roi_bps or 0) / BPS
            xs.append(a.round)
            ys.append(equity)
        ax.plot(xs, ys, marker="o")
        ax.set_xlabel("round")
        ax.set_ylabel("equity (benchmark ROI compounded)")
        ax.set_title("global model equity across rounds")
        out.append(("Global model equity", _png(fig)))
    pts = [(r.claimed_roi_bps, r.recomputed_roi_bps, r.reason) for a in report.rounds for r in a.inputs
           if r.recomputed_roi_bps is not None]  # fmt: skip
    if pts:
        fig, ax = plt.subplots(figsize=(5, 4))
        good = [(c, r) for c, r, why in pts if why != "roi_not_reproduced"]
        bad = [(c, r) for c, r, why in pts if why == "roi_not_reproduced"]
        if good:
            ax.scatter(*zip(*good, strict=True), label="reproduced", color="#1a7f37")
        if bad:
            ax.scatter(*zip(*bad, strict=True), label="not reproduced", color="#cf222e", marker="x")
        lo = min(min(c, r) for c, r, _ in pts)
        hi = max(max(c, r) for c, r, _ in pts)
        ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
        ax.set_xlabel("claimed ROI (bps)")
        ax.set_ylabel("recomputed ROI (bps)")
        ax.legend()
        ax.set_title("ROI claimed vs recomputed, per node and round")
        out.append(("ROI claims", _png(fig)))
    last = next((x for x in reversed(report.rounds) if x.similarity), None)
    if last is not None:
        nodes = sorted({n for p, q, _ in last.similarity for n in (p, q)}, key=str.lower)
        idx = {n: i for i, n in enumerate(nodes)}
        grid = [[1.0 if i == j else 0.0 for j in range(len(nodes))] for i in range(len(nodes))]
        for p, q, v in last.similarity:
            grid[idx[p]][idx[q]] = grid[idx[q]][idx[p]] = v / 1e6
        fig, ax = plt.subplots(figsize=(5, 4))
        im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis")
        labels = [n[:8] for n in nodes]
        ax.set_xticks(range(len(nodes)), labels, rotation=60, fontsize=7)
        ax.set_yticks(range(len(nodes)), labels, fontsize=7)
        fig.colorbar(im, ax=ax)
        ax.set_title(f"strategy similarity, round {last.round}")
        out.append((f"Similarity matrix (round {last.round})", _png(fig)))
    weighted = [a for a in report.rounds if a.weights]
    if weighted:
        latest = weighted[-1]
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar([w.node[:8] for w in latest.weights], [w.share_ppm / 1e4 for w in latest.weights])
        ax.set_ylabel("share (%)")
        ax.tick_params(axis="x", rotation=60, labelsize=7)
        ax.set_title(f"aggregation weights, round {latest.round}")
        out.append((f"Aggregation weights (round {latest.round})", _png(fig)))
    return out


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], bad: Sequence[bool] = ()
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="bad"' if i < len(bad) and bad[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fact_text(value: object) -> str:
    """A fact as a person reads it: the penalised list as addresses, not a Python tuple."""
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)


def _round_html(a: RoundAudit) -> str:
    colour = {0: "#1a7f37", 1: "#cf222e", 2: "#bf8700"}[a.exit_code]
    parts = [
        f'<h2>Round {a.round} <span class="tag" style="background:{colour}">{_e(a.verdict.value)}</span></h2>',
        f"<p>{_e(a.headline)}</p>",
        f"<p>base: round {a.base_round} <code>{_e(a.base_digest)}</code></p>",
    ]
    facts = []
    for name in ("merged_digest", "merged_cid", "manifest_cid", "penalised"):
        fin = _fact_text(getattr(a.finalized, name)) if a.finalized else "-"
        rep = _fact_text(getattr(a.replayed, name)) if a.replayed else "-"
        facts.append((name, fin, rep))
    parts.append(
        _table(
            ["fact", "finalized on-chain", "replayed"],
            facts,
            [f[1] != "-" and f[1] != f[2] for f in facts],
        )
    )
    if a.inputs:
        rows = [(r.node, r.claimed_roi_bps, r.recomputed_roi_bps, r.reason, r.finalized_reason or "-", r.content, r.detail)
                for r in a.inputs]  # fmt: skip
        bad = [
            r.finalized_reason not in (None, r.reason) or r.content in ("unavailable", "corrupted")
            for r in a.inputs
        ]
        parts.append("<h3>Inputs</h3>" + _table(
            ["node", "claimed bps", "recomputed bps", "decision (replay)", "finalized manifest", "content", "detail"], rows, bad))  # fmt: skip
    if a.clusters:
        parts.append(
            "<h3>Clusters</h3><ul>"
            + "".join(f"<li>{_e(', '.join(c))}</li>" for c in a.clusters)
            + "</ul>"
        )
    if a.weights:
        parts.append(
            "<h3>Weights</h3>"
            + _table(["node", "share", "ppm"], [(w.node, w.share, w.share_ppm) for w in a.weights])
        )
    if a.attesters:
        att_rows = [(r.attester, r.result_hash, {None: "?", True: "yes", False: "NO"}[r.matches_replay],
                 "yes" if r.finalizing else "", ", ".join(r.differs_in)) for r in a.attesters]  # fmt: skip
        parts.append("<h3>Attesters</h3>" + _table(
            ["attester", "result hash", "agrees with replay", "final result", "differs in"], att_rows,
            [r.matches_replay is False for r in a.attesters]))  # fmt: skip
    if a.checks:
        parts.append("<h3>Rules</h3>" + _checks_html(a.checks))
    findings = [
        f for f in a.findings if f.severity != Severity.NOTE or a.verdict != Verdict.VERIFIED
    ]
    if findings and not a.checks:
        parts.append("<h3>Findings</h3><ul>" + "".join(
            f"<li><b>{_e(f.severity.value)}</b> {_e(f.fact)}: {_e(f.message)}</li>" for f in findings) + "</ul>")  # fmt: skip
    return "<section>" + "".join(parts) + "</section>"


def _checks_html(checks: Sequence[RuleCheck]) -> str:
    return _table(
        ["status", "rule", "found"],
        [(c.status.value, c.rule, c.message) for c in checks],
        [c.status in (CheckStatus.FAIL, CheckStatus.UNVERIFIABLE) for c in checks],
    )


def report_html(report: AuditReport) -> str:
    """One self-contained HTML page: verdict banner, plots, and every round's details."""
    r, g, b = BANNER_RGB[report.exit_code]
    plots = "".join(
        f"<figure><figcaption>{_e(t)}</figcaption>{img}</figure>" for t, img in _plots(report)
    )
    history = "".join(
        f"<li><b>{_e(f.severity.value)}</b> {_e(f.fact)}: {_e(f.message)}</li>"
        for f in report.history
    )
    summary = _table(
        ["round", "verdict", "headline"], [(a.round, a.verdict.value, a.headline) for a in report.rounds],
        [a.exit_code != 0 for a in report.rounds],
    )  # fmt: skip
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>flchain audit — {_e(report.verdict)}</title>
<style>
body {{ font-family: sans-serif; margin: 0; color: #1f2328; }}
main {{ padding: 0 24px 24px; }}
#verdict {{ background: rgb({r},{g},{b}); color: #fff; padding: 28px 24px; font-size: 28px; font-weight: bold; }}
table {{ border-collapse: collapse; margin: 8px 0; font-size: 13px; }}
td, th {{ border: 1px solid #d0d7de; padding: 3px 6px; text-align: left; font-family: monospace; }}
tr.bad td {{ background: #ffebe9; }}
.tag {{ color: #fff; padding: 2px 8px; border-radius: 4px; font-size: 16px; }}
figure {{ display: inline-block; margin: 8px; }}
section {{ border-top: 1px solid #d0d7de; margin-top: 16px; }}
</style></head>
<body><div id="verdict">{_e(report.verdict.upper())} — {len(report.rounds)} round(s), chain {report.chain_id}, contract {_e(report.contract)}</div>
<main>
{"".join(f"<p>{_e(n)}</p>" for n in report.notes)}
{"<h2>Deployment</h2>" + _checks_html(report.checks) if report.checks else ""}
<h2>Summary</h2>{summary}
<h2>History</h2><ul>{history or "<li>each round's base is the previous finalized model; rule changes were scheduled in advance</li>"}</ul>
<h2>Plots</h2>{plots or "<p>no plots (no round could be replayed)</p>"}
{"".join(_round_html(a) for a in report.rounds)}
</main></body></html>
"""

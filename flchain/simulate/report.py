"""The per-round table and its legend (rich), as the terminal and `table.txt` show them."""

from __future__ import annotations

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table

from flchain.display import reason_label
from flchain.simulate.config import NodeBalance, SimulationResult

__all__ = [
    "COLUMN_NOTES",
    "adversary_table",
    "balance_rows",
    "balance_table",
    "eth",
    "legend_grid",
    "print_report",
    "ranking_table",
    "rejection_legend",
    "rejections_cell",
    "report_renderables",
    "round_table",
    "stake_line",
]


#: What the columns with a number in brackets hold (printed in the legend under the table).
COLUMN_NOTES: dict[str, str] = {
    "directives": "issued by this round's merge (in force this round)",
    "attests": "attestations (with a result other than the finalized one)",
    "global ROI": "the finalized global model's benchmark ROI",
}


def rejections_cell(rejected: dict[str, int]) -> str:
    """`label×count` items, space-separated so a narrow column wraps between items."""
    return " ".join(f"{reason_label(k)}×{v}" for k, v in rejected.items()) or "-"


def rejection_legend(result: SimulationResult) -> list[tuple[str, str]]:
    """(label, reason) for every rejection reason the table shows, in the table's order."""
    seen = dict.fromkeys(k for r in result.rounds for k in r.rejected)
    return [(reason_label(k), k) for k in seen]


def legend_grid(result: SimulationResult) -> Table:
    """Two columns under the table: each short label or column, and what it means."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, reason in rejection_legend(result):
        grid.add_row(label, f"rejected: {reason}")
    for column, note in COLUMN_NOTES.items():
        grid.add_row(column, note)
    if result.protocol == 2:
        grid.add_row("final", "final: a result reached q of the frozen stake; SKIPPED: none did")
    grid.add_row("genesis", f"the genesis model's benchmark ROI: {result.genesis_roi_bps} bps")
    grid.add_row("contract", f"{result.contract} (chain id {result.chain_id})")
    return grid


def round_table(result: SimulationResult) -> Table:
    """The per-round table (rich): short headers and reason labels, readable at 80 columns."""
    cfg = result.config
    table = Table(
        title=f"flchain simulation: {cfg.nodes} nodes × {cfg.days} days",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    numeric = {"justify": "right", "no_wrap": True}
    table.add_column("round", **numeric)  # type: ignore[arg-type]
    table.add_column("com-\nmits", **numeric)  # type: ignore[arg-type]
    table.add_column("re-\nveals", **numeric)  # type: ignore[arg-type]
    table.add_column("acc-\nepted", **numeric)  # type: ignore[arg-type]
    table.add_column("rejected\n(label×n)", justify="left", overflow="fold", min_width=9)
    table.add_column("clus-\nters", justify="right", overflow="fold")
    table.add_column("direc-\ntives", **numeric)  # type: ignore[arg-type]
    table.add_column("att-\nests", **numeric)  # type: ignore[arg-type]
    table.add_column("final", **numeric)  # type: ignore[arg-type]
    table.add_column("global\nROI bps", **numeric)  # type: ignore[arg-type]
    for r in result.rounds:
        table.add_row(
            str(r.round),
            str(r.commits),
            str(r.reveals),
            str(r.accepted),
            rejections_cell(r.rejected),
            ",".join(str(c) for c in r.clusters) or "-",
            f"{r.directives} ({r.directives_in_force})",
            f"{r.attestations} ({r.conflicting_results})",
            (r.finality if r.finalized else r.finality.upper())
            if result.protocol == 2
            else ("yes" if r.finalized else "NO"),
            "-" if r.global_roi_bps is None else str(r.global_roi_bps),
        )
    return table


def eth(wei: int) -> str:
    """Wei as ETH for a table: up to 4 decimals, trailing zeros dropped."""
    text = f"{wei / 10**18:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def stake_line(result: SimulationResult) -> str:
    """The stake split of a v2 run, one line."""
    s = result.stake
    if s is None:
        return ""
    n_honest = sum(1 for r in result.roles if r.behaviour == "honest")
    return (
        f"stake: honest nodes {eth(s.honest)} ETH ({n_honest} × {eth(s.honest_bond)}), "
        f"adversaries {eth(s.adversarial)} ETH ({s.honest_ppm / 10_000:.1f} % honest)\n"
        f"       honest share of every round's frozen stake ≥ {s.min_honest_ppm / 10_000:.1f} %"
    )


def balance_rows(result: SimulationResult) -> list[tuple[str, list[NodeBalance]]]:
    """(label, balances) per table row: each node of `--nodes` alone (with its behaviour),
    each v2 adversary's wallets together."""
    nodes = {r.address for r in result.roles if r.name.startswith("node-")}
    rows: list[tuple[str, list[NodeBalance]]] = []
    groups: dict[str, list[NodeBalance]] = {}
    for b in result.balances:
        if b.address in nodes:
            rows.append((f"{b.name} {b.behaviour}", [b]))
        else:
            groups.setdefault(b.behaviour, []).append(b)
    for kind, members in groups.items():
        rows.append((kind if len(members) == 1 else f"{kind} ×{len(members)}", members))
    return rows


def balance_table(result: SimulationResult) -> Table:
    """Per node: bond at registration → at the end (ETH), top-ups, rewards, slashes,
    withdrawal (v2; a group of wallets: per wallet)."""
    table = Table(
        title="bonds and rewards, ETH, from the chain (a group: per wallet)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("node", overflow="fold")
    for column in ("bond start → end", "added", "earned", "slashed", "with-\ndrawn"):
        table.add_column(column, justify="right", no_wrap=True)
    for label, members in balance_rows(result):
        n = len(members)

        def per_wallet(values: list[int], n: int = n) -> str:
            return eth(sum(values) // n)

        table.add_row(
            label,
            f"{eth(members[0].bond_start)} → {per_wallet([b.bond_end for b in members])}",
            per_wallet([b.added for b in members]),
            per_wallet([b.earned for b in members]),
            per_wallet([b.slashed for b in members]),
            per_wallet([b.withdrawn for b in members]),
        )
    return table


def adversary_table(result: SimulationResult) -> Table:
    """Per v2 adversary, two lines: what it tried; the rule meant to stop it, what the chain
    and the merge answered (its own transactions that went through left out), what its wallets
    were slashed in all, and its bond from registration to the end (a withdrawal counted in)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.title = "attacks (protocol v2)"
    for a in result.adversary_reports:
        answers = ", ".join(f"{k}×{v}" for k, v in sorted(a.answers.items()) if k != "ok")
        mine = [b for b in result.balances if b.behaviour == a.kind]
        bond = ""
        if mine:
            n = len(mine)
            start, end = mine[0].bond_start, sum(b.bond_end + b.withdrawn for b in mine) // n
            bond = f"; bond{' per wallet' if n > 1 else ''} {eth(start)} → {eth(end)} ETH"
        grid.add_row(a.kind if a.wallets <= 1 else f"{a.kind} ×{a.wallets}", f"tried: {a.tried}")
        grid.add_row(
            "",
            f"rule: {a.rule} — answered {answers or 'nothing'}; slashed {eth(a.slashed)} ETH"
            + bond,
        )
    return grid


def ranking_table(result: SimulationResult) -> Table:
    """Per node of `--nodes`: its mean claim, its forward record (forward scoring on), how
    many final rounds merged it, its merge weight summed over them, and its rewards — what the
    claim or the record lifted (v2)."""
    forward = result.config.forward
    title = "rank, weight and pay: the forward record decides" if forward else (
        "rank, weight and pay: the claim decides (forward scoring off)"
    )  # fmt: skip
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("node", overflow="fold")
    columns = ["mean claim\nbps"] + (["record\nbps", "scored\nrounds"] if forward else [])
    for column in [*columns, "merged\nrounds", "weight\n% (Σ)", "earned\nETH"]:
        table.add_column(column, justify="right", no_wrap=True)
    nodes = {r.address for r in result.roles if r.name.startswith("node-")}
    for row in result.ranking:
        if row.address not in nodes:
            continue
        cells = ["—" if row.mean_claim_bps is None else str(row.mean_claim_bps)]
        if forward:
            cells += [str(row.record_score_bps), str(row.scored_rounds)]
        cells += [str(row.merged_rounds), f"{row.weight_ppm / 10_000:.1f}", eth(row.earned)]
        table.add_row(f"{row.name} {row.behaviour}", *cells)
    return table


def report_renderables(result: SimulationResult) -> list[RenderableType]:
    """What the terminal and `table.txt` show: the per-round table and its legend; on v2 also
    the stake split, every node's bond and rewards, and what each attack ran into."""
    shown: list[RenderableType] = [round_table(result), legend_grid(result)]
    if result.protocol == 2:
        shown += [stake_line(result), balance_table(result)]
        if result.config.market == "planted":
            shown.append(ranking_table(result))
        if result.adversary_reports:
            shown.append(adversary_table(result))
    return shown


def print_report(result: SimulationResult, console: Console) -> None:
    for renderable in report_renderables(result):
        console.print(renderable)
    console.print(
        f"run folder: {result.run_dir}  (summary.json, manifests/, plot.png, store/, "
        f"{'chain.jsonl' if result.config.chain == 'embedded' else 'anvil-state.json'})  "
        f"wall time {result.wall_seconds:.1f} s"
    )

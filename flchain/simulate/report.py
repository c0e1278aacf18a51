"""The per-round table and its legend (rich), as the terminal and `table.txt` show them."""

from __future__ import annotations

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table

from flchain.display import reason_label
from flchain.simulate.config import SimulationResult

__all__ = [
    "COLUMN_NOTES",
    "legend_grid",
    "print_report",
    "rejection_legend",
    "rejections_cell",
    "report_renderables",
    "round_table",
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
            "yes" if r.finalized else "NO",
            "-" if r.global_roi_bps is None else str(r.global_roi_bps),
        )
    return table


def report_renderables(result: SimulationResult) -> list[RenderableType]:
    """What the terminal and `table.txt` show: the per-round table and its legend."""
    return [round_table(result), legend_grid(result)]


def print_report(result: SimulationResult, console: Console) -> None:
    for renderable in report_renderables(result):
        console.print(renderable)
    console.print(
        f"run folder: {result.run_dir}  (summary.json, manifests/, plot.png, store/, "
        f"{'chain.jsonl' if result.config.chain == 'embedded' else 'anvil-state.json'})  "
        f"wall time {result.wall_seconds:.1f} s"
    )

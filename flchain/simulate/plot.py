"""`plot.png`: the global model's benchmark ROI by round, and each node's outcome by round."""

from __future__ import annotations

from pathlib import Path

from flchain.simulate.config import SimulationResult

__all__ = ["OUTCOME_COLOURS", "write_plot"]


OUTCOME_COLOURS: dict[str, str] = {
    "accepted": "#2ca02c",
    "no_commit": "#ffffff",
    "no_reveal": "#7f7f7f",
    "rejected_on_chain_abnormal_roi": "#d62728",
    "rejected_on_chain_ineligible": "#8c564b",
    "roi_not_reproduced": "#ff7f0e",
    "non_finite": "#9467bd",
    "ignored_directive": "#e377c2",
    "stale_base": "#bcbd22",
    "beyond_participant_cap": "#17becf",
    "rejected_on_chain_duplicate": "#1f77b4",
    "rejected_on_chain_stale_base": "#aec7e8",
    "not_safetensors": "#393b79",
    "payload_unreadable": "#c49c94",
}


def write_plot(result: SimulationResult, path: Path) -> Path:
    """PNG: global model benchmark ROI by round (top) and each node's outcome by round (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    rounds = [r.round for r in result.rounds]
    rois = [
        float("nan") if r.global_roi_bps is None else r.global_roi_bps / 100 for r in result.rounds
    ]
    categories = list(OUTCOME_COLOURS)
    other = "#000000"
    seen = sorted(
        {o for outs in result.outcomes.values() for o in outs},
        key=lambda o: categories.index(o) if o in categories else 99,
    )
    index = {o: i for i, o in enumerate(seen)}
    # one row per node of --nodes, and the first wallet of each v2 adversary (65 flooders
    # would otherwise be 65 identical rows)
    kinds_shown: set[str] = set()
    roles = []
    for role in result.roles:
        if role.name.startswith("node-") or role.behaviour not in kinds_shown:
            roles.append(role)
            kinds_shown.add(role.behaviour)
    grid = [[index[o] for o in result.outcomes[role.address]] for role in roles]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 4 + 0.25 * len(roles)), height_ratios=[1, 2]
    )
    top.plot(rounds, rois, marker="o")
    top.axhline(result.genesis_roi_bps / 100, color="grey", linestyle="--", label="genesis model")
    top.set_ylabel("benchmark ROI (%)")
    top.set_title("global model after each round")
    top.legend(loc="best")
    cmap = ListedColormap([OUTCOME_COLOURS.get(o, other) for o in seen] or ["#ffffff"])
    bottom.imshow(
        grid,
        aspect="auto",
        cmap=cmap,
        vmin=-0.5,
        vmax=max(len(seen), 1) - 0.5,
        interpolation="nearest",
    )
    bottom.set_yticks(range(len(roles)))
    bottom.set_yticklabels([f"{r.name} ({r.behaviour})" for r in roles], fontsize=7)
    bottom.set_xticks(range(len(rounds)))
    bottom.set_xlabel("round")
    bottom.legend(
        handles=[Patch(color=OUTCOME_COLOURS.get(o, other), label=o) for o in seen],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

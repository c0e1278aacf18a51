"""`plot.png`: the global model's benchmark ROI by round, and each node's outcome by round.

matplotlib's import and the render are ~0.8 s of a 10-node run's CPU, all at its end, while the
run itself is single-threaded: `PlotWorker` starts a second process when the run starts, which
imports matplotlib on the other core and waits on a pipe; at the end the run hands it the plot's
data (plain JSON, `plot_data`) and it renders. The PNG is the same bytes as an in-process render
(`render` does both; tests/simulate/test_plot_worker.py). The worker loads this file alone, not
the `flchain.simulate` package, so it imports matplotlib and the standard library only. Should it
fail or be missing, the plot is rendered here as before.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from flchain.simulate.config import SimulationResult

__all__ = ["OUTCOME_COLOURS", "PlotWorker", "plot_data", "render", "write_plot"]

#: How long the run waits for the worker's render before rendering the plot itself (~0.3 s
#: on an idle core).
WORKER_TIMEOUT_S = 60.0


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
    "unbound_update": "#1f77b4",
    "rejected_on_chain_stale_base": "#aec7e8",
    "not_safetensors": "#393b79",
    "payload_unreadable": "#c49c94",
}


def plot_data(result: SimulationResult) -> dict[str, Any]:
    """What the plot shows, as JSON-able values: rounds and the global ROI, the genesis ROI, the
    outcome categories seen (in legend order), and one row of outcome indices per node shown."""
    rounds = [r.round for r in result.rounds]
    rois = [None if r.global_roi_bps is None else r.global_roi_bps / 100 for r in result.rounds]
    categories = list(OUTCOME_COLOURS)
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
    return {
        "rounds": rounds,
        "rois": rois,
        "genesis_roi": result.genesis_roi_bps / 100,
        "seen": seen,
        "grid": [[index[o] for o in result.outcomes[role.address]] for role in roles],
        "labels": [f"{r.name} ({r.behaviour})" for r in roles],
    }


def render(data: dict[str, Any], path: Path) -> Path:
    """Draw `plot_data`'s values into the PNG `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    rounds, seen, labels = data["rounds"], data["seen"], data["labels"]
    rois = [float("nan") if roi is None else roi for roi in data["rois"]]
    other = "#000000"
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 4 + 0.25 * len(labels)), height_ratios=[1, 2]
    )
    top.plot(rounds, rois, marker="o")
    top.axhline(data["genesis_roi"], color="grey", linestyle="--", label="genesis model")
    top.set_ylabel("benchmark ROI (%)")
    top.set_title("global model after each round")
    top.legend(loc="best")
    cmap = ListedColormap([OUTCOME_COLOURS.get(o, other) for o in seen] or ["#ffffff"])
    bottom.imshow(
        data["grid"],
        aspect="auto",
        cmap=cmap,
        vmin=-0.5,
        vmax=max(len(seen), 1) - 0.5,
        interpolation="nearest",
    )
    bottom.set_yticks(range(len(labels)))
    bottom.set_yticklabels(labels, fontsize=7)
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


def write_plot(result: SimulationResult, path: Path) -> Path:
    """PNG: global model benchmark ROI by round (top) and each node's outcome by round (bottom),
    rendered in this process."""
    return render(plot_data(result), path)


class PlotWorker:
    """A process that imports matplotlib while the run goes on and renders one plot when asked;
    a context manager (the process is gone on any exit). Never required: when it cannot start,
    dies or is slow, `finish` says so with False and the caller draws the plot itself."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_MAIN, str(Path(__file__).resolve())],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self._process = None
        return self

    def start(self, result: SimulationResult, path: Path) -> Path | None:
        """Hand the worker `result`'s plot to draw into `path`, without waiting for it; the
        path, or None when there is no worker to draw it."""
        process = self._process
        if process is None or process.stdin is None:
            return None
        payload = json.dumps({"path": str(Path(path).resolve()), "data": plot_data(result)})
        try:
            process.stdin.write(payload.encode())
            process.stdin.close()
        except (OSError, ValueError):
            return None
        return Path(path)

    def finish(self, path: Path | None) -> bool:
        """Wait for the plot `start` handed over; whether the worker drew it."""
        process, self._process = self._process, None
        if process is None:
            return False
        if path is None:
            _stop(process)
            return False
        try:
            code = process.wait(WORKER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _stop(process)
            return False
        return code == 0 and path.is_file()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is not None:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the worker now: it holds nothing but a half-imported matplotlib or a plot the run no
    longer wants."""
    if process.stdin is not None and not process.stdin.closed:
        with contextlib.suppress(OSError):
            process.stdin.close()
    if process.poll() is None:
        process.kill()
    process.wait()


def serve() -> int:
    """The worker's body: import matplotlib, then render the one request read from stdin (an
    empty one, the run ending without a plot, ends it)."""
    # Ctrl-C reaches the whole process group: the run handles it and closes the pipe, which
    # ends this process; a traceback of its own would only be noise on the terminal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # the import is what the worker is for

    raw = sys.stdin.buffer.read()
    if not raw:
        return 0
    request = json.loads(raw)
    render(request["data"], Path(request["path"]))
    return 0


#: The worker's program: this file loaded on its own (not through the `flchain.simulate`
#: package, whose imports are the whole simulation's), then `serve()`.
_WORKER_MAIN = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("_flchain_plot_worker", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
sys.exit(module.serve())
"""

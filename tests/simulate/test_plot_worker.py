"""The plot drawn by `PlotWorker`'s second process is the PNG the run would draw itself, and a
worker that is gone or never asked leaves nothing behind and the plot to the run."""

from __future__ import annotations

from pathlib import Path

from flchain.simulate import SimulationResult
from flchain.simulate.plot import PlotWorker, write_plot


def test_the_worker_draws_the_same_png_as_this_process(
    full_run: SimulationResult, run_dir: Path, tmp_path: Path
) -> None:
    with PlotWorker() as worker:
        handed = worker.start(full_run, tmp_path / "worker.png")
        assert handed == tmp_path / "worker.png"
        assert worker.finish(handed)
    here = write_plot(full_run, tmp_path / "here.png")
    drawn = (tmp_path / "worker.png").read_bytes()
    assert drawn[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn == here.read_bytes() == (run_dir / "plot.png").read_bytes()


def test_a_dead_worker_leaves_the_plot_to_the_run(
    full_run: SimulationResult, tmp_path: Path
) -> None:
    with PlotWorker() as worker:
        process = worker._process
        assert process is not None
        process.kill()
        process.wait()
        assert not worker.finish(worker.start(full_run, tmp_path / "plot.png"))
    assert not (tmp_path / "plot.png").exists()


def test_a_worker_never_asked_is_gone_with_the_run(tmp_path: Path) -> None:
    with PlotWorker() as worker:
        process = worker._process
        assert process is not None
    assert process.returncode is not None
    assert list(tmp_path.iterdir()) == []

"""The HTML report in headless Chromium: the verdict banner is visible in the screenshot and the
page logs no console error. Skips only when no Chromium is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from flchain.audit.core import audit
from flchain.audit.render import BANNER_RGB, report_html

from .conftest import Played

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page: Path, png: Path, profile: Path) -> str:
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1200,2000",
            "--enable-logging=stderr", "--v=0", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


def banner_pixels(png: Path, rgb: tuple[int, int, int]) -> int:
    img = mpimg.imread(str(png))[:, :, :3]
    pixels = np.rint(img * 255).astype(np.int16)
    top = pixels[:120]  # the banner is the first thing on the page
    return int(np.all(np.abs(top - np.array(rgb)) <= 2, axis=-1).sum())


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)
@pytest.mark.parametrize(("rounds", "exit_code"), [([0], 0), ([0, 1, 2, 3, 4], 1)])
def test_html_report_shows_verdict_without_console_errors(
    played: Played, tmp_path: Path, rounds: list[int], exit_code: int
) -> None:
    report = audit(played.snapshot_ledger(), played.fed.store, rounds)
    assert report.exit_code == exit_code
    page = tmp_path / "audit.html"
    page.write_text(report_html(report), encoding="utf-8")
    text = page.read_text()
    assert not re.search(r"""(src|href)=["']https?:""", text)  # self-contained
    assert "<script" not in text
    assert text.count("data:image/png;base64,") >= 3  # equity, ROI claims, similarity/weights
    png = tmp_path / "shot.png"
    log = screenshot(page, png, tmp_path / "chrome-profile")
    assert png.exists()
    assert "CONSOLE" not in log and "Uncaught" not in log, log[-2000:]
    wanted = BANNER_RGB[exit_code]
    others = [c for k, c in BANNER_RGB.items() if k != exit_code]
    assert banner_pixels(png, wanted) > 20_000  # a solid block across the top
    assert all(banner_pixels(png, c) < 100 for c in others)

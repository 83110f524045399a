"""The HTML report in a real headless browser: it renders, and no image is missing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reports.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium not installed (Debian: apt-get install chromium); the browser check skips",
    ),
]


def _chromium(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={home / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )


def test_report_renders_in_chromium(records: pd.DataFrame, attrs: dict, tmp_path: Path) -> None:
    paths = write_report(records, attrs, tmp_path / "report", formats=("png",))
    url = paths["html"].resolve().as_uri()

    dom = _chromium(["--virtual-time-budget=5000", "--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-1000:]
    found = re.search(r'data-images="(\d+) total, (\d+) broken"', dom.stdout)
    assert found, "the page's load handler did not run"
    assert found.groups() == ("4", "0")

    shot = tmp_path / "screenshot.png"
    done = _chromium(["--window-size=1200,2400", f"--screenshot={shot}", url], tmp_path)
    assert done.returncode == 0 and shot.exists(), done.stderr[-1000:]
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=float)
    assert pixels.shape[:2] == (2400, 1200)
    non_white = (pixels.min(axis=2) < 200).mean()
    assert 0.02 < non_white < 0.9  # text, tables and plots, not a blank or broken page
    blue = (pixels[..., 2] > 150) & (pixels[..., 0] < 80)  # the front's blue drawn in a plot
    assert blue.sum() > 200

"""Plots render to PNG and SVG with units, context, distinct published points and no overlaps."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from PIL import Image

from reports.errors import ReportError
from reports.hypervolume import default_reference_point, hypervolume_over_trials
from reports.plots import (
    axis_label,
    new_figure,
    plot_front,
    plot_fronts_by_device,
    plot_hypervolume,
    save_figure,
)
from reports.published import PUBLISHED_PROTOCOL, published_points
from reports.records import load_records


def _check_image(path: Path) -> None:
    assert path.stat().st_size > 0
    with Image.open(path) as img:
        pixels = np.asarray(img.convert("L"), dtype=float)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 500
    assert pixels.std() > 5  # not blank


def _label_boxes(ax) -> list:
    fig = ax.get_figure()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [Text.get_window_extent(t, renderer) for t in ax.texts if t.get_text()]


def _assert_no_overlap(ax) -> None:
    boxes = _label_boxes(ax)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    inside = ax.get_window_extent()
    for box in boxes:
        assert inside.x0 - 1 <= box.x0 and box.x1 <= inside.x1 + 1
        assert inside.y0 - 1 <= box.y0 and box.y1 <= inside.y1 + 1


@pytest.mark.parametrize("x", ["macs", "params", "latency_ms"])
def test_plot_front_png_svg(records: pd.DataFrame, attrs: dict, x: str, tmp_path: Path) -> None:
    fig = new_figure()
    ax = fig.axes[0]
    plot_front(
        records,
        ax,
        x=x,
        budgets=attrs["budgets"],
        published=published_points(),
        macs_output_size=(1280, 720),
        scale=2,
        title="demo, device cpu-2core, proxy quick, x2",
    )
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    published_drawn = any(PUBLISHED_PROTOCOL in t for t in labels)
    assert published_drawn == (x in ("macs", "params"))
    assert any(t.startswith("Pareto front") for t in labels)
    assert any(t.startswith("infeasible") for t in labels)
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("budget ") for t in texts)
    assert {"fsrcnn", "rfdn-proxy"} <= set(texts)
    assert published_drawn == ("FALSR-A" in texts)
    assert "RFDN" not in texts or x == "params"  # RFDN has no published Mult-Adds
    unit = {
        "macs": "MACs (G, 1280x720 output)",
        "params": "Params (K)",
        "latency_ms": "Latency (ms",
    }
    assert ax.get_xlabel().startswith(unit[x]) and ax.get_ylabel() == "Y-PSNR (dB)"
    if x == "params":
        assert ax.get_xlabel() == "Params (K)"  # a count has no input-size context
    assert ax.get_xscale() == ("linear" if x == "latency_ms" else "log")
    _assert_no_overlap(ax)
    paths = save_figure(fig, tmp_path / f"front_{x}")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    _check_image(paths[0])
    assert paths[1].read_text().lstrip().startswith("<?xml")


def test_published_points_are_never_on_the_front(records: pd.DataFrame) -> None:
    fig = new_figure()
    ax = fig.axes[0]
    plot_front(records, ax, x="params", published=published_points(), scale=2)
    front_line = ax.lines[0]
    assert max(front_line.get_ydata()) < 34  # the proxy front, far below the published 37-38 dB


def test_published_points_need_the_same_scale_and_macs_output(records: pd.DataFrame) -> None:
    for kwargs in ({"x": "params", "scale": 3}, {"x": "macs", "macs_output_size": (640, 360)}):
        fig = new_figure()
        plot_front(records, fig.axes[0], published=published_points(), **kwargs)
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert not any(PUBLISHED_PROTOCOL in t for t in labels)


def test_fronts_by_device_and_hypervolume(journal_url: str, attrs: dict, tmp_path: Path) -> None:
    both = pd.concat(
        [load_records(journal_url, "demo"), load_records(journal_url, "demo-arm")],
        ignore_index=True,
    )
    fig = new_figure()
    plot_fronts_by_device(both, fig.axes[0], budgets=attrs["budgets"], x_context="1280x720 output")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.startswith("cpu-2core front") for t in labels)
    assert any(t.startswith("arm-a76 front") for t in labels)
    _check_image(save_figure(fig, tmp_path / "by_device", ("png",))[0])

    objectives = {"psnr_y_db": "maximize", "macs": "minimize"}
    records = both[both["study"] == "demo"]
    ref = default_reference_point(records, objectives, budgets=attrs["budgets"])
    fig = new_figure(7.5, 4.0)
    ax = fig.axes[0]
    plot_hypervolume(hypervolume_over_trials(records, objectives, ref), ax, objectives=objectives)
    assert ax.get_ylabel() == "hypervolume (dB x GMACs)"
    assert any("reference point" in t.get_text() and "(budget)" in t.get_text() for t in ax.texts)
    _check_image(save_figure(fig, tmp_path / "hv", ("png",))[0])


def test_plot_errors(records: pd.DataFrame) -> None:
    fig = new_figure()
    with pytest.raises(ReportError, match="no column"):
        plot_front(records, fig.axes[0], x="speed")
    with pytest.raises(ReportError, match="format"):
        save_figure(fig, "/tmp/never", ("gif",))
    assert axis_label("macs", "1280x720 output") == "MACs (G, 1280x720 output)"

"""`select` and `upscale` end to end on a real (tiny) study: choice, export, ONNX check, card."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from search.cli import main
from tests.tiny_setup import TINY_DEVICE_YAML, TINY_SPACE_YAML

pytestmark = pytest.mark.slow
DEVICE, SPACE = TINY_DEVICE_YAML, TINY_SPACE_YAML


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("sel")
    (d / "dev.yaml").write_text(DEVICE)
    (d / "space.yaml").write_text(SPACE)
    storage = f"journal:///{d}/study.log"
    rc = main(["search", "--space", str(d / "space.yaml"), "--device", str(d / "dev.yaml"),
               "--proxy", "demo", "--steps-per-trial", "3", "--trials", "3", "--storage",
               storage, "--study", "sel", "--quiet", "--no-prune"])
    assert rc == 0
    return {"dir": str(d), "storage": storage, "dev": str(d / "dev.yaml")}


def test_select_exports_a_model_that_upscales(study, capsys, tmp_path) -> None:
    out = tmp_path / "model"
    capsys.readouterr()
    rc = main(["select", "--study", "sel", "--storage", study["storage"], "--device",
               study["dev"], "--out", str(out), "--json", "--quiet"])
    assert rc == 0
    chosen = json.loads(capsys.readouterr().out)
    for field in ("key", "psnr_y_db", "params", "macs", "latency_ms", "files"):
        assert field in chosen
    assert chosen["onnx_max_abs_diff"] < 1e-3
    for name in ("spec.json", "weights.pt", "model.onnx", "model.ts", "MODEL_CARD.md"):
        assert (out / name).is_file(), name
    state = torch.load(out / "weights.pt", weights_only=True)
    assert isinstance(state, dict) and state
    card = (out / "MODEL_CARD.md").read_text()
    assert chosen["key"] in card and "tiny-roofline" in card and "bicubic" in card
    img = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 23, 3), np.uint8)).save(img)
    assert main(["upscale", "--model", str(out), str(img), "--out", str(tmp_path / "o.png")]) == 0
    assert Image.open(tmp_path / "o.png").size == (46, 40)


def test_select_prefers_and_floors(study, capsys, tmp_path) -> None:
    rc = main(["select", "--study", "sel", "--storage", study["storage"], "--device",
               study["dev"], "--min-psnr", "99", "--out", str(tmp_path / "m"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "99" in err


def test_select_budget_nothing_meets_names_closest(study, capsys, tmp_path) -> None:
    rc = main(["select", "--study", "sel", "--storage", study["storage"], "--device",
               study["dev"], "--max-params", "10", "--out", str(tmp_path / "m"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "closest" in err and "params" in err


def test_select_bad_inputs(study, capsys, tmp_path) -> None:
    base = ["select", "--storage", study["storage"], "--out", str(tmp_path / "m")]
    assert main([*base, "--study", "sel", "--device", "no-such-device"]) == 2
    assert "no-such-device" in capsys.readouterr().err
    assert main([*base, "--study", "nope", "--device", study["dev"]]) == 2
    assert "unknown study 'nope'" in capsys.readouterr().err


def test_upscale_with_wrong_weights_is_one_line(study, capsys, tmp_path) -> None:
    out = tmp_path / "model"
    assert main(["select", "--study", "sel", "--storage", study["storage"], "--device",
                 study["dev"], "--out", str(out), "--quiet"]) == 0
    torch.save({"nope": torch.zeros(3)}, out / "weights.pt")
    img = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    capsys.readouterr()
    assert main(["upscale", "--model", str(out), str(img), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "weights.pt" in err


def test_select_overwrites_a_non_empty_out_only_with_force(study, capsys, tmp_path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "weights.pt").write_text("the user's own weights")
    argv = ["select", "--study", "sel", "--storage", study["storage"], "--device", study["dev"],
            "--out", str(out), "--quiet"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and "--force" in err
    assert (out / "weights.pt").read_text() == "the user's own weights"
    assert main([*argv, "--force"]) == 0
    assert isinstance(torch.load(out / "weights.pt", weights_only=True), dict)
    assert (out / "export.json").is_file() and (out / "MODEL_CARD.md").is_file()

"""`distillnas evaluate` and `distillnas data list` through the CLI, including every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from search.cli import main
from search.datasets import downscale
from search.images import save_image


def _rand(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def _tiny_set(root: Path, scale: int = 2) -> Path:
    hr = _rand((24, 24, 3))
    save_image(hr, root / "HR" / "a.png")
    save_image(downscale(hr, scale), root / "LR_bicubic" / f"X{scale}" / f"ax{scale}.png")
    return root


def _fails_naming(capsys: pytest.CaptureFixture[str], argv: list[str], path: Path | str) -> str:
    capsys.readouterr()
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(path) in err, err
    return err


def test_evaluate_bicubic_json_and_table(shared_data, capsys) -> None:
    argv = ["evaluate", "bicubic", "--data", str(shared_data / "Set5"), "--scale", "2"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    set5 = out["sets"]["Set5"]
    assert set5["psnr_y_db"] == pytest.approx(33.673, abs=0.005)
    assert set5["ssim_y"] == pytest.approx(0.93029, abs=5e-5)
    assert set5["images"] == 5 and len(set5["rows"]) == 5
    assert out["overall"]["images"] == 5 and out["model"] == "bicubic" and out["scale"] == 2
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "Set5" in table and "33.673" in table and "0.9303" in table


def test_evaluate_zoo_model_with_weights(tmp_path, capsys) -> None:
    from blocks.build import build_network
    from blocks.zoo import resolve_spec

    weights = tmp_path / "w.pt"
    torch.save(build_network(resolve_spec("rfdn", 2)).state_dict(), weights)
    data = _tiny_set(tmp_path / "tiny")
    argv = ["evaluate", "rfdn", "--data", str(data), "--scale", "2", "--weights", str(weights)]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sets"]["tiny"]["images"] == 1 and out["weights"] == str(weights)
    assert np.isfinite(out["overall"]["psnr_y_db"]) and "rfdb" in out["model"]


def test_bad_weights(tmp_path, capsys) -> None:
    from blocks.build import build_network
    from blocks.zoo import resolve_spec

    data = _tiny_set(tmp_path / "tiny")
    state = build_network(resolve_spec("rfdn", 2)).state_dict()
    name = next(k for k, v in state.items() if v.dim() == 4)
    state[name] = torch.zeros(7, *state[name].shape[1:])
    wrong = tmp_path / "wrong_shape.pt"
    torch.save(state, wrong)
    base = ["evaluate", "rfdn", "--data", str(data), "--scale", "2", "--weights"]
    assert "shape mismatch" in _fails_naming(capsys, [*base, str(wrong)], wrong)
    not_sd = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), not_sd)
    assert "not a state_dict" in _fails_naming(capsys, [*base, str(not_sd)], not_sd)
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    _fails_naming(capsys, [*base, str(junk)], junk)
    _fails_naming(capsys, [*base, str(tmp_path / "none.pt")], tmp_path / "none.pt")
    bicubic = ["evaluate", "bicubic", "--data", str(data), "--scale", "2", "--weights", str(junk)]
    _fails_naming(capsys, bicubic, junk)


def test_bad_data(tmp_path, capsys) -> None:
    def run(data: Path, scale: str = "2") -> list[str]:
        return ["evaluate", "bicubic", "--data", str(data), "--scale", scale]

    _fails_naming(capsys, run(tmp_path / "missing"), tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    _fails_naming(capsys, run(tmp_path / "empty"), tmp_path / "empty")
    (tmp_path / "empty_hr" / "HR").mkdir(parents=True)
    _fails_naming(capsys, run(tmp_path / "empty_hr"), tmp_path / "empty_hr" / "HR")

    good = _tiny_set(tmp_path / "good")
    err = _fails_naming(capsys, run(good, "5"), good)
    assert "valid scales: 2, 3, 4" in err

    corrupt = _tiny_set(tmp_path / "corrupt")
    png = corrupt / "HR" / "a.png"
    png.write_bytes(png.read_bytes()[:200])  # truncated
    _fails_naming(capsys, run(corrupt), png)

    mismatch = _tiny_set(tmp_path / "mismatch")
    lr = mismatch / "LR_bicubic" / "X2" / "ax2.png"
    save_image(_rand((11, 12, 3)), lr)
    assert "needs 12x12" in _fails_naming(capsys, run(mismatch), lr)


def test_data_list(capsys) -> None:
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("set5", "set14", "b100", "urban100", "div2k"):
        assert name in out
    assert "benchmark.tar" in out and "data.vision.ee.ethz.ch" in out

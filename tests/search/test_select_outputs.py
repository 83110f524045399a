"""What `select`, `upscale` and `report` refuse to write, and what `upscale` refuses to run: every
case is one line on stderr and a non-zero exit, before any work, and the user's files untouched."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from blocks.build import build_network
from blocks.errors import UserError
from blocks.specs import NetSpec, block_spec, save_spec_file
from reports.errors import ReportError
from search.cli import build_parser, main
from search.proxies import get_protocol
from search.select_cli import _load_spec_and_module
from search.train import ProxyUpscaler, TrainResult, save_outputs

SPEC = NetSpec("distill", 2, (block_spec("rfdb", 8),), "lrelu")
NO_STUDY = ["--study", "a", "--device", "host-cpu", "--quiet"]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("distillnas"), err
    return err


def _image(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (10, 12, 3), np.uint8)).save(path)
    return path


def _model_dir(path: Path, *, export: str | None = '{"residual": "bicubic"}') -> Path:
    """A folder as `select` writes it (spec.json, weights.pt, export.json), of a tiny net."""
    path.mkdir()
    save_spec_file(SPEC, path / "spec.json")
    torch.save(build_network(SPEC).state_dict(), path / "weights.pt")
    if export is not None:
        (path / "export.json").write_text(export)
    return path


def _storage(tmp_path: Path) -> list[str]:
    return ["--storage", f"journal:///{tmp_path / 'no-study.log'}"]


def test_select_refuses_a_non_empty_out_before_any_work(capsys, tmp_path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "weights.pt").write_text("the user's own weights")
    (mine / "spec.json").write_text("{}")
    # the storage holds no study: the folder is refused before the study is even read
    assert main(["select", *NO_STUDY, *_storage(tmp_path), "--out", str(mine)]) == 2
    err = _one_line_error(capsys)
    assert str(mine) in err and "not empty" in err and "--force" in err
    assert (mine / "weights.pt").read_text() == "the user's own weights"
    assert sorted(p.name for p in mine.iterdir()) == ["spec.json", "weights.pt"]
    assert main(["select", *NO_STUDY, *_storage(tmp_path), "--out", str(mine / "spec.json")]) == 2
    assert "is a file, not a folder" in _one_line_error(capsys)


def test_select_and_report_refuse_an_empty_out_in_the_command(tmp_path, monkeypatch) -> None:
    # `main` may refuse an empty argument first; the commands themselves refuse it too
    monkeypatch.chdir(tmp_path)  # an empty path would have meant this folder
    storage = _storage(tmp_path)
    args = build_parser().parse_args(["select", *NO_STUDY, *storage, "--out", "x"])
    args.out = ""
    with pytest.raises(UserError, match="--out is empty"):
        args.func(args)
    args = build_parser().parse_args(["report", "--study", "a", *storage, "--out", "x"])
    args.out = ""
    with pytest.raises(ReportError, match="--out is empty"):
        args.func(args)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("budget", [["--train-steps", "0"], ["--minutes", "0"],
                                    ["--train-steps", "-1"], ["--minutes", "nan"]])
def test_select_training_budget_must_be_positive(capsys, tmp_path, budget) -> None:
    out = tmp_path / "m"
    assert main(["select", *NO_STUDY, *_storage(tmp_path), "--out", str(out), *budget]) == 2
    err = _one_line_error(capsys)
    assert budget[0] in err and "positive" in err
    assert not out.exists()


def test_upscale_never_overwrites_its_input(capsys, tmp_path, monkeypatch) -> None:
    model = _model_dir(tmp_path / "model")
    img = _image(tmp_path / "in.png")
    before = img.read_bytes()
    monkeypatch.chdir(tmp_path)
    for out, force in (("in.png", []), ("./in.png", []), (str(img), ["--force"])):
        assert main(["upscale", "--model", str(model), "in.png", "--out", out, *force]) == 2
        assert "is the input image" in _one_line_error(capsys)
    assert img.read_bytes() == before


def test_upscale_refuses_an_existing_out_unless_forced(capsys, tmp_path) -> None:
    model = _model_dir(tmp_path / "model")
    img = _image(tmp_path / "in.png")
    existing = tmp_path / "existing.png"
    existing.write_bytes(b"the user's own picture")
    argv = ["upscale", "--model", str(model), str(img), "--out", str(existing)]
    assert main(argv) == 2
    err = _one_line_error(capsys)
    assert str(existing) in err and "--force" in err
    assert existing.read_bytes() == b"the user's own picture"
    assert main([*argv, "--force"]) == 0
    assert Image.open(existing).size == (24, 20)


@pytest.mark.parametrize("out, says", [
    ("adir", "is a folder"),
    ("newdir/", "is a folder"),
    ("noext", "has no file extension"),
    ("x.xyz", "cannot write '.xyz' images"),
])
def test_upscale_out_must_name_an_image_file(capsys, tmp_path, monkeypatch, out, says) -> None:
    model = _model_dir(tmp_path / "model")
    img = _image(tmp_path / "in.png")
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["upscale", "--model", str(model), str(img), "--out", out]) == 2
    err = _one_line_error(capsys)
    assert says in err and "unknown file extension" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "in.png", "model"]


def test_upscale_refuses_an_empty_out_in_the_command(tmp_path, monkeypatch) -> None:
    model = _model_dir(tmp_path / "model")
    img = _image(tmp_path / "in.png")
    args = build_parser().parse_args(["upscale", "--model", str(model), str(img), "--out", "x"])
    args.out = ""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="--out is empty"):
        args.func(args)


@pytest.mark.parametrize("residual", ["bicubic", None])
def test_upscale_runs_a_train_folder_with_its_residual(capsys, tmp_path, residual) -> None:
    # what `distillnas train` writes: weights.pt, spec.json, train.json (no export.json); with
    # zero weights the net adds nothing, so the output is the bicubic upsample, or black
    folder = tmp_path / "tr"
    zeros = {k: torch.zeros_like(v) for k, v in build_network(SPEC).state_dict().items()}
    result = TrainResult(status="complete", steps=1, psnr_y_db=math.nan, ssim_y=math.nan,
                         curve=[], train_seconds=0.0, eval_seconds=0.0, seconds_per_step=0.0,
                         protocol="demo", weights=zeros)
    protocol = replace(get_protocol("demo"), residual=residual)
    save_outputs(folder, result, spec=SPEC, protocol=protocol)
    assert json.loads((folder / "train.json").read_text())["protocol"]["residual"] == residual
    assert not (folder / "export.json").exists()
    spec, model = _load_spec_and_module(folder)
    assert isinstance(model, ProxyUpscaler) and model.residual == residual
    img = _image(tmp_path / "in.png")
    out = tmp_path / "o.png"
    assert main(["upscale", "--model", str(folder), str(img), "--out", str(out)]) == 0
    mean = np.asarray(Image.open(out), float).mean()
    assert (mean > 50) if residual else (mean == 0)


def test_upscale_refuses_a_folder_that_does_not_say_its_residual(capsys, tmp_path) -> None:
    model = _model_dir(tmp_path / "model", export=None)
    img = _image(tmp_path / "in.png")
    assert main(["upscale", "--model", str(model), str(img), "--out", str(tmp_path / "o.png")]) == 2
    err = _one_line_error(capsys)
    assert "export.json" in err and "train.json" in err and "residual" in err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("text, says", [
    ('{"residual": "foo"}', "unknown residual 'foo'"),
    ("[1]", "expected a JSON object, got list"),
    ("not json", "not readable JSON"),
    ('{"key": "x"}', 'no "residual" entry'),
])
def test_upscale_refuses_a_bad_export_json(capsys, tmp_path, text, says) -> None:
    model = _model_dir(tmp_path / "model", export=text)
    img = _image(tmp_path / "in.png")
    assert main(["upscale", "--model", str(model), str(img), "--out", str(tmp_path / "o.png")]) == 2
    err = _one_line_error(capsys)
    assert "export.json" in err and says in err and "internal error" not in err
    assert not (tmp_path / "o.png").exists()


def test_upscale_torchscript_weights_is_one_line_without_torch_warning(capsys, tmp_path) -> None:
    from profiles.export import export_torchscript

    model = _model_dir(tmp_path / "model")
    net = ProxyUpscaler(build_network(SPEC), 2, residual="bicubic").eval()
    export_torchscript(net, model / "weights.pt", example_hw=(8, 8))
    img = _image(tmp_path / "in.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = main(["upscale", "--model", str(model), str(img), "--out", str(tmp_path / "o.png")])
    assert rc == 2
    assert [str(w.message) for w in caught if "TorchScript" in str(w.message)] == []
    err = _one_line_error(capsys)
    assert "weights.pt" in err and "TorchScript archive, not a state_dict" in err

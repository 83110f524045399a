"""The ``train`` command: options, outputs, resume."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from blocks.build import build_network
from blocks.errors import UserError
from blocks.specs import NetSpec, block_spec, load_spec_file, save_spec_file
from search.train_cli import register

SPEC = NetSpec("distill", 2, (block_spec("rfdb", 8), block_spec("rfdb", 8)), "lrelu")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="distillnas")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DISTILLNAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DISTILLNAS_DATA", raising=False)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for folder, n, size in (
        ("T91", 2, (100, 104)),
        ("BSD200", 1, (98, 110)),
        ("Set5/HR", 1, (40, 44)),
    ):
        (root / folder).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / folder / f"im{i}.png")
    spec_file = save_spec_file(SPEC, root / "tiny.json")
    return root, spec_file


def test_steps_and_minutes_are_mutually_exclusive(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(["train", "e_rfdn", "--steps", "3", "--minutes", "1"])
    assert exc.value.code == 2 and "not allowed with" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["train", "e_rfdn", "--steps", "0"])
    args = parse(["train", "e_rfdn", "--minutes", "0.5"])
    assert args.minutes == 0.5 and args.steps is None and args.proxy == "medium"


def test_train_writes_outputs_and_resumes(setup, tmp_path, capsys) -> None:
    root, spec_file = setup
    out = tmp_path / "run"
    argv = [
        "train",
        str(spec_file),
        "--steps",
        "3",
        "--proxy",
        "quick",
        "--data",
        str(root),
        "--out",
        str(out),
        "--threads",
        "1",
        "--no-progress",
        "--json",
    ]
    args = parse(argv)
    assert args.func(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "complete" and printed["steps"] == 3
    for name in ("weights.pt", "spec.json", "train.json", "checkpoint.pt"):
        assert (out / name).is_file(), name
    assert load_spec_file(out / "spec.json") == SPEC
    build_network(SPEC).load_state_dict(torch.load(out / "weights.pt", weights_only=True))
    record = json.loads((out / "train.json").read_text())
    assert record["protocol"]["name"] == "quick" and record["protocol"]["steps"] == 3
    assert record["data"]["source"] == "t91+bsd200" and len(record["result"]["curve"]) == 1
    # the same command again resumes (here: finds the run complete) instead of retraining
    args = parse(argv)
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["resumed_from_step"] == 3


def test_residual_override_and_human_output(setup, tmp_path, capsys) -> None:
    root, spec_file = setup
    args = parse(
        [
            "train",
            str(spec_file),
            "--steps",
            "2",
            "--proxy",
            "quick",
            "--data",
            str(root),
            "--out",
            str(tmp_path / "r"),
            "--residual",
            "none",
            "--no-progress",
            "--scale",
            "3",
            "--threads",
            "1",
        ]
    )
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "x3" in text and "Y-PSNR" in text and "not a standalone" not in text
    record = json.loads((tmp_path / "r" / "train.json").read_text())
    assert record["protocol"]["residual"] is None and record["spec"]["scale"] == 3


def test_user_errors(setup, tmp_path) -> None:
    root, spec_file = setup
    args = parse(["train", str(spec_file), "--proxy", "quik", "--data", str(root)])
    with pytest.raises(UserError, match="known: demo, medium, paper, quick"):
        args.func(args)
    args = parse(["train", str(tmp_path / "missing.json"), "--data", str(root)])
    with pytest.raises(UserError, match="not found"):
        args.func(args)


@pytest.fixture
def no_training(monkeypatch) -> None:
    """Any training fails the test: the checks must come before the work."""
    import search.train

    def refuse(*args, **kwargs):
        raise AssertionError("trained before checking the arguments")

    monkeypatch.setattr(search.train, "train", refuse)


def _train_args(spec_file: Path, out: Path, *extra: str) -> argparse.Namespace:
    return parse(["train", str(spec_file), "--proxy", "demo", "--steps", "2", "--no-progress",
                  "--threads", "1", "--out", str(out), *extra])


@pytest.mark.usefixtures("no_training")
def test_an_export_folder_is_refused_and_kept(setup, tmp_path) -> None:
    _, spec_file = setup
    out = tmp_path / "exported"
    out.mkdir()
    files = {n: f"{n} of the exported model" for n in
             ("export.json", "model.onnx", "model.ts", "weights.pt", "spec.json", "MODEL_CARD.md")}
    for name, text in files.items():
        (out / name).write_text(text)
    for extra in ((), ("--no-resume",)):
        with pytest.raises(UserError, match="holds an exported model .*export.json"):
            args = _train_args(spec_file, out, *extra)
            args.func(args)
    assert {p.name: p.read_text() for p in out.iterdir()} == files


@pytest.mark.usefixtures("no_training")
def test_outputs_without_a_training_checkpoint_are_not_overwritten(setup, tmp_path) -> None:
    _, spec_file = setup
    out = tmp_path / "other"
    out.mkdir()
    (out / "weights.pt").write_text("someone else's weights")
    args = _train_args(spec_file, out, "--no-resume")
    with pytest.raises(UserError, match=r"already holds weights.pt but no checkpoint.pt"):
        args.func(args)
    (out / "checkpoint.pt").write_text("not a checkpoint")
    with pytest.raises(UserError, match="not a readable training checkpoint"):
        args.func(args)
    assert (out / "weights.pt").read_text() == "someone else's weights"


@pytest.mark.usefixtures("no_training")
def test_data_that_is_missing_or_unused_is_refused(setup, tmp_path) -> None:
    root, spec_file = setup
    args = _train_args(spec_file, tmp_path / "a", "--data", str(root))
    with pytest.raises(UserError, match="--data is not used by proxy 'demo'.*embedded"):
        args.func(args)
    args = parse(["train", str(spec_file), "--proxy", "quick", "--data", str(tmp_path / "nosuch"),
                  "--out", str(tmp_path / "b")])
    with pytest.raises(UserError, match="nosuch: no such folder"):
        args.func(args)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("threads", ["0", "1025", "100000"])
def test_threads_beyond_what_torch_survives_are_usage_errors(capsys, threads: str) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(["train", "e_rfdn", "--threads", threads])
    assert exc.value.code == 2
    assert "expected a thread count from 1 to 1024" in capsys.readouterr().err
    assert parse(["train", "e_rfdn", "--threads", "1024"]).threads == 1024

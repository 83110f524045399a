"""``distillnas supernet train``: bad --out, --data, --hours and --threads fail before training."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

import search.supernet
from blocks.errors import UserError
from search.supernet_cli import register
from tests.tiny_setup import TINY_SPACE_YAML

TRAIN = ["supernet", "train", "--space", "demo", "--recipe", "demo", "--steps", "2", "--quiet"]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="distillnas")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def run(*extra: str) -> int:
    args = parse([*TRAIN, *extra])
    return args.func(args)


@pytest.fixture(autouse=True)
def _threads_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILLNAS_CACHE", str(tmp_path / "cache"))
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def no_training(monkeypatch) -> None:
    """Any training fails the test: the checks must come before the work."""

    def refuse(*args, **kwargs):
        raise AssertionError("trained before checking the arguments")

    monkeypatch.setattr(search.supernet, "train_supernet", refuse)


@pytest.mark.usefixtures("no_training")
def test_an_existing_file_that_is_not_a_supernet_is_kept(tmp_path: Path) -> None:
    keep = tmp_path / "notck.pt"
    keep.write_text("keep me")
    with pytest.raises(UserError, match="is not a supernet checkpoint; not overwriting it"):
        run("--out", str(keep))
    torch.save({"format": "distillnas-train-checkpoint/1"}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="is not a supernet checkpoint"):
        run("--out", str(tmp_path / "other.pt"))
    assert keep.read_text() == "keep me"


@pytest.mark.usefixtures("no_training")
def test_an_empty_folder_or_unwritable_out_fails_before_training(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--out is empty"):
        run("--out", "")
    with pytest.raises(UserError, match="is a folder"):
        run("--out", str(tmp_path))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot write to output folder"):
        run("--out", str(blocker / "s.pt"))
    if Path("/proc").is_dir():  # Linux: a folder nobody can create files in
        with pytest.raises(UserError, match="cannot write to output folder /proc"):
            run("--out", "/proc/distillnas-supernet.pt")
    assert blocker.read_text() == "x"


@pytest.mark.usefixtures("no_training")
def test_data_that_is_missing_or_unused_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--data is not used by proxy 'demo'.*embedded"):
        run("--data", str(tmp_path), "--out", str(tmp_path / "s.pt"))
    args = parse([*TRAIN[:4], "--recipe", "quick", "--data", str(tmp_path / "nosuch"),
                  "--out", str(tmp_path / "s.pt")])
    with pytest.raises(UserError, match="nosuch: no such folder"):
        args.func(args)
    assert not (tmp_path / "s.pt").exists()


@pytest.mark.parametrize("option, value, says", [
    ("--hours", "-1", "expected a positive number"),
    ("--hours", "0", "expected a positive number"),
    ("--hours", "nan", "expected a positive number"),
    ("--hours", "inf", "expected a positive number"),
    ("--threads", "100000", "expected a thread count from 1 to 1024"),
    ("--threads", "0", "expected a thread count from 1 to 1024"),
    ("--channels", "16,100000", "widths go up to 1024"),
])
def test_hours_and_threads_out_of_range_are_usage_errors(
    capsys, tmp_path: Path, option: str, value: str, says: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        run(option, value, "--out", str(tmp_path / "s.pt"))
    assert exc.value.code == 2 and says in capsys.readouterr().err


def test_a_supernet_file_passes_the_check_and_reaches_training(tmp_path, monkeypatch) -> None:
    out = tmp_path / "s.pt"
    torch.save({"format": search.supernet.STORE_FORMAT}, out)
    seen = {}

    def fake(plan, data, *, checkpoint, **kwargs):
        seen["checkpoint"] = checkpoint
        return {"step": 2, "done": True, "loss": [], "cpu_seconds": 0.0}

    monkeypatch.setattr(search.supernet, "train_supernet", fake)
    assert run("--out", str(out)) == 0
    assert Path(seen["checkpoint"]) == out


@pytest.mark.slow
def test_its_own_checkpoint_is_resumed(tmp_path: Path, capsys) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE_YAML)
    out = tmp_path / "sub" / "s.pt"
    argv = ["supernet", "train", "--space", str(space), "--recipe", "demo", "--steps", "2",
            "--quiet", "--threads", "1", "--hours", "0.5", "--out", str(out)]
    args = parse(argv)
    assert args.func(args) == 0 and out.is_file()
    assert "done at step 2/2" in capsys.readouterr().out
    args = parse(argv)  # the same command again: the file is a supernet, so it resumes
    assert args.func(args) == 0
    assert "done at step 2/2" in capsys.readouterr().out

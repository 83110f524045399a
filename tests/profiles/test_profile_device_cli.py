"""``distillnas profile-device``: bad --out, counts and thread numbers are refused before timing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import profiles.latency_table
from blocks.errors import UserError
from blocks.specs import block_spec
from profiles import devices_cli
from profiles.devices import MAX_THREADS
from profiles.latency_table import load_table

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = ["--input", "8x8", "--runs", "1", "--warmup", "0", "--quiet"]


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    devices_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def blocks(tmp_path: Path) -> Path:
    path = tmp_path / "blocks.json"
    path.write_text(json.dumps([block_spec("rfdb", 8).to_dict()]))
    return path


@pytest.fixture
def no_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any measurement fails the test: the checks must come before the work."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("measured before checking --out")

    monkeypatch.setattr(profiles.latency_table, "measure_table", refuse)
    monkeypatch.setattr(profiles.latency_table, "measure_space_table", refuse)


def _profile(blocks: Path, out: str, *extra: str) -> int:
    return _cli(["profile-device", "--blocks", str(blocks), *FAST, "--calibration", "0",
                 "--validation", "0", "--out", out, *extra])


@pytest.mark.usefixtures("no_timing")
def test_an_existing_file_that_is_not_a_table_is_kept(blocks: Path, tmp_path: Path) -> None:
    keep = tmp_path / "existing.json"
    keep.write_text("keep me")
    with pytest.raises(UserError, match="exists and is not a latency table; not overwriting"):
        _profile(blocks, str(keep))
    assert keep.read_text() == "keep me"


@pytest.mark.usefixtures("no_timing")
def test_a_folder_or_an_unwritable_out_fails_before_timing(blocks: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a folder"):
        _profile(blocks, str(tmp_path))
    with pytest.raises(UserError, match="--out is empty"):
        _profile(blocks, "")
    if Path("/proc/self/status").is_file():  # Linux: a folder nobody can create files in
        with pytest.raises(UserError, match="not a latency table"):
            _profile(blocks, "/proc/self/status")
        with pytest.raises(UserError, match="cannot write to output folder /proc"):
            _profile(blocks, "/proc/distillnas-table.json")


def test_a_table_it_wrote_is_replaced(blocks: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    assert _profile(blocks, str(out)) == 0
    first = load_table(out)
    assert _profile(blocks, str(out), "--seed", "1") == 0
    assert load_table(out).input_hw == first.input_hw == (8, 8)


@pytest.mark.parametrize("option, value", [
    ("--calibration", "-5"),
    ("--validation", "-3"),
    ("--calibration", "x"),
    ("--threads", str(MAX_THREADS + 1)),
    ("--threads", "100000"),
    ("--threads", "0"),
])
def test_counts_and_threads_out_of_range_are_usage_errors(
    blocks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        _profile(blocks, str(tmp_path / "t.json"), option, value)
    assert exc.value.code == 2
    assert f"argument {option}: expected" in capsys.readouterr().err
    assert not (tmp_path / "t.json").exists()


def test_zero_counts_and_max_threads_are_accepted() -> None:
    parser = argparse.ArgumentParser()
    devices_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["profile-device", "--out", "t.json", "--calibration", "0",
                              "--validation", "0", "--threads", str(MAX_THREADS)])
    assert (args.calibration, args.validation, args.threads) == (0, 0, MAX_THREADS)


@pytest.mark.usefixtures("no_timing")
def test_channels_that_miss_a_block_width_are_refused_before_timing(tmp_path: Path) -> None:
    """channels [9] beside a width-8 block failed only after the measurement ("lacks
    'stem:c8@8x8'"): the calibration nets need the stem at every block width."""
    path = tmp_path / "blocks.json"
    path.write_text(json.dumps({"blocks": [block_spec("rfdb", 8).to_dict()], "channels": [9]}))
    with pytest.raises(UserError, match=r"channels \[9\] lack the block width\(s\) \[8\]"):
        _profile(path, str(tmp_path / "t.json"))
    path.write_text(json.dumps({"blocks": [block_spec("rfdb", 8).to_dict()], "channels": [8, 9]}))
    assert devices_cli.load_block_file(str(path))["channels_list"] == [8, 9]

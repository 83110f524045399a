"""Arguments no command can take: an empty value, and torch thread counts that would crash."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from profiles.devices import MAX_THREADS, load_device
from profiles.latency import torch_threads
from search.cli import main


@pytest.mark.parametrize("argv, says", [
    (["search", "--space", "demo", "--storage", ""], "an empty value after --storage"),
    (["select", "--out=", "--study", "a"], "an empty value after --out"),
    (["profile", ""], "an empty argument was given"),
    (["evaluate", "bicubic", "--scale", "2", "--data", ""], "an empty value after --data"),
])
def test_an_empty_argument_is_a_one_line_usage_error_before_anything_runs(
        capsys, tmp_path, monkeypatch, argv, says) -> None:
    monkeypatch.chdir(tmp_path)  # an empty path would have meant this folder
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"distillnas: error: {says} (see --help)\n"
    assert list(tmp_path.iterdir()) == []


def test_an_empty_value_after_a_double_dash_is_left_to_the_command() -> None:
    from search.cli import _empty_argument

    assert _empty_argument(["upscale", "--", ""]) is None
    assert _empty_argument(["search", "--space", "demo"]) is None


def test_profile_refuses_a_thread_count_torch_would_crash_on(capsys) -> None:
    assert main(["profile", "rfdn", "--threads", str(MAX_THREADS + 1)]) == 2
    assert f"--threads must be at most {MAX_THREADS}" in capsys.readouterr().err
    before = torch.get_num_threads()
    with pytest.raises(Exception, match=f"threads must be 1..{MAX_THREADS}"):
        with torch_threads(100000):
            pass
    assert torch.get_num_threads() == before


def test_a_device_profile_with_absurd_threads_is_refused_on_load(tmp_path: Path) -> None:
    path = tmp_path / "dev.yaml"
    path.write_text("name: big\ndescription: x\ninput_hw: [8, 8]\nthreads: 100000\n"
                    "budgets: {}\nlatency: {method: measured, backend: eager}\n")
    with pytest.raises(Exception, match=f"threads must be at most {MAX_THREADS}; got 100000"):
        load_device(str(path))

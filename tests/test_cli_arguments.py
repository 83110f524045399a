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


@pytest.mark.parametrize("argv, flag", [
    (["train", "rfdn", "--scale", "2", "--device", "meta"], "--device"),
    (["evaluate", "bicubic", "--scale", "2", "--device", "meta"], "--device"),
    (["search", "--space", "demo", "--train-device", "meta"], "--train-device"),
    (["select", "--study", "a", "--storage", "x", "--device", "host-cpu", "--out", "o",
      "--train-device", "cuda:x"], "--train-device"),
    (["supernet", "train", "--space", "demo", "--out", "x.pt", "--train-device", "meta"],
     "--train-device"),
])
def test_a_torch_device_no_command_can_train_on_is_a_usage_error(
        capsys, tmp_path, monkeypatch, argv, flag) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2  # 'meta' was an internal error from deep inside training
    err = capsys.readouterr().err
    assert f"argument {flag}: expected a torch device such as cpu, cuda or cuda:1" in err
    assert err.count("\n") == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("exc", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory"),
    MemoryError("cannot allocate"),
])
def test_a_failed_allocation_is_a_user_error_not_an_internal_one(capsys, monkeypatch, exc) -> None:
    import profiles.cli

    def run_out_of_memory(args):  # what `profile rfdn --input 99999x99999` raised
        raise exc

    monkeypatch.setattr(profiles.cli, "profile_row", run_out_of_memory)
    assert main(["profile", "rfdn"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("distillnas: error: out of memory (a smaller --input, width or batch")
    assert "internal error" not in err and err.count("\n") == 1


def test_another_runtime_error_stays_an_internal_error(capsys, monkeypatch) -> None:
    import profiles.cli

    def broken(args):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(profiles.cli, "profile_row", broken)
    assert main(["profile", "rfdn"]) == 1
    assert "internal error: RuntimeError: shape mismatch" in capsys.readouterr().err



def test_a_torchscript_file_given_as_a_checkpoint_is_one_line_without_torch_warning(
        tmp_path) -> None:
    import subprocess
    import sys

    path = tmp_path / "model.ts"
    torch.jit.script(torch.nn.Conv2d(1, 1, 1)).save(str(path))
    run = subprocess.run([sys.executable, "-m", "search.cli", "supernet", "info", str(path)],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                         timeout=120)  # a real process: pytest would swallow the warning
    assert run.returncode == 2
    assert run.stderr == f"distillnas: error: {path}: not a supernet checkpoint (torch.load " \
                         "failed: RuntimeError)\n"  # torch's two-line UserWarning came first

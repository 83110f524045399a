"""``distillnas profile``: the NTIRE-style row, --json fields, modes, latency options, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from blocks.specs import NetSpec, block_spec, save_spec_file
from blocks.zoo import zoo_spec
from search.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    threads = torch.get_num_threads()
    rc = main(["profile", *argv])
    assert torch.get_num_threads() == threads  # --threads is restored
    out, err = capsys.readouterr()
    return rc, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    rc, out, err = run(capsys, *argv, "--json")
    assert rc == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def tiny_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-block 8-channel x2 network as a YAML spec file: fast to count, time and export."""
    spec = NetSpec("distill", 2, (block_spec("rfdb", 8),), "lrelu")
    return save_spec_file(spec, tmp_path_factory.mktemp("spec") / "tiny.yaml")


def test_ntire_row_for_erfdn(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "e_rfdn", "--threads", "1")
    assert rc == 0 and err == ""
    head, row = out.strip().splitlines()
    assert head.split()[:5] == ["model", "scale", "mode", "input", "params"]
    for cell in (
        "e_rfdn",
        "x4",
        "ntire",
        "256x256",
        "433,448",
        "27.03G",
        "54.07G",
        "27.10G",
        "112.03M",
        "64",
        "MiB",
    ):
        assert cell in row.split(), cell


def test_json_fields_in_ntire_mode(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "lrfdn")
    assert (d["params"], d["ntire_flops"], d["activations"], d["convs"]) == (
        198_032,
        11_231_835_264,
        86_182_080,
        56,
    )
    assert d["flops"] == 2 * d["macs"]
    assert d["mode"] == "ntire" and d["input_hw"] == [256, 256]
    assert d["peak_memory_mib"] > 0 and d["peak_memory_method"] == "tensors"
    assert d["key"] == zoo_spec("lrfdn", 4).key()
    assert "latency_ms" not in d


def test_paper_mode_json(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "imdn", "--mode", "paper", "--scale", "4")
    assert d["macs"] == 40_885_865_472 and d["input_hw"] == [180, 320]
    assert "ntire_flops" not in d  # only the ntire mode reports the challenge's figure


def test_plain_mode_from_input_and_spec_file(
    capsys: pytest.CaptureFixture[str], tiny_spec: Path
) -> None:
    d = run_json(capsys, str(tiny_spec), "--input", "24x40")
    assert d["mode"] == "plain" and d["input_hw"] == [24, 40] and d["scale"] == 2
    assert d["model"] == "tiny"
    d3 = run_json(capsys, str(tiny_spec), "--input", "24x40", "--scale", "3")
    assert d3["scale"] == 3 and d3["macs"] > d["macs"]  # a wider upsampler conv
    rc, out, _ = run(capsys, str(tiny_spec), "--mode", "plain", "--input", "24x40")
    assert rc == 0 and "plain" in out and "-" in out.split()  # no NTIRE figure outside ntire


@pytest.mark.parametrize("bad", ["12x", "0x5", "abc", "5x-3", "x12"])
def test_malformed_input_size(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    rc, out, err = run(capsys, "e_rfdn", "--input", bad)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "HxW" in err and "256x256" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope"], "zoo models: drfdn, drn, e_rfdn"),
        (["e_rfdn", "--mode", "fast"], "known: ntire, paper, plain"),
        (["e_rfdn", "--mode", "plain"], "--mode plain needs --input HxW"),
        (["e_rfdn", "--mode", "ntire", "--input", "64x64"], "--input needs --mode plain"),
        (["e_rfdn", "--scale", "5"], "scale must be one of 2, 3, 4"),
        (["e_rfdn", "--scale", "two"], "--scale takes a positive integer"),
        (["e_rfdn", "--threads", "0"], "--threads takes a positive integer"),
        (["e_rfdn", "--runs", "5"], "--runs applies only to a latency measurement"),
        (["missing.yaml"], "spec file not found"),
    ],
)
def test_user_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_crosscheck_option(capsys: pytest.CaptureFixture[str], tiny_spec: Path) -> None:
    pytest.importorskip("ptflops")
    pytest.importorskip("thop")
    d = run_json(capsys, str(tiny_spec), "--input", "16x16", "--crosscheck")
    cc = d["crosscheck"]
    assert cc["flopcounter_macs"] == cc["thop_macs"] == d["macs"]
    assert cc["ptflops_aten_macs"] > d["macs"]  # bias adds
    rc, out, _ = run(capsys, str(tiny_spec), "--input", "16x16", "--crosscheck")
    assert rc == 0 and "ptflops[pytorch]" in out and "FlopCounterMode/2" in out


# ------------------------------------------------------------------------------------------------
# latency options (profiles.latency / profiles.devices belong to the latency work)


def test_backend_latency_fields(capsys: pytest.CaptureFixture[str], tiny_spec: Path) -> None:
    pytest.importorskip("profiles.latency")
    d = run_json(
        capsys,
        str(tiny_spec),
        "--input",
        "16x16",
        "--backend",
        "eager",
        "--runs",
        "3",
        "--threads",
        "1",
    )
    assert d["latency_ms"] > 0 and d["latency_iqr_ms"] >= 0
    ctx = d["context"]
    assert ctx["backend"] == "eager" and ctx["threads"] == 1 and ctx["input_hw"] == [16, 16]
    rc, out, _ = run(
        capsys, str(tiny_spec), "--input", "16x16", "--backend", "eager", "--runs", "3"
    )
    assert rc == 0 and "latency (IQR)" in out and " ms" in out


def test_unknown_backend_and_device(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("profiles.latency")
    pytest.importorskip("profiles.devices")
    rc, _, err = run(capsys, "e_rfdn", "--backend", "tensorrt")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "eager" in err
    rc, _, err = run(capsys, "e_rfdn", "--device", "pdp11")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "host-cpu" in err
    rc, _, err = run(capsys, "e_rfdn", "--device", "host-cpu", "--backend", "eager")
    assert rc == 2 and "not both" in err


@pytest.mark.slow
def test_device_counts_at_its_input_size(
    capsys: pytest.CaptureFixture[str], tiny_spec: Path
) -> None:
    pytest.importorskip("profiles.devices")
    from profiles.devices import load_device

    device = load_device("host-cpu")
    d = run_json(capsys, str(tiny_spec), "--device", "host-cpu", "--runs", "2")
    assert d["input_hw"] == list(device.input_hw) and d["mode"] == "plain"
    assert d["device"] == "host-cpu" and d["latency_ms"] > 0 and "context" in d
    rc, _, err = run(capsys, str(tiny_spec), "--device", "host-cpu", "--mode", "ntire")
    assert rc == 2 and "drop --mode/--input" in err

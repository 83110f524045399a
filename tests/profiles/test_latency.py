"""Latency backends: structure, context, threads, ONNX checking and failure reporting."""

from __future__ import annotations

import sys

import pytest
import torch

from blocks.errors import UserError
from profiles import latency
from profiles.export import ExportError
from profiles.latency import (
    ABResult,
    BackendFailure,
    LatencyResult,
    backend_names,
    compare_ab,
    cpu_model,
    measure_backends,
    measure_latency,
)
from tests.profiles.latency_helpers import FAST, Unexportable, one_torch_thread, tiny_net  # noqa: F401 (autouse fixture)

CONTEXT_KEYS = {
    "backend",
    "threads",
    "input_hw",
    "batch",
    "torch_version",
    "onnxruntime_version",
    "cpu_model",
    "device",
}


def test_backends_registered() -> None:
    assert backend_names() == ["channels_last", "eager", "onnxruntime", "torchscript"]


@pytest.mark.parametrize("backend", ["eager", "channels_last", "torchscript", "onnxruntime"])
def test_measure_latency_result_and_context(backend: str) -> None:
    r = measure_latency(tiny_net(), (17, 23), backend=backend, threads=1, **FAST)
    assert isinstance(r, LatencyResult)
    assert r.latency_ms > 0 and r.latency_iqr_ms >= 0
    assert r.runs == 3 and r.warmup == 1 and len(r.samples_ms) == 3
    assert CONTEXT_KEYS <= set(r.context)
    assert r.context["backend"] == backend
    assert r.context["threads"] == 1
    assert r.context["input_hw"] == [17, 23]
    assert r.context["batch"] == 1
    assert r.context["device"] == "host-cpu"
    assert r.context["torch_version"] == torch.__version__
    assert set(r.to_dict()) == {"latency_ms", "latency_iqr_ms", "runs", "warmup", "context"}


def test_onnx_output_checked_before_timing() -> None:
    r = measure_latency(tiny_net(), (17, 23), backend="onnxruntime", threads=1, **FAST)
    assert r.context["onnx_max_abs_diff"] <= r.context["onnx_tolerance"]
    assert r.context["onnx_opset"] == 17
    assert r.context["execution_provider"] == "CPUExecutionProvider"


def test_onnx_mismatch_is_not_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(latency, "check_onnx", lambda *a, **k: 1.0)
    out = measure_backends(
        tiny_net(), (17, 23), backends=["eager", "onnxruntime"], threads=1, **FAST
    )
    assert isinstance(out["eager"], LatencyResult)
    failure = out["onnxruntime"]
    assert isinstance(failure, BackendFailure) and failure.kind == "mismatch"
    assert "not timed" in failure.reason


def test_unexportable_model_is_reported_and_eager_still_runs() -> None:
    with pytest.raises(ExportError, match="ONNX export .* failed for Unexportable"):
        measure_latency(Unexportable(), (8, 8), backend="onnxruntime", threads=1, **FAST)
    out = measure_backends(
        Unexportable(), (8, 8), backends=["eager", "onnxruntime"], threads=1, **FAST
    )
    assert isinstance(out["eager"], LatencyResult)
    assert isinstance(out["onnxruntime"], BackendFailure)
    assert out["onnxruntime"].kind == "export"
    assert "linalg_svd" in out["onnxruntime"].reason


def test_missing_onnxruntime_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"pip install distillnas\[onnx\]"):
        measure_latency(tiny_net(), (16, 16), backend="onnxruntime", threads=1, **FAST)
    out = measure_backends(tiny_net(), (16, 16), backends=["onnxruntime"], threads=1, **FAST)
    assert out["onnxruntime"].kind == "missing-dependency"


def test_threads_are_restored() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = measure_latency(torch.nn.Conv2d(3, 3, 1), (4, 4), threads=2, warmup=0, runs=1)
        assert r.context["threads"] == 2
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_model_is_left_as_it_was() -> None:
    net = tiny_net().train()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    measure_latency(net, (16, 16), backend="channels_last", threads=1, **FAST)
    assert net.training
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert next(net.parameters()).is_contiguous()


def test_unknown_backend_lists_known() -> None:
    with pytest.raises(
        UserError,
        match="unknown latency backend 'tensorrt'; known: "
        "channels_last, eager, onnxruntime, torchscript",
    ):
        measure_latency(tiny_net(), (16, 16), backend="tensorrt")
    with pytest.raises(UserError, match="unknown latency backend"):
        measure_backends(tiny_net(), (16, 16), backends=["eager", "nope"])


@pytest.mark.parametrize("hw", [(0, 16), (16,), (16.0, 16), "16x16", (True, 4)])
def test_bad_input_size(hw: object) -> None:
    with pytest.raises(UserError, match="input size"):
        measure_latency(tiny_net(), hw, **FAST)  # type: ignore[arg-type]


@pytest.mark.parametrize("kw", [{"runs": 0}, {"warmup": -1}, {"threads": 0}, {"batch": 0}])
def test_bad_counts(kw: dict) -> None:
    with pytest.raises(UserError):
        measure_latency(tiny_net(), (16, 16), **{**FAST, **kw})


def test_batch_and_device_key_in_context() -> None:
    r = measure_latency(tiny_net(), (16, 16), batch=2, device="rpi4", threads=1, **FAST)
    assert r.context["batch"] == 2 and r.context["device"] == "rpi4"


def test_compare_ab_interleaved() -> None:
    ab = compare_ab(tiny_net(), tiny_net(3), (16, 16), threads=1, warmup=1, runs=4)
    assert isinstance(ab, ABResult)
    assert len(ab.a.samples_ms) == len(ab.b.samples_ms) == 4
    assert ab.ratio > 0 and ab.ratio_iqr >= 0
    assert ab.a.context["interleaved"].startswith("ab-ba")
    assert set(ab.to_dict()) == {"a", "b", "ratio_b_over_a", "ratio_iqr"}


def test_time_interleaved_alternates_order() -> None:
    calls: list[str] = []
    latency.time_interleaved(
        [lambda: calls.append("a"), lambda: calls.append("b")], warmup=1, runs=3
    )
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    calls.clear()
    latency.time_interleaved(
        [lambda: calls.append("a"), lambda: calls.append("b")], warmup=0, runs=2, settle=1
    )
    assert calls == ["a", "a", "b", "b", "b", "b", "a", "a"]


def test_cpu_model_named() -> None:
    assert isinstance(cpu_model(), str) and cpu_model()


def test_cpu_clock_needs_one_thread() -> None:
    r = measure_latency(tiny_net(), (16, 16), threads=1, clock="cpu", **FAST)
    assert r.context["clock"] == "cpu" and r.context["timer"] == "thread_time_ns"
    assert measure_latency(tiny_net(), (16, 16), threads=1, **FAST).context["clock"] == "wall"
    with pytest.raises(UserError, match="needs threads=1"):
        measure_latency(tiny_net(), (16, 16), threads=2, clock="cpu", **FAST)
    with pytest.raises(UserError, match="unknown clock 'gpu'; known: wall, cpu"):
        measure_latency(tiny_net(), (16, 16), threads=1, clock="gpu", **FAST)


def test_cpu_share_recorded() -> None:
    r = measure_latency(tiny_net(), (16, 16), threads=1, **FAST)
    assert r.context["cpu_share"] is None or r.context["cpu_share"] > 0

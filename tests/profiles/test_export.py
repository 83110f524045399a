"""ONNX / TorchScript export: one file, dynamic H/W, checked against torch on odd sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from profiles.export import (
    ONNX_OPSET,
    ExportError,
    check_onnx,
    example_input,
    export_onnx,
    export_torchscript,
)
from tests.profiles.latency_helpers import Unexportable, one_torch_thread, tiny_net  # noqa: F401 (autouse fixture)

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def test_export_is_one_file_with_opset_and_dynamic_axes(tmp_path: Path) -> None:
    path = export_onnx(tiny_net(), tmp_path / "net.onnx")
    assert path == tmp_path / "net.onnx"
    assert [p.name for p in tmp_path.iterdir()] == ["net.onnx"]  # no side .onnx.data file
    model = onnx.load(str(path))
    assert model.opset_import[0].version == ONNX_OPSET
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]


@pytest.mark.parametrize("hw", [(17, 23), (64, 64), (15, 31)])
def test_onnx_matches_torch_on_odd_sizes(tmp_path: Path, hw: tuple[int, int]) -> None:
    net = tiny_net(3)
    path = export_onnx(net, tmp_path / "net.onnx")
    x = example_input(hw, batch=2, seed=1)
    assert check_onnx(path, net, x) < 1e-4


def test_static_export_refuses_other_sizes(tmp_path: Path) -> None:
    net = tiny_net()
    path = export_onnx(net, tmp_path / "net.onnx", example_hw=(17, 23), dynamic_hw=False)
    assert check_onnx(path, net, example_input((17, 23))) < 1e-4
    with pytest.raises(ExportError, match="cannot run"):
        check_onnx(path, net, example_input((19, 23)))


def test_unexportable_raises_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="linalg_svd"):
        export_onnx(Unexportable(), tmp_path / "bad.onnx", example_hw=(8, 8))
    assert not (tmp_path / "bad.onnx").exists()


def test_export_keeps_training_mode(tmp_path: Path) -> None:
    net = tiny_net().train()
    export_onnx(net, tmp_path / "net.onnx")
    assert net.training


def test_torchscript_roundtrip(tmp_path: Path) -> None:
    net = tiny_net().eval()
    path = export_torchscript(net, tmp_path / "net.pt", example_hw=(17, 23))
    loaded = torch.jit.load(str(path))
    x = example_input((17, 23))
    with torch.no_grad():
        assert torch.allclose(loaded(x), net(x), atol=1e-5)

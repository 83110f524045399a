"""Latency tables: keys, JSON round trip, version checks, prediction from the table, the CLI."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from blocks.errors import UserError
from blocks.specs import NetSpec, block_spec
from blocks.zoo import zoo_spec
from profiles import devices_cli
from profiles.latency_table import (
    LatencyTable,
    PartLatency,
    TableFit,
    calibration_specs,
    fit_scale_offset,
    load_table,
    measure_space_table,
    measure_table,
    predict_latency_ms,
    predict_parts_ms,
    space_version_of,
    spearman,
    spec_parts,
)
from tests.profiles.latency_helpers import one_torch_thread, tiny_spec  # noqa: F401 (autouse)

HW = (16, 16)
BLOCKS = [block_spec("rfdb", 8), block_spec("drfdb", 8, conv="dcb"), block_spec("lrfdb", 8)]


@pytest.fixture(scope="module")
def table() -> LatencyTable:
    return measure_table(
        BLOCKS,
        input_hw=HW,
        scales=(2,),
        num_blocks_list=(1, 2),
        fuse_activations=("lrelu",),
        threads=1,
        runs=2,
        warmup=0,
        calibration=3,
        device="toy",
        seed=0,
    )


def test_table_keys_and_context(table: LatencyTable) -> None:
    assert set(table.entries) == {
        "block:rfdb.c8.standard-k3.d0.5.esa.lrelu@16x16",
        "block:drfdb.c8.dcb-k3.d0.5.esa.lrelu@16x16",
        "block:lrfdb.c8.standard-k3.d0.5.efsa.gelu.cw@16x16",
        "stem:c8@16x16",
        "lr_conv:c8@16x16",
        "up:x2.c8@16x16",
        "fuse:m1.c8.lrelu@16x16",
        "fuse:m2.c8.lrelu@16x16",
        "overhead:null@16x16",
    }
    assert all(v.latency_ms > 0 and v.latency_iqr_ms >= 0 for v in table.entries.values())
    d = table.to_dict()
    for key in (
        "device",
        "host_cpu",
        "backend",
        "threads",
        "input_hw",
        "torch_version",
        "onnxruntime_version",
        "space_version",
        "created",
        "fit",
        "entries",
    ):
        assert key in d
    assert d["device"] == "toy" and d["threads"] == 1 and d["input_hw"] == [16, 16]
    assert d["space_version"] == space_version_of(BLOCKS)
    assert len(table.fit.calibration) == 3
    assert table.fit.method in ("identity", "offset", "scale", "scale+offset")


def test_held_out_validation_recorded() -> None:
    t = measure_table(
        BLOCKS,
        input_hw=HW,
        scales=(2,),
        num_blocks_list=(1, 2),
        fuse_activations=("lrelu",),
        threads=1,
        runs=1,
        warmup=0,
        calibration=2,
        validation=3,
        seed=0,
    )
    cal = {c["key"] for c in t.fit.calibration}
    assert 1 <= len(t.validation) <= 3
    for v in t.validation:
        assert v["key"] not in cal
        assert v["measured_ms"] > 0 and math.isfinite(v["predicted_ms"])  # 1 run: no sign claim
    summary = t.to_dict()["validation"]["summary"]
    assert summary["nets"] == len(t.validation) and 0 <= summary["share_within_10pct"] <= 1


def test_spearman_helper() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2], [1, 2]) is None


def test_json_round_trip(table: LatencyTable, tmp_path: Path) -> None:
    path = table.save(tmp_path / "t.json")
    back = load_table(path, device="toy", space_version=table.space_version, input_hw=HW)
    assert back.entries == table.entries and back.fit.scale == table.fit.scale
    assert back.validation == table.validation and back.clock == table.clock
    assert back.input_hw == HW and back.path == path


def test_mismatches_are_one_line_errors(table: LatencyTable, tmp_path: Path) -> None:
    path = table.save(tmp_path / "t.json")
    with pytest.raises(UserError, match="measured on device 'toy', not 'rpi4'"):
        load_table(path, device="rpi4")
    with pytest.raises(UserError, match="is for space version 'blocks:.*', not 'other'"):
        load_table(path, space_version="other")
    with pytest.raises(UserError, match="measured at 16x16, not 32x32"):
        load_table(path, input_hw=(32, 32))
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(UserError, match="not a latency table"):
        load_table(tmp_path / "bad.json")
    with pytest.raises(UserError, match="not found"):
        load_table(tmp_path / "none.json")
    for exc_path in (path,):
        try:
            load_table(exc_path, device="rpi4")
        except UserError as exc:
            assert "\n" not in str(exc)


def test_missing_key_names_it(table: LatencyTable) -> None:
    spec = NetSpec("distill", 3, (BLOCKS[0],), "lrelu")  # no x3 upsampler was measured
    with pytest.raises(UserError, match="lacks 'up:x3.c8@16x16'"):
        predict_latency_ms(spec, table)
    other = NetSpec("distill", 2, (block_spec("rfdb", 8, attention="none"),), "lrelu")
    with pytest.raises(UserError, match="lacks 'block:rfdb.c8.standard-k3.d0.5.none.lrelu@16x16'"):
        predict_latency_ms(other, table)


def test_prediction_uses_the_table() -> None:
    spec = tiny_spec()
    parts = spec_parts(spec)
    entries = {f"{p}@16x16": PartLatency(float(i + 1), 0.0) for i, p in enumerate(parts)}
    t = LatencyTable(
        device="toy",
        host_cpu="cpu",
        backend="eager",
        threads=1,
        input_hw=HW,
        space_version="v",
        created="now",
        entries=entries,
        fit=TableFit(2.0, 1.0),
        runs=1,
        warmup=0,
    )
    total = sum(range(1, len(parts) + 1))
    assert predict_latency_ms(spec, t) == pytest.approx(2.0 * total + 1.0)
    assert sum(predict_parts_ms(spec, t).values()) == pytest.approx(total)
    bumped = dict(entries)
    bumped[f"{parts[1]}@16x16"] = PartLatency(100.0, 0.0)
    assert predict_latency_ms(spec, replace(t, entries=bumped)) > predict_latency_ms(spec, t)
    # the per-call overhead is taken off every part
    with_null = {**entries, "overhead:null@16x16": PartLatency(0.25, 0.0)}
    assert predict_latency_ms(spec, replace(t, entries=with_null)) == pytest.approx(
        2.0 * (total - 0.25 * len(parts)) + 1.0
    )


def test_parts_of_a_spec() -> None:
    spec = NetSpec("distill", 4, (BLOCKS[0], BLOCKS[0], BLOCKS[1]), "gelu")
    assert spec_parts(spec) == [
        "stem:c8",
        "block:" + BLOCKS[0].key(),
        "block:" + BLOCKS[0].key(),
        "block:" + BLOCKS[1].key(),
        "fuse:m3.c8.gelu",
        "lr_conv:c8",
        "up:x4.c8",
    ]
    aim = zoo_spec("imdn_baseline", 2)
    assert "fuse" not in " ".join(spec_parts(aim))
    with pytest.raises(UserError, match="skeleton 'fdiwn' is not decomposed"):
        spec_parts(zoo_spec("fdiwn", 2))


def test_fit_scale_offset() -> None:
    a, b, method = fit_scale_offset([1.0, 2.0, 4.0, 8.0], [2.0, 3.5, 6.5, 12.5])
    assert (a, b, method) == (pytest.approx(1.5), pytest.approx(0.5), "scale+offset")
    a, b, method = fit_scale_offset([1.0, 2.0, 4.0, 8.0], [1.5, 2.5, 4.5, 8.5])
    assert (a, b, method) == (pytest.approx(1.0), pytest.approx(0.5), "offset")
    assert fit_scale_offset([3.0], [4.0]) == (1.0, pytest.approx(1.0), "offset")
    assert fit_scale_offset([], []) == (1.0, 0.0, "identity")
    # an offset that would take away more than half of the smallest net is refused
    assert fit_scale_offset([4.0], [1.0]) == (1.0, 0.0, "identity")
    # a slope far from 1 is a fitting artefact and is refused
    assert fit_scale_offset([1.0, 2.0, 3.0], [30.0, 10.0, 1.0])[2] in ("identity", "offset")


def test_calibration_specs_seeded_and_distinct() -> None:
    kw = dict(scales=(2, 3), num_blocks_list=(1, 2, 3), fuse_activations=("lrelu",), count=4)
    a = calibration_specs(BLOCKS, seed=1, **kw)
    assert [s.key() for s in a] == [s.key() for s in calibration_specs(BLOCKS, seed=1, **kw)]
    assert len({s.key() for s in a}) == len(a) == 4


def test_bad_arguments() -> None:
    with pytest.raises(UserError, match="at least one block"):
        measure_table([], input_hw=HW)
    with pytest.raises(UserError, match="scales must be from"):
        measure_table(BLOCKS, input_hw=HW, scales=(5,))
    with pytest.raises(UserError, match="fuse_activations"):
        measure_table(BLOCKS, input_hw=HW, fuse_activations=("swish",))
    with pytest.raises(UserError, match="unknown latency backend"):
        measure_table(BLOCKS, input_hw=HW, backend="tpu")
    with pytest.raises(UserError, match="runs must be"):
        measure_table(BLOCKS, input_hw=HW, runs=0)
    with pytest.raises(UserError, match="needs threads=1"):
        measure_table(BLOCKS, input_hw=HW, threads=2, clock="cpu")


class _Space:
    """Duck-typed stand-in for search.space.SearchSpace (profiles never imports search)."""

    name = "toyspace"
    channels = (8,)
    scale = (2,)
    num_blocks = (1, 1)
    fuse_activation = ("lrelu",)

    def block_specs(self) -> list:
        return BLOCKS[:1]

    def version_hash(self) -> str:
        return "abc123"


def test_space_table_records_version() -> None:
    t = measure_space_table(_Space(), input_hw=(12, 12), threads=1, runs=1, warmup=0, calibration=1)
    assert t.space_version == "toyspace:abc123"
    assert "fuse:m1.c8.lrelu@12x12" in t.entries and "up:x2.c8@12x12" in t.entries


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    devices_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_profile_device_with_blocks_file(tmp_path: Path) -> None:
    blocks = tmp_path / "blocks.json"
    blocks.write_text(
        json.dumps(
            {
                "blocks": [BLOCKS[0].to_dict()],
                "scales": [2],
                "num_blocks": [1],
                "fuse_activations": ["lrelu"],
            }
        )
    )
    out = tmp_path / "table.json"
    assert (
        _cli(
            [
                "profile-device",
                "--out",
                str(out),
                "--blocks",
                str(blocks),
                "--input",
                "12x12",
                "--threads",
                "1",
                "--runs",
                "1",
                "--warmup",
                "0",
                "--calibration",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    t = load_table(out, device="host-cpu")
    assert t.input_hw == (12, 12) and "block:" + BLOCKS[0].key() + "@12x12" in t.entries


def test_profile_device_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices_cli, "_SPACE_LOADER", None)
    out = str(tmp_path / "t.json")
    with pytest.raises(UserError, match="not connected"):
        _cli(["profile-device", "--out", out, "--space", "demo"])
    with pytest.raises(UserError, match="exactly one of"):
        _cli(["profile-device", "--out", out])
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"blocks": [{"kind": "rfdb", "channels": 8}], "colour": 1}))
    with pytest.raises(UserError, match="unknown key"):
        _cli(["profile-device", "--out", out, "--blocks", str(bad)])
    with pytest.raises(UserError, match="unknown device"):
        _cli(["profile-device", "--out", out, "--blocks", str(bad), "--device", "nope"])


@pytest.mark.parametrize("backend", ["torchscript", "onnxruntime"])
def test_table_on_other_backends(backend: str) -> None:
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    t = measure_table(
        BLOCKS[:1],
        input_hw=HW,
        scales=(2,),
        num_blocks_list=(1,),
        fuse_activations=("lrelu",),
        threads=1,
        runs=1,
        warmup=0,
        calibration=1,
        backend=backend,
    )
    assert t.backend == backend and t.to_dict()["backend"] == backend
    assert predict_latency_ms(NetSpec("distill", 2, (BLOCKS[0],), "lrelu"), t) > 0


def test_latency_modules_never_import_search() -> None:
    code = (
        "import sys; sys.modules['search'] = None\n"
        "import profiles.latency, profiles.export, profiles.devices, profiles.latency_table\n"
        "import profiles.devices_cli\n"
        "assert not [m for m in sys.modules if m.startswith('search.')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])

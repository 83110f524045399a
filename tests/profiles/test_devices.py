"""Device profiles: shipped files, strict schema, roofline estimates, the devices CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml
from torch import nn

from blocks.errors import UserError
from profiles import devices_cli
from profiles.devices import (
    ESTIMATE_LABEL,
    DeviceProfile,
    device_latency,
    device_names,
    estimate_bytes_moved,
    list_devices,
    load_device,
    roofline,
    roofline_latency_ms,
)
from profiles.latency_table import LatencyTable, PartLatency, TableFit, spec_parts
from tests.profiles.latency_helpers import (  # noqa: F401 (autouse fixture)
    one_torch_thread,
    tiny_net,
    tiny_spec,
)

VALID = {
    "name": "toy",
    "description": "a toy device",
    "input_hw": [16, 16],
    "threads": 1,
    "budgets": {"params": 1000, "macs": None, "latency_ms": 5.0, "memory_mib": None},
    "latency": {"method": "roofline", "peak_gflops": 10.0, "bandwidth_gbps": 1.0},
}


def _write(tmp_path: Path, data: dict, name: str = "toy.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def test_shipped_devices() -> None:
    assert {"host-cpu", "rpi4", "jetson-nano-cpu"} <= set(device_names())
    by_name = {d.name: d for d in list_devices()}
    assert by_name["host-cpu"].latency.method == "measured"
    for name in ("rpi4", "jetson-nano-cpu"):
        d = by_name[name]
        assert d.latency.method == "roofline" and d.latency.estimate
        assert d.sources, f"{name} must cite its data-sheet figures"
        assert d.threads == 4
    assert by_name["rpi4"].latency.peak_gflops == pytest.approx(4 * 1.5 * 8)
    assert by_name["jetson-nano-cpu"].latency.bandwidth_gbps == pytest.approx(25.6)
    for d in by_name.values():
        assert d.input_hw == (180, 320)
        assert d.to_dict()["input"] == "180x320"


def test_unknown_device_lists_known() -> None:
    with pytest.raises(UserError, match="unknown device 'pi9'; known: host-cpu, jetson-nano-cpu"):
        load_device("pi9")


def test_load_from_path(tmp_path: Path) -> None:
    d = load_device(_write(tmp_path, VALID))
    assert isinstance(d, DeviceProfile)
    assert d.input_hw == (16, 16) and d.budgets.params == 1000 and d.budgets.macs is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown key.*'colour'"),
        ({"budgets": {"params": 1, "flops": 2}}, "budgets: unknown key.*'flops'"),
        (
            {"latency": {"method": "roofline", "peak_gflops": 1, "bandwidth_gbps": 1, "x": 1}},
            r"latency \(roofline\): unknown key.*'x'",
        ),
        ({"latency": {"method": "measured", "peak_gflops": 1}}, "unknown key.*'peak_gflops'"),
        ({"latency": {"method": "guess"}}, "unknown latency method 'guess'; known: measured"),
        ({"latency": {"method": "measured", "backend": "tpu"}}, "unknown latency backend 'tpu'"),
        ({"latency": {"method": "measured", "backend": ["eager"]}},  # was: unhashable type
         r"unknown latency backend \['eager'\]"),
        ({"latency": {"method": "roofline", "peak_gflops": 1}}, "needs 'bandwidth_gbps'"),
        ({"latency": {"method": "table"}}, "needs 'table: FILE.json'"),
        ({"input_hw": [16]}, "input_hw"),
        ({"input_hw": "16by16"}, "input_hw"),
        ({"threads": 0}, "threads"),
        ({"budgets": {"latency_ms": -1}}, "latency_ms must be a positive number"),
        ({"name": "Toy"}, "lower-case"),
    ],
)
def test_strict_schema(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        load_device(_write(tmp_path, {**VALID, **change}))


def test_missing_key(tmp_path: Path) -> None:
    data = {k: v for k, v in VALID.items() if k != "threads"}
    with pytest.raises(UserError, match="missing key.*threads"):
        load_device(_write(tmp_path, data))


def test_input_hw_as_text_and_table_path_relative(tmp_path: Path) -> None:
    data = {**VALID, "input_hw": "12x20", "latency": {"method": "table", "table": "t.json"}}
    d = load_device(_write(tmp_path, data))
    assert d.input_hw == (12, 20)
    assert d.latency.table == (tmp_path / "t.json").resolve()
    assert not d.latency.estimate


def test_roofline_math(tmp_path: Path) -> None:
    d = load_device(_write(tmp_path, VALID))  # 10 GFLOP/s, 1 GB/s
    assert roofline_latency_ms(5_000_000, 0, d) == pytest.approx(1.0)  # 1e7 FLOP / 1e10
    est = roofline(5_000_000, 3_000_000, d)  # memory: 3e6 B / 1e9 B/s = 3 ms
    assert est.latency_ms == pytest.approx(3.0) and est.bound == "memory"
    assert est.compute_ms == pytest.approx(1.0)
    assert est.label == ESTIMATE_LABEL and "estimate" in est.label
    with pytest.raises(UserError, match="not roofline"):
        roofline_latency_ms(1, 1, load_device("host-cpu"))


def test_bytes_model_single_conv() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1)
    got = estimate_bytes_moved(conv, (10, 12))
    elems = 3 * 10 * 12 + conv.weight.numel() + conv.bias.numel() + 8 * 10 * 12
    assert got == 4 * elems
    assert conv.weight.device.type == "cpu"  # the model itself is not moved to meta


def test_device_latency_roofline_is_labelled_estimate() -> None:
    d = load_device("rpi4")
    r = device_latency(tiny_spec(), d, macs=24_000_000_000)
    assert r.estimate and r.method == "roofline" and "estimate" in r.label
    assert r.latency_ms >= 1000.0  # 48 GFLOP at 48 GFLOP/s
    assert r.context["device"] == "rpi4" and r.context["bound"] in ("compute", "memory")
    assert r.to_dict()["estimate"] is True


def test_device_latency_measured(tmp_path: Path) -> None:
    data = {**VALID, "latency": {"method": "measured", "backend": "eager"}}
    d = load_device(_write(tmp_path, data))
    r = device_latency(tiny_spec(), d, model=tiny_net(), runs=2, warmup=0)
    assert not r.estimate and r.method == "measured"
    assert r.context["device"] == "toy" and r.context["threads"] == 1
    assert r.context["input_hw"] == [16, 16]


def _table_for(spec, device: str, hw: tuple[int, int]) -> LatencyTable:
    entries = {f"{p}@{hw[0]}x{hw[1]}": PartLatency(1.0, 0.0) for p in spec_parts(spec)}
    return LatencyTable(
        device=device,
        host_cpu="cpu",
        backend="eager",
        threads=1,
        input_hw=hw,
        space_version="v",
        created="now",
        entries=entries,
        fit=TableFit(1.0, 0.5),
        runs=1,
        warmup=0,
    )


def test_device_latency_from_table(tmp_path: Path) -> None:
    spec = tiny_spec()
    _table_for(spec, "toy", (16, 16)).save(tmp_path / "t.json")
    data = {**VALID, "latency": {"method": "table", "table": "t.json"}}
    d = load_device(_write(tmp_path, data))
    r = device_latency(spec, d)
    assert r.method == "table" and not r.estimate
    assert r.latency_ms == pytest.approx(len(spec_parts(spec)) + 0.5)
    # a table measured for another device is refused
    _table_for(spec, "other", (16, 16)).save(tmp_path / "t.json")
    with pytest.raises(UserError, match="measured on device 'other', not 'toy'"):
        device_latency(spec, d)


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    devices_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_devices_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["devices"]) == 0
    out = capsys.readouterr().out
    for name in ("host-cpu", "rpi4", "jetson-nano-cpu", "180x320", "ESTIMATE"):
        assert name in out
    assert _cli(["devices", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    rpi = next(r for r in rows if r["name"] == "rpi4")
    assert rpi["latency_method"] == "roofline" and rpi["estimate"] is True
    assert {"params", "macs", "latency_ms", "memory_mib", "input", "description"} <= set(rpi)

"""Specs: validation with one-line errors naming valid values, keys, JSON/YAML round trips."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml

from blocks.errors import UserError
from blocks.registry import Registry
from blocks.specs import BlockSpec, NetSpec, block_spec, load_spec_file, save_spec_file
from blocks.zoo import zoo_spec
from search.cli import main


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_unknown_block_names_known_ones() -> None:
    with pytest.raises(UserError) as exc:
        block_spec("rfbd", 48)
    msg = one_line(exc)
    assert "rfbd" in msg and "rfdb" in msg and "lrfdb" in msg


def test_bad_scale() -> None:
    spec = zoo_spec("e_rfdn", 4)
    with pytest.raises(UserError) as exc:
        replace(spec, scale=5)
    assert "2, 3, 4" in one_line(exc)


@pytest.mark.parametrize("channels", [-3, 0, 2.5, True])
def test_bad_channels(channels) -> None:
    with pytest.raises(UserError) as exc:
        block_spec("rfdb", channels)
    assert "positive integer" in one_line(exc)


@pytest.mark.parametrize("kernels", [(3, 4), (2,), (4, 6)])
def test_even_kernels_rejected(kernels) -> None:
    conv = "mkdcb" if len(kernels) > 1 else "dcb"
    with pytest.raises(UserError) as exc:
        block_spec("drfdb", 32, conv=conv, kernels=kernels)
    assert "1, 3, 5, 7, 9" in one_line(exc)


def test_a_block_wider_than_the_cap_is_a_user_error() -> None:
    from blocks.specs import MAX_CHANNELS

    assert block_spec("rfdb", MAX_CHANNELS).channels == MAX_CHANNELS
    with pytest.raises(UserError) as exc:
        block_spec("rfdb", 100000)
    assert one_line(exc) == (f"channels must be at most {MAX_CHANNELS} (a lightweight SR block "
                             "uses 16-64); got 100000")


@pytest.mark.parametrize("kernels", [3, "3", {"3": 1}])
def test_kernels_that_are_not_a_list_are_a_user_error(kernels) -> None:
    data = {"kind": "rfdb", "channels": 16, "conv": "standard", "kernels": kernels,
            "distill_ratio": 0.5, "attention": "esa", "activation": "lrelu"}
    with pytest.raises(UserError) as exc:
        BlockSpec.from_dict(data)
    assert one_line(exc) == f"kernels is a list of sizes, e.g. [3]; got {kernels!r}"
    assert BlockSpec.from_dict({**data, "kernels": [3]}).kernels == (3,)


@pytest.mark.parametrize(
    ("kind", "overrides", "fragment"),
    [
        ("rfdb", {"conv": "dcb"}, "valid: standard"),
        ("drfdb", {"conv": "standard"}, "valid: dcb, mkdcb"),
        ("drfdb", {"conv": "mkdcb", "kernels": (3,)}, "at least two"),
        ("drfdb", {"conv": "dcb", "kernels": (3, 5)}, "one kernel size"),
        ("drfdb", {"conv": "dcb", "merge": "sum"}, "only to conv 'mkdcb'"),
        ("drfdb", {"conv": "mkdcb", "merge": "max"}, "sum, concat"),
        ("rfdb", {"attention": "se"}, "known: esa"),
        ("rfdb", {"activation": "swish"}, "known: lrelu, gelu, relu"),
        ("rfdb", {"distill_ratio": 1.5}, "(0, 1)"),
        ("rfdb", {"depth": 3}, "takes no 'depth'"),
        ("imdb", {"conv": "dcb"}, "takes no 'conv'"),
        ("rfdb", {"attention": "esa", "reduction": 4}, "only to attention cca or ca"),
    ],
)
def test_block_validation(kind: str, overrides: dict, fragment: str) -> None:
    with pytest.raises(UserError) as exc:
        block_spec(kind, 32, **overrides)
    assert fragment in one_line(exc)


def test_unknown_keys_raise() -> None:
    data = zoo_spec("lrfdn", 4).to_dict()
    data["blocks"][0]["width"] = 3
    with pytest.raises(UserError) as exc:
        NetSpec.from_dict(data)
    assert "'width'" in one_line(exc) and "channels" in one_line(exc)
    data = zoo_spec("lrfdn", 4).to_dict()
    data["upscale"] = 4
    with pytest.raises(UserError):
        NetSpec.from_dict(data)


def test_mixed_widths_and_skeleton_checks() -> None:
    a, b = block_spec("rfdb", 32), block_spec("rfdb", 48)
    with pytest.raises(UserError, match="same channels"):
        NetSpec("distill", 2, (a, b), "lrelu")
    with pytest.raises(UserError, match="fuse_activation"):
        NetSpec("distill", 2, (a,))
    with pytest.raises(UserError, match="three 'fswg'"):
        NetSpec("fdiwn", 2, (block_spec("fswg", 24),))


def test_keys_distinguish_every_knob() -> None:
    base = block_spec("drfdb", 32, conv="mkdcb", kernels=(3, 5), merge="sum")
    variants = [
        base,
        replace(base, channels=48),
        replace(base, kernels=(3, 7)),
        replace(base, merge="concat"),
        replace(base, distill_ratio=0.25),
        replace(base, attention="none"),
        replace(base, attention="cca", reduction=16),
        replace(base, attention="cca", reduction=8),
        replace(base, activation="gelu"),
        block_spec("drfdb", 32, conv="dcb"),
    ]
    assert len({v.key() for v in variants}) == len(variants)
    assert base.key() == "drfdb.c32.mkdcb-k3-5-sum.d0.5.esa.lrelu"


def test_net_key_collapses_runs() -> None:
    spec = zoo_spec("drfdn", 2)
    assert spec.key().count("*2") == 2 and spec.key().startswith("distill.x2.fuse-lrelu:")


def test_yaml_and_json_files_round_trip(tmp_path) -> None:
    spec = zoo_spec("drfdn", 3)
    for name in ("a.json", "a.yaml"):
        path = save_spec_file(spec, tmp_path / name)
        assert load_spec_file(path) == spec
    assert yaml.safe_load((tmp_path / "a.yaml").read_text())["scale"] == 3
    assert json.loads((tmp_path / "a.json").read_text())["skeleton"] == "distill"


def test_spec_file_errors_are_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("skeleton: distill\nscale: [unclosed\n")
    with pytest.raises(UserError) as exc:
        load_spec_file(bad)
    assert str(bad) in one_line(exc)
    with pytest.raises(UserError, match="not found"):
        load_spec_file(tmp_path / "missing.json")
    binary = tmp_path / "model.ts"  # a TorchScript zip: was "'utf-8' codec can't decode"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00binary")
    with pytest.raises(UserError) as exc:
        load_spec_file(binary)
    assert one_line(exc) == f"{binary} is not a spec file (JSON or YAML text); a spec.json is"


def test_yaml_is_loaded_safely(tmp_path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(UserError, match="cannot parse"):
        load_spec_file(evil)


def test_registry_refuses_duplicates_and_lists_known() -> None:
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", 2)
    with pytest.raises(KeyError) as exc:
        reg.get("b")
    assert str(exc.value) == "unknown thing 'b'; known: a"


def test_cli_bad_model_is_one_line(capsys, tmp_path) -> None:
    (tmp_path / "net.json").write_text(json.dumps({"skeleton": "distill", "scale": 9,
                                                   "blocks": [], "fuse_activation": "lrelu"}))
    from blocks.zoo import resolve_spec

    with pytest.raises(UserError) as exc:
        resolve_spec("no_such_net")
    assert "e_rfdn" in one_line(exc)
    with pytest.raises(UserError) as exc:
        resolve_spec(str(tmp_path / "net.json"))
    assert "2, 3, 4" in one_line(exc)
    assert main(["zoo", "--scale", "5"]) != 0
    assert "invalid choice" in capsys.readouterr().err


def test_blockspec_from_dict_requires_kind() -> None:
    with pytest.raises(UserError, match="needs 'kind'"):
        BlockSpec.from_dict({"channels": 3})

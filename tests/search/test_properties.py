"""Property-based tests: whatever a space produces builds, runs, profiles and round-trips; whatever
YAML a user writes, loading a space either works or raises a one-line UserError."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks.build import build_network
from blocks.errors import UserError
from blocks.specs import NetSpec
from profiles.counting import count_model
from search.space import load_space, parse_space

SPACES = {name: load_space(name) for name in ("demo", "rfdb", "lrfdb")}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SPACES)), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([2, 3, 4]))
def test_every_sampled_spec_builds_runs_profiles_and_round_trips(name, seed, scale) -> None:
    spec = SPACES[name].sample(np.random.default_rng(seed))
    spec = replace(spec, scale=scale)
    assert NetSpec.from_json(spec.to_json()) == spec
    model = build_network(spec).eval()
    with torch.no_grad():
        y = model(torch.rand(1, 3, 15, 17))
    assert y.shape == (1, 3, 15 * scale, 17 * scale)
    counts = count_model(spec, (16, 16))
    assert counts.params == sum(p.numel() for p in model.parameters())
    assert counts.macs > 0 and counts.flops == 2 * counts.macs


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70) | st.floats(-2, 2, allow_nan=False)
    | st.sampled_from(["esa", "dcb", "mkdcb", "standard", "rfdb", "lrfdb", "gelu", "sum", ""]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["low", "high", "dcb", "mkdcb", "conv", "x"]), inner,
                      max_size=3),
    max_leaves=12,
)
space_dicts = st.dictionaries(
    st.sampled_from(["name", "family", "scale", "channels", "num_blocks", "fuse_activation",
                     "share_blocks", "blocks", "version", "bogus"]),
    yaml_values, max_size=7,
) | st.dictionaries(
    st.sampled_from(["conv", "kernels", "merge", "distill_ratio", "attention", "reduction",
                     "activation", "depth"]), yaml_values, max_size=5,
).map(lambda b: {"channels": [8], "blocks": b})


@settings(max_examples=300, deadline=None)
@given(data=space_dicts)
def test_malformed_space_data_never_escapes_as_a_traceback(data) -> None:
    try:
        space = parse_space(data)
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    spec = space.sample(np.random.default_rng(0))  # a space that loads must produce specs
    assert spec.blocks


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("abc:[]{}-,\n 0123!&*'\"#")), max_size=60))
def test_malformed_yaml_text_never_escapes(tmp_path_factory, text) -> None:
    path = tmp_path_factory.mktemp("y") / "space.yaml"
    path.write_text(text)
    try:
        load_space(path)
    except UserError as exc:
        assert "\n" not in str(exc)


def test_yaml_text_that_is_valid_loads() -> None:
    text = yaml.safe_dump({"channels": [8], "blocks": {"conv": ["dcb"]}})
    assert parse_space(yaml.safe_load(text)).channels == (8,)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_block_enumeration_is_finite_and_valid(name) -> None:
    blocks = SPACES[name].block_specs()
    assert len(blocks) == len({b.key() for b in blocks}) > 0

"""Search spaces: shipped spaces load, validation is strict and one-line, sampling conditional."""

from __future__ import annotations

import datetime

import numpy as np
import optuna
import pytest
import yaml

from blocks.build import build_network
from blocks.errors import UserError
from blocks.specs import NetSpec
from search.space import load_space, parse_space, shipped_spaces


def test_shipped_spaces() -> None:
    assert {"demo", "rfdb", "lrfdb"} <= set(shipped_spaces())
    for name in shipped_spaces():
        space = load_space(name)
        assert space.size() > 0 and space.block_specs()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"channels": [16], "widht": 3}, "unknown key(s) ['widht']"),
        ({"channels": []}, "'channels' has no choices"),
        ({"channels": [16], "num_blocks": {"low": 4, "high": 2}}, "impossible range"),
        ({"channels": [0]}, "positive integers"),
        ({"channels": [16], "scale": [5]}, "valid: 2, 3, 4"),
        ({"channels": [16], "family": "vit"}, "known: rfdb, lrfdb, imdb, rdg"),
        ({"channels": [16], "blocks": {"conv": []}}, "'conv' has no choices"),
        ({"channels": [16], "blocks": {"conv": ["mkdcb"], "kernels": {"mkdcb": [[3]]}}},
         "two or more sizes"),
        ({"channels": [16], "blocks": {"conv": ["dcb"], "kernels": {"dcb": [[4]]}}},
         "sizes must be odd"),
        ({"channels": [16], "blocks": {"attention": ["se"]}}, "valid: esa, efsa"),
        ({"channels": [16], "family": "imdb", "blocks": {"conv": ["dcb"]}}, "takes no ['conv']"),
        ({"channels": [16], "blocks": {"distill_ratio": [1.5]}}, "(0, 1)"),
        ([1, 2], "a mapping of knobs"),
        # YAML reads 2024-01-01 as a date: it was an internal 'not JSON serializable' error
        ({"channels": [datetime.date(2024, 1, 1)]}, "positive integers"),
        ({"channels": [16], "name": ["x"]}, "'name' is a string; got ['x']"),
    ],
)
def test_invalid_spaces_raise_one_line(data, fragment: str) -> None:
    with pytest.raises(UserError) as exc:
        parse_space(data)
    assert fragment in str(exc.value) and "\n" not in str(exc.value)


def test_malformed_yaml_file(tmp_path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("channels: [16\nblocks: {\n")
    with pytest.raises(UserError) as exc:
        load_space(p)
    assert "malformed YAML" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(UserError, match="shipped: demo"):
        load_space("no_such_space")


def test_conditional_parameters() -> None:
    space = load_space("rfdb")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        spec = space.suggest(trial)
        for i, b in enumerate(spec.blocks):
            conv = trial.params[f"b{i}.conv"]
            assert (f"b{i}.merge" in trial.params) == (conv == "mkdcb")
            multi = len(space.blocks.kernels[conv]) > 1  # a single choice is fixed, not sampled
            assert (f"b{i}.kernels.{conv}" in trial.params) == multi
            assert (f"b{i}.reduction" in trial.params) == (b.attention in ("cca", "ca"))
            seen.add(b.conv)
        assert not any(k.startswith(f"b{len(spec.blocks)}.") for k in trial.params)
        study.tell(trial, 0.0)
    assert seen == {"standard", "dcb", "mkdcb"}


def test_every_sampled_spec_builds_and_round_trips() -> None:
    rng = np.random.default_rng(3)
    for name in ("demo", "rfdb", "lrfdb"):
        space = load_space(name)
        for _ in range(3):
            spec = space.sample(rng)
            assert NetSpec.from_json(spec.to_json()) == spec
            assert sum(p.numel() for p in build_network(spec).parameters()) > 0


def test_block_enumeration_covers_samples() -> None:
    space = load_space("demo")
    keys = {b.key() for b in space.block_specs()}
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert all(b.key() in keys for b in space.sample(rng).blocks)


def test_yaml_is_safe_loaded(tmp_path) -> None:
    p = tmp_path / "evil.yaml"
    p.write_text(yaml.dump({"channels": [16]}) + "name: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(UserError, match="malformed YAML"):
        load_space(p)

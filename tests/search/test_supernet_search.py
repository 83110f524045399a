"""``distillnas supernet train/info`` and ``search --proxy supernet``: a stored supernet scores
search candidates, refuses what it does not cover, and a study never mixes two supernets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from blocks.build import build_network
from blocks.errors import UserError
from reports.records import load_study_attrs
from search.cli import main
from search.objective import SupernetEvaluator
from search.proxies import TrainData, get_protocol
from search.space import load_space
from search.supernet import (
    SupernetPlan,
    check_covers,
    load_store,
    train_supernet,
)
from tests.tiny_setup import TINY_DEVICE_YAML, TINY_SPACE_YAML


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """Two small finished supernets over the tiny space (seeds 0 and 1), trained on the embedded
    photos, and one stopped half-way; the tiny space and roofline device beside them."""
    d = tmp_path_factory.mktemp("supernets")
    (d / "space.yaml").write_text(TINY_SPACE_YAML)
    (d / "dev.yaml").write_text(TINY_DEVICE_YAML)
    out = {"space": d / "space.yaml", "device": d / "dev.yaml"}
    train = [
        "supernet",
        "train",
        "--space",
        str(out["space"]),
        "--recipe",
        "demo",
        "--threads",
        "1",
        "--quiet",
    ]
    for name, extra in (("a", ["--steps", "20"]), ("b", ["--steps", "20", "--seed", "1"])):
        out[name] = d / f"{name}.pt"
        assert main([*train, *extra, "--out", str(out[name])]) == 0
    ck = torch.load(out["a"], weights_only=True)  # as if stopped half-way (--hours)
    ck["step"] = 10
    out["half"] = d / "half.pt"
    torch.save(ck, out["half"])
    return out


def test_info_describes_the_file(stores, capsys) -> None:
    assert main(["supernet", "info", str(stores["a"]), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    t = load_store(stores["a"])
    assert info["done"] and info["step"] == info["steps"] == 20
    assert info["sha1"] == t.sha1 and info["scale"] == 2 and info["data"] == "embedded"
    assert [s["name"] for s in info["spaces"]] == ["tiny"]
    assert info["spaces"][0]["version_hash"] == load_space(stores["space"]).version_hash()
    assert info["store_values"] == sum(p.numel() for p in t.store.parameters()) > 0


def test_a_loaded_store_is_the_trained_one(tmp_path) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(3)]
    data = TrainData.from_images(images, {"v1": images[0][:24, :24]})
    recipe = replace(get_protocol("quick"), name="t", steps=4, lr_patch=8, batch=2)
    space = replace(load_space("rfdb"), num_blocks=(1, 2))
    plan = SupernetPlan((space,), recipe, channels=(8, 12), init_sample=12)
    res = train_supernet(plan, data, checkpoint=tmp_path / "s.pt")
    loaded = load_store(tmp_path / "s.pt")
    assert loaded.done and loaded.meta["channels"] == [8, 12]
    assert loaded.store.keys_ == res["store"].keys_
    for a, b in zip(loaded.store.tensors, res["store"].tensors, strict=True):
        torch.testing.assert_close(a, b)
    # a checkpoint written before layouts were saved: refused in one line, rewritten on resume
    ck = torch.load(tmp_path / "s.pt", weights_only=True)
    del ck["layout"], ck["meta"]
    torch.save(ck, tmp_path / "s.pt")
    with pytest.raises(UserError, match="without its layout"):
        load_store(tmp_path / "s.pt")
    train_supernet(plan, data, checkpoint=tmp_path / "s.pt", hours=0)
    assert load_store(tmp_path / "s.pt").sha1  # loads again


def test_a_device_torch_cannot_use_is_one_line(stores, tmp_path, capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("this host has a CUDA GPU")
    argv = ["supernet", "train", "--space", str(stores["space"]), "--recipe", "demo", "--steps",
            "2", "--quiet", "--train-device", "cuda", "--out", str(tmp_path / "c.pt")]
    assert main(argv) == 2
    assert "torch sees no CUDA GPU" in capsys.readouterr().err


def test_bad_files_are_one_line_errors(stores, tmp_path) -> None:
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(UserError, match="not a supernet checkpoint"):
        load_store(tmp_path / "junk.pt")
    with pytest.raises(UserError, match="no supernet file"):
        load_store(tmp_path / "missing.pt")
    with pytest.raises(UserError, match="trained 10 of 20 steps"):
        check_covers(load_store(stores["half"]), load_space(stores["space"]))


def test_coverage_and_scale_are_checked_before_any_training(stores) -> None:
    t = load_store(stores["a"])
    with pytest.raises(UserError, match="does not cover space 'rfdb'"):
        check_covers(t, replace(load_space("rfdb"), scale=(2,)))
    with pytest.raises(UserError, match="the supernet is x2"):
        check_covers(t, replace(load_space(stores["space"]), scale=(3,)))
    wider = replace(load_space(stores["space"]), scale=(2, 3))
    assert check_covers(t, wider).scale == (2,)  # restricted to the store's scale


def _search(storage: Path, stores: dict[str, Path], store: str, *extra: str) -> list[str]:
    return [
        "search",
        "--space",
        str(stores["space"]),
        "--device",
        str(stores["device"]),
        "--proxy",
        "supernet",
        "--supernet",
        str(stores[store]),
        "--steps-per-trial",
        "10",
        "--storage",
        f"journal:///{storage}",
        "--study",
        "s",
        "--quiet",
        "--threads",
        "1",
        "--objectives",
        "psnr,params",
        *extra,
    ]


def test_search_scores_candidates_with_the_supernet(stores, tmp_path, capsys) -> None:
    assert main([*_search(tmp_path / "s.log", stores, "a"), "--trials", "3", "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out) if r["duplicate_of"] is None]
    sha = load_store(stores["a"]).sha1[:8]
    assert len(rows) == 3 and all(r["state"] == "complete" for r in rows)  # the tiny space
    # repeats itself: a repeated net is recorded as a duplicate, not trained again
    assert {r["proxy"] for r in rows} == {f"supernet-ft-10-cos@{sha}"}  # the cosine: default
    assert all(np.isfinite(r["psnr_y_db"]) for r in rows)
    attrs = load_study_attrs(f"journal:///{tmp_path / 's.log'}", "s")
    assert attrs["pruner"].startswith("none: the proxy has no checkpoint")  # nothing to stop at
    saved = next((tmp_path / "s-s-candidates" / "candidates").glob("*/train.json"))
    assert json.loads(saved.read_text())["supernet_sha1"] == load_store(stores["a"]).sha1
    # select reads a supernet study: the fine-tuned weights as they are, or trained from scratch
    sel = ["select", "--study", "s", "--storage", f"journal:///{tmp_path / 's.log'}", "--device",
           str(stores["device"]), "--quiet", "--json"]
    assert main([*sel, "--out", str(tmp_path / "m1")]) == 0
    card = (tmp_path / "m1" / "MODEL_CARD.md").read_text()
    assert f"proxy `supernet-ft-10-cos@{sha}`" in card and "trained from scratch" not in card
    assert main([*sel, "--out", str(tmp_path / "m2"), "--train-steps", "3"]) == 0
    assert "then trained from scratch for 3 steps under quick" in (
        tmp_path / "m2" / "MODEL_CARD.md").read_text()
    capsys.readouterr()
    # the same study with another supernet: refused before anything trains
    assert main([*_search(tmp_path / "s.log", stores, "b"), "--trials", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "was created with proxy=" in err and len(err.splitlines()) == 1
    # nor does it mix the two fine-tune schedules; a study of constant lr resumes with its flag
    assert main([*_search(tmp_path / "s.log", stores, "a"), "--trials", "4",
                 "--finetune-schedule", "constant"]) == 2
    assert "was created with proxy=" in capsys.readouterr().err
    assert main([*_search(tmp_path / "c.log", stores, "a"), "--trials", "1", "--json",
                 "--finetune-schedule", "constant", "--study", "c"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["proxy"] for r in rows} == {f"supernet-ft-10@{sha}"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--proxy", "supernet"], "needs --supernet FILE"),
        (["--supernet", "x.pt"], "goes with --proxy supernet"),
        (["--finetune-schedule", "constant"], "it goes with --proxy supernet"),
    ],
)
def test_supernet_flags_go_together(tmp_path, capsys, args, message) -> None:
    argv = [
        "search",
        "--space",
        "demo",
        "--trials",
        "1",
        "--quiet",
        "--storage",
        f"journal:///{tmp_path / 's.log'}",
        *args,
    ]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_inherited_weights_are_what_is_fine_tuned(stores, tmp_path) -> None:
    """The evaluator's score is the score of the inherited net fine-tuned under its protocol
    (not of a net trained from its own initialisation), and a net the store does not cover
    enough is recorded as failed without training."""
    from search.train import train

    t = load_store(stores["a"])
    space = check_covers(t, load_space(stores["space"]))
    spec = space.sample(np.random.default_rng(5))
    protocol = t.finetune(5)
    assert protocol.train_data == "embedded" and protocol.steps == 5  # the store's recipe
    data = TrainData.embedded()
    ev = SupernetEvaluator(
        None, protocol, data, tmp_path, threads=1, store_path=t.path, store_sha1=t.sha1
    )
    got = ev.train(spec, seed=3, report=lambda step, psnr: False)
    assert got.status == "complete" and got.steps == 5
    net = build_network(spec, seed=3)
    t.store.inherit(net)
    inherited = train(net, data=data, protocol=protocol, seed=3, threads=1, progress=False, scale=2)
    scratch = train(
        build_network(spec, seed=3), data=data, protocol=protocol, seed=3, threads=1, progress=False
    )
    assert got.psnr_y_db == pytest.approx(inherited.psnr_y_db, abs=1e-9)
    assert abs(got.psnr_y_db - scratch.psnr_y_db) > 1e-3
    strict = replace(ev, min_coverage=1.01, run_dir=tmp_path / "strict")
    failed = strict.train(spec, seed=3, report=lambda step, psnr: False)
    assert failed.status == "failed" and "covers 100%" in failed.message
    assert not (tmp_path / "strict").exists()


@pytest.mark.slow
def test_ray_workers_score_with_the_supernet(stores, tmp_path) -> None:
    """--backend ray: each worker loads the store from its file and records the same proxy."""
    pytest.importorskip(
        "ray.tune", reason="Ray Tune is not installed: pip install 'distillnas[ray]'"
    )
    import os
    import subprocess
    import sys

    storage = tmp_path / "r.log"
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from search.cli import main; sys.exit(main(sys.argv[1:]))",
            *_search(storage, stores, "a"),
            "--trials",
            "2",
            "--sampler",
            "random",
            "--json",
            "--backend",
            "ray",
            "--ray-cpus",
            "2",
            "--cpus-per-trial",
            "1",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [r for r in json.loads(proc.stdout) if r["duplicate_of"] is None]
    sha = load_store(stores["a"]).sha1[:8]
    assert len(rows) == 2 and all(r["state"] == "complete" for r in rows)
    assert {r["proxy"] for r in rows} == {f"supernet-ft-10-cos@{sha}"}
    assert all(np.isfinite(r["psnr_y_db"]) for r in rows)

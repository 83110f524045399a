"""benchmarks/proxy_small_batch.py: the strategies are the reference recipe with only the pixel
budget changed, and each is judged on every reference net against params-only."""

from __future__ import annotations

import json
import shutil

import pytest

from search.fidelity import REFERENCE_PROTOCOL
from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def sb():
    return load_benchmark("proxy_small_batch")


def test_a_strategy_changes_only_batch_patch_steps_and_step_size(sb) -> None:
    p = sb.protocol("b4p24-4000")
    assert (p.batch, p.lr_patch, p.steps, p.step_size) == (4, 24, 4000, 2000)
    assert p.final_sets == ("Set5",) and p.eval_every == 4000
    ref = REFERENCE_PROTOCOL.to_dict()
    changed = {k for k, v in p.to_dict().items() if ref[k] != v}
    assert changed == {"name", "description", "batch", "lr_patch", "steps", "eval_every",
                       "final_sets"}  # the reference already halves every 2000, scores Set5
    assert sb.protocol("b8p24-2000").step_size == 1000
    with pytest.raises(sb.UserError, match="unknown strategy"):
        sb.protocol("b2p8-10")


def test_the_short_decay_row_changes_only_steps_and_the_schedule_and_has_its_own_files(
        sb, tmp_path) -> None:
    sd = load_benchmark("proxy_short_decay")
    p = sb.protocol(sd.PRIMARY, sd.ROW)
    ref = REFERENCE_PROTOCOL.to_dict()
    changed = {k: v for k, v in p.to_dict().items() if ref[k] != v}
    assert set(changed) == {"name", "description", "steps", "eval_every", "final_sets",
                            "schedule", "step_size"}
    assert (p.steps, p.schedule, p.step_size, p.min_lr_ratio) == (600, "cosine", None, 0.0)
    assert p.lr_at(100, 0.0) == pytest.approx(REFERENCE_PROTOCOL.lr) and p.lr_at(600, 1.0) == 0
    assert sb.path_of(sd.PRIMARY, tmp_path, sd.ROW) == tmp_path / \
        "proxy_short_decay_b16p32-600-cos.json"
    with pytest.raises(sb.UserError, match="unknown strategy"):
        sb.protocol("b4p24-4000", sd.ROW)  # the other row's strategy


def _results(sb, tmp_path, score_of, *, skip: int = 0, cpu: float = 50.0):
    for name in (*sb.TABLES, sb.FRESH):
        shutil.copy(sb.RESULTS / name, tmp_path / name)
    nets = sb.reference_nets(tmp_path)
    got = {n["label"]: {"spec_key": n["spec"].key(), "status": "complete",
                        "psnr_y_db": score_of(n), "cpu_s": cpu} for n in nets[skip:]}
    sb.path_of(sb.PRIMARY, tmp_path).write_text(json.dumps({"nets": got}))
    return nets


def test_a_strategy_that_tracks_the_reference_meets_the_goal_and_one_that_tracks_size_not(
        sb, tmp_path) -> None:
    nets = _results(sb, tmp_path, lambda n: n["reference"])
    assert len(nets) == 41 and sum(n["set"] == "fresh" for n in nets) == 10
    s = sb.rank(tmp_path)["strategies"][sb.PRIMARY]
    assert s["all"]["kendall_tau"] == pytest.approx(1.0) and s["all"]["goal_met"]
    assert (s["31"]["n"], s["fresh"]["n"]) == (31, 10)
    assert "| **met** |" in sb.render(sb.rank(tmp_path))
    # beside it, the Set5 part of the very milestone each reference score comes from
    for n in nets:
        (arch,) = [a for name in (*sb.TABLES, sb.FRESH)
                   for a in json.loads((tmp_path / name).read_text())["archs"]
                   if a["label"] == n["label"]]
        (m,) = [m for m in arch["milestones"] if m["psnr_y_db"] == n["reference"]]
        assert n["reference_set5"] == m["sets"]["Set5"] != n["reference"]
    assert 0.5 < s["all"]["reference_set5_tau"] < 1.0
    assert f"tau all {s['all']['reference_set5_tau']:.3f}, 31" in sb.render(sb.rank(tmp_path))
    _results(sb, tmp_path, lambda n: float(n["params"]))  # params-only itself: not above it
    s = sb.rank(tmp_path)["strategies"][sb.PRIMARY]
    assert s["all"]["diff"] == pytest.approx(0.0) and not s["all"]["goal_met"]
    _results(sb, tmp_path, lambda n: n["reference"], cpu=121.0)  # over the CPU budget
    assert not sb.rank(tmp_path)["strategies"][sb.PRIMARY]["all"]["goal_met"]


def test_a_partly_measured_strategy_is_not_judged_met(sb, tmp_path) -> None:
    _results(sb, tmp_path, lambda n: n["reference"], skip=3)
    r = sb.rank(tmp_path)["strategies"][sb.PRIMARY]["all"]
    assert (r["n"], r["of"]) == (38, 41) and r["kendall_tau"] == pytest.approx(1.0)
    assert not r["goal_met"]
    assert "all (38 of 41)" in sb.render(sb.rank(tmp_path))


def test_rank_without_measurements_is_one_line(sb, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sb, "RESULTS", tmp_path)
    assert sb.main(["rank"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("proxy_small_batch: no reference table") and "\n" not in err


def test_measure_skips_measured_and_claimed_nets_and_records_the_rest(
        sb, tmp_path, monkeypatch) -> None:
    import types

    import search.proxies
    import search.train

    for name in (*sb.TABLES, sb.FRESH):
        shutil.copy(sb.RESULTS / name, tmp_path / name)
    monkeypatch.setattr(sb, "RESULTS", tmp_path)
    nets = sb.reference_nets(tmp_path)
    done, taken = nets[0], nets[1]
    proto = sb.protocol(sb.PRIMARY)
    path = sb.path_of(sb.PRIMARY, tmp_path)
    path.write_text(json.dumps({
        "protocol": proto.to_dict(), "claims": {taken["label"]: "other:1"},
        "nets": {done["label"]: {"spec_key": done["spec"].key(), "status": "complete"}}}))
    trained = []

    def fake_train(spec, **kw):
        assert kw["protocol"] == proto and kw["seed"] == sb.SEED and kw["threads"] == 1
        trained.append(spec.key())
        return types.SimpleNamespace(status="complete", psnr_y_db=30.0, steps=4000,
                                     train_seconds=1.0, eval_seconds=0.5)

    monkeypatch.setattr(search.train, "train", fake_train)
    monkeypatch.setattr(search.proxies.TrainData, "for_protocol", lambda *a, **k: None)
    assert sb.main(["measure"]) == 0
    got = json.loads(path.read_text())
    assert trained == [n["spec"].key() for n in nets[2:]]
    assert set(got["nets"]) == {n["label"] for n in nets if n is not taken}
    assert got["claims"] == {taken["label"]: "other:1"}  # only the other process's claim left
    assert not path.with_suffix(".tmp").exists()
    got["protocol"]["batch"] = 16
    path.write_text(json.dumps(got))
    assert sb.main(["measure"]) == 2  # another protocol's file is never mixed in

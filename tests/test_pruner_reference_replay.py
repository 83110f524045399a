"""benchmarks/pruner_reference_replay.py on synthetic reference tables."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def rr():
    return load_benchmark("pruner_reference_replay")


def _net(label: str, macs: float, curve: dict[int, float], steps: int = 8000) -> dict:
    return {"label": label, "key": label, "macs": macs, "psnr_y_db": curve[steps],
            "steps": steps, "curve": curve,
            "seconds": {s: 0.1 * s for s in curve}}


def _curve(final: float, early: float | None = None, steps: int = 8000) -> dict[int, float]:
    early = final - 0.5 if early is None else early
    return {1000: early, 2000: early + 0.1, 4000: early + 0.2, steps: final}


def test_a_net_dominated_at_the_first_rung_stops_there(rr) -> None:
    nets = [_net("a", 1e9, _curve(32.0)), _net("b", 2e9, _curve(32.5)),
            _net("c", 3e9, _curve(33.0)), _net("d", 4e9, _curve(31.0))]
    ref = [30.0, 5e9]
    got = rr.replay_order(rr.settings()[rr.PRIMARY], nets, [0, 1, 2, 3], ref)
    # d is last, costs most and scores lowest at step 1000: dominated by three peers, outside
    # the best third, so it stops after 1000 of its 8000 steps
    assert got["stopped"] == ["d"]
    assert got["compute_saved"] == pytest.approx(7000 / 32000)
    assert got["seconds_saved"] == pytest.approx(700 / 3200)
    assert got["hv_ratio_macs"] == pytest.approx(1.0)  # it is dominated in the end too
    # first in the order, it has no peers yet and trains to the end
    got = rr.replay_order(rr.settings()[rr.PRIMARY], nets, [3, 0, 1, 2], ref)
    assert got["stopped"] == [] and got["compute_saved"] == 0.0


def test_a_front_net_that_starts_slowly_costs_hypervolume(rr) -> None:
    nets = [_net("a", 1e9, _curve(32.0)), _net("b", 2e9, _curve(32.5)),
            _net("c", 3e9, _curve(33.0)), _net("late", 4e9, _curve(34.0, early=31.0))]
    ref = [30.0, 5e9]
    got = rr.replay_order(rr.settings()[rr.PRIMARY], nets, [0, 1, 2, 3], ref)
    assert got["stopped"] == ["late"]
    assert got["hv_ratio_macs"] == pytest.approx(10.5 / 11.5)  # its last cost step is lost
    summary = rr.summarise([got], ["a", "b", "c", "late"])
    assert summary["share_meeting_bar"] == 0.0
    assert summary["front_stopped_share"]["late"] == 1.0
    assert summary["front_stopped_share"]["a"] == 0.0


def _table(labels: list[str], seed: int) -> dict:
    archs = []
    for i, label in enumerate(labels):
        spec = {"skeleton": "distill", "scale": 2, "fuse_activation": "lrelu",
                "blocks": [{"kind": "rfdb", "channels": 16 + 8 * i, "conv": "standard",
                            "kernels": [3], "distill_ratio": 0.5, "attention": "esa",
                            "activation": "lrelu"}]}
        final = 32.0 + 0.3 * i + 0.01 * seed
        ms = [{"steps": s, "psnr_y_db": final - 1.0 + s / 8000, "train_seconds": 0.1 * s}
              for s in (1000, 2000, 4000, 8000)]
        archs.append({"label": label, "spec_key": f"k-{label}", "spec": spec, "steps": 8000,
                      "params": 1000 * (i + 1),
                      "psnr_y_db": ms[-1]["psnr_y_db"], "milestones": ms})
    return {"archs": archs}


def test_main_writes_the_report_and_a_missing_table_is_one_line(rr, tmp_path, capsys) -> None:
    names = list(rr.TABLES)
    for j, name in enumerate(names):
        (tmp_path / name).write_text(json.dumps(_table([f"n{j}{i}" for i in range(3)], 0)))
    out = tmp_path / "out"
    assert rr.main(["--results", str(tmp_path), "--out", str(out)]) == 2  # no seed-2 table
    err = capsys.readouterr().err.strip()
    assert err.startswith("pruner_reference_replay: no reference table") and "\n" not in err
    (tmp_path / rr.SWAP_TABLE).write_text(json.dumps(_table(["n10", "n11"], 2)))
    assert rr.main(["--results", str(tmp_path), "--out", str(out), "--orders", "20"]) == 0
    got = json.loads(out.with_suffix(".json").read_text())
    prim = got["seed0"]["settings"][rr.PRIMARY]
    assert prim["orders"] == 20 and 0.0 <= prim["share_meeting_bar"] <= 1.0
    # every curve rises in step with its final, so no front net is lost
    assert prim["hv_ratio_min"] == pytest.approx(1.0)
    assert len(got["nets"]) == 9 and got["seed0"]["tau_vs_final"]["step 1000"] == pytest.approx(1)
    assert list(got["heldout_seed2"]["settings"]) == [rr.PRIMARY]
    # the gain model, added after the primary's result, is reported on the seed-0 curves only
    # and labelled so
    assert got["seed0"]["settings"][rr.EXPLORATORY_GAIN]["hv_ratio_min"] == pytest.approx(1.0)
    md = out.with_suffix(".md").read_text()
    assert "pruner_reference_replay.py --results" in md and "| verdict |" in md
    assert md.count("exploratory, not evidence") == 1
    assert rr.main(["--orders", "0"]) == 2


def test_a_table_without_a_rung_milestone_is_refused_in_one_line(rr, tmp_path) -> None:
    table = _table(["a", "b"], 0)
    table["archs"][1]["milestones"] = [m for m in table["archs"][1]["milestones"]
                                       if m["steps"] != 2000]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(table))
    with pytest.raises(ValueError, match=r"t.json: b has no milestone at step\(s\) \[2000\]"):
        rr.load_table(path)
    path.write_text("{}")
    with pytest.raises(ValueError, match="t.json is not a reference table"):
        rr.load_table(path)

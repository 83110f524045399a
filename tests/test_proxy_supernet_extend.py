"""proxy_supernet.py score --sets/--extend: a stored report of the same supernet gains another
reference set (the confirmation nets) without rescoring the nets it holds. Checked with fakes
for the supernet, the scoring and the reference tables (nothing is trained here)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from blocks.errors import UserError
from search.fidelity import LinearBlend
from tests.conftest import load_benchmark
from tests.test_proxy_supernet_ensemble import report as synthetic_report

CONFIRM_REF = {"p": 30.25, "q": 30.8, "r": 30.45}
CONFIRM_PARAMS = {"p": 1800, "q": 7000, "r": 3500}


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("proxy_supernet")


def test_sets_are_named_and_checked(bench) -> None:
    assert bench.parse_sets("confirm, calibration,confirm") == ["confirm", "calibration"]
    for bad in ("", ",", "calibration,nope"):
        with pytest.raises(UserError, match="--sets takes names from calibration"):
            bench.parse_sets(bad)


def test_every_set_is_a_distinct_list_of_covered_nets(bench) -> None:
    keys = {name: [sp.key() for _, sp in fn(2)] for name, (_, fn) in bench.REFERENCE_SETS.items()}
    every = [k for ks in keys.values() for k in ks]
    assert len(every) == len(set(every)), "a net appears in two reference sets"
    assert len(keys["confirm"]) == 10
    # the confirmation nets are all drawn from the supernet's spaces (no IMDB, no RDB)
    assert all(":rfdb." in k or ":drfdb." in k or ":lrfdb." in k for k in keys["confirm"])


def _plan_json(bench) -> dict:
    return json.loads(json.dumps(bench.plan(100, 0).describe()))


def test_only_the_same_supernet_may_be_extended(bench) -> None:
    base = synthetic_report(0)
    base["plan"] = _plan_json(bench)
    loss = [[0, 0.1], [100, 0.02]]
    bench.check_extends(
        base, bench.plan(100, 0).describe(), [(0, 0.1), (100, 0.02)], [0, 50], ("Set5", "B100")
    )
    for plan_now, loss_now, fts, sets, says in (
        (bench.plan(100, 1).describe(), loss, [0, 50], ("Set5", "B100"), "supernet recipe"),
        (base["plan"], [[0, 0.1], [100, 0.0200001]], [0, 50], ("Set5", "B100"), "loss curve"),
        (base["plan"], loss, [0, 200], ("Set5", "B100"), "fine-tune steps"),
        (base["plan"], loss, [0, 50], ("Set5",), "scoring sets"),
    ):
        with pytest.raises(UserError, match=says):
            bench.check_extends(base, plan_now, loss_now, fts, sets)


def test_a_third_set_is_blended_from_the_calibration_fit_alone(bench) -> None:
    sets = synthetic_report(0)["sets"]
    third = synthetic_report(0)["sets"]["heldout"]
    third["ref"] = dict(CONFIRM_REF)
    third["scores"] = {
        lb: {**third["scores"][old], "params": CONFIRM_PARAMS[lb]}
        for lb, old in zip(CONFIRM_REF, third["scores"], strict=True)
    }
    third["scores"]["r"] = {**third["scores"]["r"], "coverage": 0.5}  # not covered
    blends = bench.blend_scores({**sets, "confirm": third}, [0, 50])
    two = bench.blend_scores(sets, [0, 50])
    ft, preds = blends["supernet-ft50+logparams(cal-fit)"]
    assert ft == 50
    # the calibration and held-out predictions do not move when a set is added
    assert {lb: preds[lb] for lb in two["supernet-ft50+logparams(cal-fit)"][1]} == pytest.approx(
        two["supernet-ft50+logparams(cal-fit)"][1]
    )
    cal = sets["calibration"]

    def x(s, labels):
        import math

        return [
            [s["scores"][lb]["ft50"]["psnr_y_db"], math.log10(s["scores"][lb]["params"])]
            for lb in labels
        ]

    fit = LinearBlend.fit(x(cal, list(cal["ref"])), list(cal["ref"].values()))
    assert [preds["p"], preds["q"]] == pytest.approx(fit.predict(x(third, ["p", "q"])))
    assert "r" not in preds


class _Table:
    """A fake ReferenceTable over a dict of label -> dB."""

    def __init__(self, ref: dict[str, float]) -> None:
        self.ref = ref

    def scores(self, labels):
        return {lb: v for lb, v in self.ref.items() if lb in labels}

    def steps_of(self, labels):
        return {lb: 8000 for lb in self.scores(labels)}

    def state(self):
        return {"n_flattened": len(self.ref)}


def _fake_world(bench, monkeypatch, tmp_path: Path, loss) -> list[str]:
    """The supernet, data, scoring and the confirm table replaced by fakes; returns the labels
    that get scored."""
    ckpt = tmp_path / "supernet.pt"
    ckpt.write_bytes(b"")
    table = tmp_path / "confirm.json"
    table.write_text("{}")
    scored: list[str] = []
    archs = [(lb, SimpleNamespace(key=lambda lb=lb: f"net-{lb}")) for lb in CONFIRM_REF]
    monkeypatch.setattr(bench, "REFERENCE_SETS", {"confirm": (table, lambda scale: archs)})
    monkeypatch.setattr(bench.ReferenceTable, "load", staticmethod(lambda p: _Table(CONFIRM_REF)))
    monkeypatch.setattr(bench, "checkpoint_path", lambda *a: ckpt)
    monkeypatch.setattr(
        bench.TrainData,
        "for_protocol",
        staticmethod(lambda *a: SimpleNamespace(eval_sources={"Set5": 1, "B100": 1}, root="x")),
    )

    monkeypatch.setattr(
        bench,
        "train_supernet",
        lambda *a, **k: {
            "done": True,
            "store": torch.nn.Linear(2, 3),
            "loss": loss,
            "cpu_seconds": 900.0,
            "step": 100,
        },
    )

    def score_net(spec, store, data, finetunes, seed, residual, eval_sets):
        lb = spec.key().removeprefix("net-")
        scored.append(lb)
        per = {"Set5": 30.0 + CONFIRM_PARAMS[lb] / 1e4, "B100": 28.0}
        return {
            "coverage": 1.0,
            "params": CONFIRM_PARAMS[lb],
            **{
                f"ft{f}": {"psnr_y_db": sum(per.values()) / 2, "cpu_seconds": 5.0, "per_set": per}
                for f in finetunes
            },
        }

    monkeypatch.setattr(bench, "score_net", score_net)
    return scored


def _extend_argv(base: str, out: str) -> list[str]:
    """``score`` adding the confirm set to ``base``, as the benchmark is run (synthetic sizes)."""
    return ["score", "--steps", "100", "--sets", "confirm", "--extend", base] + [
        "--finetune",
        "0,50",
        "--eval-sets",
        "Set5,B100",
        "--out",
        out,
    ]


def test_extend_adds_the_set_and_keeps_the_stored_nets(
    bench, monkeypatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = synthetic_report(0)
    base["plan"] = _plan_json(bench)
    base["context"] |= {"threads": 1, "wall_seconds": 1475.0}
    (tmp_path / "base.json").write_text(json.dumps(base))
    scored = _fake_world(bench, monkeypatch, tmp_path, base["supernet_loss"])
    out = tmp_path / "extended"
    argv = _extend_argv(str(tmp_path / "base"), str(out))
    assert bench.main(argv) == 0
    assert scored == list(CONFIRM_REF)  # only the new nets are scored
    rep = json.loads(out.with_suffix(".json").read_text())
    assert list(rep["sets"]) == ["calibration", "heldout", "confirm"]
    assert rep["sets"]["calibration"] == base["sets"]["calibration"]
    assert rep["sets"]["confirm"]["ref"] == CONFIRM_REF
    assert rep["sets"]["confirm"]["reference_steps"] == {lb: 8000 for lb in CONFIRM_REF}
    assert rep["amortised_over"]["scored"] == 6 + 3 + 3
    assert rep["amortised_cpu_seconds"]["scored"] == pytest.approx(900.0 / 12)
    assert rep["context"]["extends"]["context"] == base["context"]
    assert rep["context"]["scored_sets"] == ["confirm"]
    md = out.with_suffix(".md").read_text()
    assert "The calibration, heldout nets were scored earlier by this same supernet" in md
    assert "This run scored confirm in " in md
    pooled = {r["strategy"]: r["n"] for r in rep["rows"]["pooled"] if r["on"] == "all"}
    assert pooled["params-only"] == 12
    assert {r["n"] for r in rep["rows"]["confirm"] if r["on"] == "all"} == {3}
    # a set the report already holds is refused before any scoring, in one line
    capsys.readouterr()
    scored.clear()
    argv2 = _extend_argv(str(out), str(tmp_path / "again"))
    assert bench.main(argv2) == 2
    err = capsys.readouterr().err.strip()
    assert "already scores confirm" in err and "\n" not in err and scored == []


def test_extend_refuses_another_supernet(
    bench, monkeypatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = synthetic_report(0)
    base["plan"] = _plan_json(bench)
    (tmp_path / "base.json").write_text(json.dumps(base))
    scored = _fake_world(bench, monkeypatch, tmp_path, [[0, 0.1], [100, 0.025]])
    argv = _extend_argv(str(tmp_path / "base"), str(tmp_path / "x"))
    assert bench.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "loss curve" in err and "\n" not in err
    assert scored == [] and not (tmp_path / "x.json").exists()


def test_rerank_refresh_refs_reads_the_final_reference(
    bench, monkeypatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rep = synthetic_report(0)
    rep["amortised_cpu_seconds"] = {"scored": 100.0, "search": 0.7}
    rep["strategy"] = "supernet"
    rep["context"] |= {"threads": 1, "cpu": "x", "load_before": 0, "load_after": 0}
    rep["context"] |= {"revision": "r", "wall_seconds": 1.0}
    for s in rep["sets"].values():
        s["reference_file"] = str(tmp_path / "table.json")
    final = {**synthetic_report(0)["sets"]["calibration"]["ref"], "a": 31.5}
    final |= synthetic_report(0)["sets"]["heldout"]["ref"]
    monkeypatch.setattr(bench.ReferenceTable, "load", staticmethod(lambda p: _Table(final)))
    (tmp_path / "r.json").write_text(json.dumps(rep))
    assert bench.main(["rerank", "--refresh-refs", "--out", str(tmp_path / "r")]) == 0
    got = json.loads((tmp_path / "r.json").read_text())
    assert got["sets"]["calibration"]["ref"]["a"] == 31.5
    assert got["sets"]["calibration"]["scores"]["a"]["reference_psnr_y_db"] == 31.5
    assert got["sets"]["heldout"]["ref"] == rep["sets"]["heldout"]["ref"]
    assert got["sets"]["calibration"]["reference_steps"]["a"] == 8000
    # the header names the steps behind the reference from the report, not a fixed range
    assert "the reference is Set5 + Set14 + B100 after 8000 steps" in (
        (tmp_path / "r.md").read_text()
    )
    # a reference still missing a net is a one-line error, and the report is left as it was
    del final["e"]
    capsys.readouterr()
    assert bench.main(["rerank", "--refresh-refs", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no reference score yet for e" in err and "\n" not in err
    assert json.loads((tmp_path / "r.json").read_text()) == got

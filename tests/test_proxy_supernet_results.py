"""The committed supernet results (benchmarks/results/proxy_supernet*.json): their rank
figures follow from the per-net scores stored beside them and the committed reference tables
(recomputed here, so an edited or stale figure fails); an ensemble's scores are the means of its
members'."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from search.fidelity import LinearBlend, ReferenceTable, kendall_tau, loo_blend
from tests.conftest import load_benchmark

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


# (report, its rank rows, the stored score those rows rank): a report scored on several sets
# also ranks the same fine-tunes on Set5 alone
VARIANTS = [
    ("proxy_supernet.json", "rows", None),
    ("proxy_supernet_own.json", "rows", None),
    ("proxy_supernet_sets.json", "rows", None),
    ("proxy_supernet_sets.json", "rows_set5", "Set5"),
    ("proxy_supernet_sets_seed1.json", "rows", None),
    ("proxy_supernet_sets_seed1.json", "rows_set5", "Set5"),
    ("proxy_supernet_ensemble.json", "rows", None),
    ("proxy_supernet_ensemble.json", "rows_set5", "Set5"),
    # the same two supernets with the 10 confirmation nets added (score --sets confirm --extend)
    ("proxy_supernet_confirm.json", "rows", None),
    ("proxy_supernet_confirm_seed1.json", "rows", None),
    ("proxy_supernet_ensemble_confirm.json", "rows", None),
    ("proxy_supernet_ensemble_confirm.json", "rows_set5", "Set5"),
]
#: how many nets each reference set holds
SET_SIZES = {"calibration": 13, "heldout": 8, "confirm": 10}


def _load(name: str) -> dict:
    path = RESULTS / name
    if not path.is_file():
        pytest.skip(f"{path.name} not committed (run benchmarks/proxy_supernet.py train, score)")
    return json.loads(path.read_text())


@pytest.fixture(scope="module", params=sorted({v[0] for v in VARIANTS}))
def report(request) -> dict:
    return _load(request.param)


@pytest.fixture(scope="module", params=VARIANTS, ids=[f"{v[0]}:{v[1]}" for v in VARIANTS])
def ranked(request) -> tuple[dict, dict, str | None]:
    name, rows, one_set = request.param
    return _load(name), _load(name)[rows], one_set


def _score(entry: dict, one_set: str | None) -> float:
    return entry["psnr_y_db"] if one_set is None else entry["per_set"][one_set]


def test_the_references_are_the_committed_tables(report) -> None:
    for s in report["sets"].values():
        table = ReferenceTable.load(REPO / s["reference_file"])
        assert table.scores(list(s["ref"])) == pytest.approx(s["ref"])
        for lb, sc in s["scores"].items():
            assert sc["reference_psnr_y_db"] == pytest.approx(s["ref"][lb])
    assert list(report["sets"])[:2] == ["calibration", "heldout"]
    for name, s in report["sets"].items():
        assert len(s["ref"]) == len(s["scores"]) == SET_SIZES[name]


def blend_predictions(report: dict, ft: str, one_set: str | None) -> dict[str, float]:
    """supernet-FT+logparams(cal-fit) from the stored scores: fitted on the covered calibration
    nets (leave-one-out for themselves), applied to the covered nets of every other set."""
    least = report["covered_threshold"]
    cal = report["sets"]["calibration"]
    c = [lb for lb, sc in cal["scores"].items() if sc["coverage"] >= least]

    def x(s, labels):
        return [[_score(s["scores"][lb][ft], one_set), math.log10(s["scores"][lb]["params"])]
                for lb in labels]

    y = [cal["ref"][lb] for lb in c]
    out = dict(zip(c, loo_blend(x(cal, c), y), strict=True))
    fit = LinearBlend.fit(x(cal, c), y)
    for name, other in report["sets"].items():
        if name != "calibration":
            h = [lb for lb, sc in other["scores"].items() if sc["coverage"] >= least]
            out |= dict(zip(h, fit.predict(x(other, h)), strict=True))
    return out


def test_rank_figures_follow_from_the_stored_scores(ranked) -> None:
    report, all_rows, one_set = ranked
    checked = 0
    for where, rows in all_rows.items():
        sets = list(report["sets"].values()) if where == "pooled" else [report["sets"][where]]
        ref = {lb: v for s in sets for lb, v in s["ref"].items()}
        scores = {lb: v for s in sets for lb, v in s["scores"].items()}
        for r in rows:
            labels = [
                lb
                for lb in ref
                if r["on"] == "all" or scores[lb]["coverage"] >= report["covered_threshold"]
            ]
            assert r["n"] == len(labels)
            if r["strategy"] == "params-only":
                mine = [scores[lb]["params"] for lb in labels]
            elif r["strategy"].endswith("+logparams(cal-fit)"):
                ft = r["strategy"].removeprefix("supernet-").split("+")[0]
                preds = blend_predictions(report, ft, one_set)
                mine = [preds[lb] for lb in labels]
            else:
                ft = r["strategy"].replace("supernet-", "")
                mine = [_score(scores[lb][ft], one_set) for lb in labels]
            assert r["kendall_tau"] == pytest.approx(kendall_tau(mine, [ref[lb] for lb in labels]))
            checked += 1
    # params-only and each fine-tune on all and covered nets, each blend on covered ones, per set
    # and pooled
    n_ft = len(report["finetune_steps"])
    assert checked == (len(report["sets"]) + 1) * (2 * (1 + n_ft) + n_ft)


def test_the_amortised_cost_is_the_supernet_over_the_nets(report) -> None:
    n = report["amortised_over"]["scored"]
    assert n == sum(SET_SIZES[name] for name in report["sets"])
    assert report["amortised_cpu_seconds"]["scored"] == pytest.approx(
        report["supernet_cpu_seconds"] / n
    )
    assert report["supernet_steps"] == report["plan"]["protocol"]["steps"]
    if "members" in report:  # an ensemble pays for every supernet
        assert report["supernet_cpu_seconds"] == pytest.approx(
            sum(m["supernet_cpu_seconds"] for m in report["members"])
        )


@pytest.mark.parametrize("name", ["proxy_supernet_ensemble.json",
                                  "proxy_supernet_ensemble_confirm.json"])
def test_the_committed_ensemble_is_the_mean_of_its_members(name: str) -> None:
    ens = _load(name)
    members = [_load(Path(p).name) for p in ens["context"]["reports"]]
    assert [m["plan"]["seed"] for m in members] == ens["ensemble_seeds"]
    assert len(set(ens["ensemble_seeds"])) == len(members) >= 2
    for name, s in ens["sets"].items():
        for lb, sc in s["scores"].items():
            for f in ens["finetune_steps"]:
                got = [m["sets"][name]["scores"][lb][f"ft{f}"] for m in members]
                assert sc[f"ft{f}"]["psnr_y_db"] == pytest.approx(
                    sum(g["psnr_y_db"] for g in got) / len(got)
                )
                assert sc[f"ft{f}"]["cpu_seconds"] == pytest.approx(
                    sum(g["cpu_seconds"] for g in got)
                )


def test_eval_sets_are_checked_before_any_work(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmark("proxy_supernet")
    assert bench.parse_eval_sets("Set5, B100") == ("Set5", "B100")
    assert bench.main(["score", "--eval-sets", "Set5,Urban100"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Urban100" in err and "Set14" in err
    assert bench.main(["score", "--eval-sets", ","]) == 2


def test_a_score_on_several_sets_is_the_mean_of_their_means(report) -> None:
    sets = report.get("eval_sets", ["Set5"])
    for s in report["sets"].values():
        for sc in s["scores"].values():
            for f in report["finetune_steps"]:
                entry = sc[f"ft{f}"]
                if len(sets) == 1:
                    assert "per_set" not in entry
                else:
                    assert sorted(entry["per_set"]) == sorted(sets)
                    assert entry["psnr_y_db"] == pytest.approx(
                        sum(entry["per_set"].values()) / len(sets)
                    )


@pytest.mark.parametrize(
    "name", ["proxy_supernet_confirm.json", "proxy_supernet_confirm_seed1.json"]
)
def test_an_extended_report_keeps_the_nets_its_supernet_scored_before(name: str) -> None:
    extended = _load(name)
    ext = extended["context"]["extends"]
    base = _load(Path(ext["report"]).name)
    assert ext["scored_sets"] == list(base["sets"]) == ["calibration", "heldout"]
    assert extended["context"]["scored_sets"] == ["confirm"]
    assert extended["supernet_loss"] == base["supernet_loss"]  # the same supernet
    assert extended["plan"] == base["plan"]
    for set_name in base["sets"]:
        assert extended["sets"][set_name]["scores"] == base["sets"][set_name]["scores"]

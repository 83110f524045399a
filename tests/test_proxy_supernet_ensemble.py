"""proxy_supernet.py ensemble: the per-net mean of several supernets' stored reports, checked on
small synthetic reports (no supernet is trained here)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from blocks.errors import UserError
from search.fidelity import kendall_tau
from tests.conftest import load_benchmark

REF = {"a": 30.0, "b": 30.4, "c": 30.2, "d": 30.9, "h": 30.5, "i": 30.7}
PARAMS = {"a": 1000, "b": 3000, "c": 2000, "d": 9000, "h": 4000, "i": 6000}
HELD_REF = {"e": 30.1, "f": 30.6, "g": 30.3}
HELD_PARAMS = {"e": 1500, "f": 5000, "g": 2500}


def _scores(ref, params, shift, coverage=1.0):
    return {
        lb: {
            "coverage": coverage,
            "params": params[lb],
            "spec_key": f"net-{lb}",
            "reference_psnr_y_db": v,
            **{
                f"ft{f}": {
                    "cpu_seconds": 10.0 + f / 10,
                    "per_set": {
                        "Set5": 30.0 + 0.5 * math.log10(params[lb]) + shift(lb, f),
                        "B100": 28.0 + 0.5 * math.log10(params[lb]),
                    },
                }
                for f in (0, 50)
            },
        }
        for lb, v in ref.items()
    }


def report(seed: int, shift=lambda lb, f: 0.0) -> dict:
    sets = {
        "calibration": {"ref": dict(REF), "scores": _scores(REF, PARAMS, shift)},
        "heldout": {"ref": dict(HELD_REF), "scores": _scores(HELD_REF, HELD_PARAMS, shift)},
    }
    for s in sets.values():
        for sc in s["scores"].values():
            for f in (0, 50):
                per = sc[f"ft{f}"]["per_set"]
                sc[f"ft{f}"]["psnr_y_db"] = sum(per.values()) / 2
    return {
        "plan": {
            "spaces": ["rfdb@v1"],
            "channels": [16, 48],
            "scale": 2,
            "seed": seed,
            "protocol": {"steps": 100, "residual": "bicubic"},
        },
        "supernet_steps": 100,
        "supernet_cpu_seconds": 700.0 + seed,
        "supernet_loss": [[0, 0.1], [100, 0.02 + seed / 1000]],
        "supernet_store_values": 1234,
        "finetune_steps": [0, 50],
        "eval_sets": ["Set5", "B100"],
        "covered_threshold": 0.99,
        "amortised_over": {"scored": 7, "search": 1000},
        "sets": sets,
        "context": {"git": "abc1234", "command": f"proxy_supernet.py score --seed {seed}"},
    }


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("proxy_supernet")


def test_a_net_scores_the_mean_of_the_supernets_and_pays_for_all(bench) -> None:
    lift = {"a": 0.3, "d": -0.2}
    one, two = report(0), report(1, lambda lb, f: lift.get(lb, 0.0) + f / 100)
    ens = bench.ensemble([one, two])
    assert ens["ensemble_seeds"] == [0, 1]
    assert ens["supernet_cpu_seconds"] == 1401.0
    assert ens["amortised_cpu_seconds"]["scored"] == pytest.approx(1401.0 / 7)
    a = ens["sets"]["calibration"]["scores"]["a"]["ft50"]
    a1 = one["sets"]["calibration"]["scores"]["a"]["ft50"]
    assert a["per_set"]["Set5"] == pytest.approx(a1["per_set"]["Set5"] + (0.3 + 0.5) / 2)
    assert a["per_set"]["B100"] == pytest.approx(a1["per_set"]["B100"])
    assert a["psnr_y_db"] == pytest.approx(a1["psnr_y_db"] + (0.3 + 0.5) / 4)
    assert a["cpu_seconds"] == pytest.approx(2 * a1["cpu_seconds"])
    # the members are left as they were
    assert one["sets"]["calibration"]["scores"]["a"]["ft50"] == a1
    assert [m["seed"] for m in ens["members"]] == [0, 1]


def test_the_ensemble_ranks_the_means(bench) -> None:
    noisy = {"b": 0.5, "c": -0.5}
    one = report(0, lambda lb, f: noisy.get(lb, 0.0))
    two = report(1, lambda lb, f: -noisy.get(lb, 0.0))
    ens = bench.ensemble([one, two])
    ens |= bench.rows_of(ens)
    row = next(
        r
        for r in ens["rows"]["calibration"]
        if r["strategy"] == "supernet-ft0" and r["on"] == "all"
    )
    mine = [ens["sets"]["calibration"]["scores"][lb]["ft0"]["psnr_y_db"] for lb in REF]
    assert row["kendall_tau"] == pytest.approx(kendall_tau(mine, list(REF.values())))
    # the two supernets' opposite errors cancel: the mean ranks as log params does
    by_params = kendall_tau(list(PARAMS.values()), list(REF.values()))
    assert row["kendall_tau"] == pytest.approx(by_params)
    single = bench.rows_of(one)["rows"]["calibration"]
    alone = next(r for r in single if r["strategy"] == "supernet-ft0" and r["on"] == "all")
    assert alone["kendall_tau"] != pytest.approx(row["kendall_tau"])
    assert "rows_set5" in ens
    # the supernets' own agreement, over all 9 nets: b and c swap places between them
    pooled = {**REF, **HELD_REF}
    a0 = [
        one["sets"]["calibration" if lb in REF else "heldout"]["scores"][lb]["ft0"]["psnr_y_db"]
        for lb in pooled
    ]
    a1 = [
        two["sets"]["calibration" if lb in REF else "heldout"]["scores"][lb]["ft0"]["psnr_y_db"]
        for lb in pooled
    ]
    (pair,) = ens["member_agreement"]["ft0"]
    assert pair["seeds"] == [0, 1]
    assert pair["kendall_tau"] == pytest.approx(kendall_tau(a0, a1))
    assert pair["kendall_tau"] < 1.0


@pytest.mark.parametrize(
    "change, says",
    [
        (lambda r: r["plan"].update(seed=0), "share a seed"),
        (lambda r: r.update(finetune_steps=[0]), "fine-tune steps"),
        (lambda r: r.update(eval_sets=["Set5"]), "scoring sets"),
        (lambda r: r["plan"].update(channels=[16, 32]), "supernet recipe"),
        (lambda r: r["sets"]["heldout"]["scores"]["e"].update(spec_key="other"), "nets"),
        (lambda r: r["sets"]["heldout"]["ref"].update(e=29.0), "references"),
    ],
)
def test_reports_that_differ_are_refused(bench, change, says) -> None:
    other = report(1)
    change(other)
    with pytest.raises(UserError, match=says):
        bench.ensemble([report(0), other])


def test_the_command_writes_the_report_and_refuses_bad_input(
    bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for seed in (0, 1):
        (tmp_path / f"r{seed}.json").write_text(json.dumps(report(seed)))
    out = tmp_path / "ens"
    argv = ["ensemble", "--reports", f"{tmp_path / 'r0'},{tmp_path / 'r1.json'}", "--out", str(out)]
    assert bench.main(argv) == 0
    written = json.loads(out.with_suffix(".json").read_text())
    assert written["ensemble_seeds"] == [0, 1]
    assert written["context"]["command"] == "benchmarks/proxy_supernet.py " + " ".join(argv)
    md = out.with_suffix(".md").read_text()
    assert "the mean of 2 supernets" in md and "| 1 | 701 | 0.0210 |" in md
    capsys.readouterr()
    assert bench.main(["ensemble", "--reports", str(tmp_path / "r0")]) == 2
    assert bench.main(["ensemble", "--reports", f"{tmp_path / 'r0'},{tmp_path / 'nope'}"]) == 2
    (tmp_path / "bad.json").write_text("{")
    assert bench.main(["ensemble", "--reports", f"{tmp_path / 'r0'},{tmp_path / 'bad'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("proxy_supernet: ") for line in err)
    assert "nope" in err[1] and "not a JSON report" in err[2]


def test_a_seed_other_than_0_gets_its_own_default_report(bench, monkeypatch) -> None:
    seen = []

    def score_main(args, argv):
        seen.append(Path(args.out).name)
        return 0

    monkeypatch.setattr(bench, "score_main", score_main)
    bench.main(["score", "--seed", "1", "--eval-sets", "Set5,B100"])
    bench.main(["score", "--eval-sets", "Set5,B100"])
    bench.main(["score"])
    # seed 1 does not overwrite the seed-0 report
    assert seen == ["proxy_supernet_sets_seed1", "proxy_supernet_sets", "proxy_supernet"]

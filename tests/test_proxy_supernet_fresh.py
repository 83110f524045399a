"""benchmarks/proxy_supernet_fresh.py: the fresh nets and how the shipped proxy is judged on
them, alone and pooled with the covered ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import proxy_supernet_fresh as bench  # noqa: E402
from proxy_fidelity import (  # noqa: E402
    FRESH_MAX_PARAMS,
    FRESH_N,
    REFERENCE_SETS,
    fresh_architectures,
)

from profiles.counting import count_params  # noqa: E402


def test_the_fresh_nets_are_a_fixed_random_draw_apart_from_every_other_set() -> None:
    archs = fresh_architectures(2)
    assert len(archs) == FRESH_N == 10
    assert [lb for lb, _ in archs] == [lb for lb, _ in fresh_architectures(2)]  # deterministic
    assert archs[0][0] == "fresh01-lrfdb-c48x3" and archs[9][0] == "fresh10-rfdb-c40x3"
    others = {sp.key() for name, f in REFERENCE_SETS.items() if name != "fresh"
              for _, sp in f(2)}
    keys = [sp.key() for _, sp in archs]
    assert len(set(keys)) == 10 and not set(keys) & others
    assert all(count_params(sp) <= FRESH_MAX_PARAMS for _, sp in archs)
    # a random draw: per-block knobs differ inside some nets, as in a search
    assert any(len({b.key() for b in sp.blocks}) > 1 for _, sp in archs)


def _nets(prefix: str, n: int, order: list[float], cpu: float) -> dict:
    """n nets: reference rises with the index, params fall with it; ``cosine`` follows the
    reference, ``constant`` follows ``order``."""
    return {f"{prefix}{i}": {"params": float(1000 * (n - i)), "reference": 30.0 + i,
                             "cosine": {"psnr_y_db": float(i), "cpu_s": cpu},
                             "constant": {"psnr_y_db": order[i], "cpu_s": cpu}}
            for i in range(n)}


def _fresh(cpu: float = 20.0, flattened: int = 10) -> dict:
    order = [3.0, 1.0, 4.0, 0.0, 5.0, 9.0, 2.0, 6.0, 8.0, 7.0]
    return {"seeds": {s: _nets("f", 10, order, cpu) for s in bench.SEEDS},
            "reference_state": {"n_architectures": 10, "n_flattened": flattened,
                                "steps_min": 5000, "steps_max": 8000},
            "reference_steps": {f"f{i}": 8000 for i in range(10)}}


def _covered(cosine_against: bool = False) -> dict:
    order = [float(i) for i in range(12)]
    out = {}
    for s in bench.SEEDS:
        nets = _nets("c", 12, order, 20.0)
        if cosine_against:
            for i, n in enumerate(nets.values()):
                n["cosine"]["psnr_y_db"] = -float(i)
        for n in nets.values():
            n["ema"] = {"psnr_y_db": 0.0, "cpu_s": 1.0}  # other endings are left out of the pool
        out[s] = {"nets": nets, "supernet_cpu_s": 3000.0}
    return out


def test_the_goal_needs_both_the_fresh_and_the_pooled_nets() -> None:
    report = bench.rank(_fresh(), _covered())
    row = {(r["set"], r["supernet_seed"], r["schedule"]): r for r in report["rows"]}
    assert (report["n_fresh"], report["n_pooled"]) == (10, 22)
    assert row[("fresh", 0, "params-only")]["kendall_tau"] == pytest.approx(-1.0)
    assert row[("fresh", 0, "cosine")]["kendall_tau"] == pytest.approx(1.0)
    assert row[("pooled", 0, "cosine")]["cpu_s_amortised"] == pytest.approx(23.0)
    mean = row[("fresh", bench.MEAN, "cosine")]
    assert mean["cpu_s_median"] == pytest.approx(40.0)  # both supernets fine-tune it
    assert mean["cpu_s_amortised"] == pytest.approx(46.0)
    assert ("fresh", bench.MEAN, "constant") not in row
    assert report["verdict"] == {"fresh": "met", "pooled": "met"} and report["goal_met"]
    assert not report["provisional"]
    report["command"] = "benchmarks/proxy_supernet_fresh.py rank"
    text = bench.render(report)
    assert text.count("**met**") == 3  # the two primary rows and the closing line

    # the covered nets ranked backwards by the cosine: pooled misses, so the goal does
    against = bench.rank(_fresh(), _covered(cosine_against=True))
    assert against["verdict"] == {"fresh": "met", "pooled": "missed"}
    assert not against["goal_met"]


def test_a_reference_still_running_makes_the_verdict_provisional() -> None:
    report = bench.rank(_fresh(flattened=7), _covered())
    report["command"] = "x"
    assert report["provisional"] and "**provisional**" in bench.render(report)


def test_fresh_nets_among_the_covered_are_refused() -> None:
    covered = _covered()
    for s in bench.SEEDS:
        covered[s]["nets"]["f0"] = covered[s]["nets"].pop("c0")
    with pytest.raises(ValueError, match="fresh nets among the covered ones: f0"):
        bench.rank(_fresh(), covered)


def test_missing_measurements_are_one_line_errors(tmp_path, capsys, monkeypatch) -> None:
    load = bench.load_fresh
    monkeypatch.setattr(bench, "load_fresh", lambda: load(tmp_path / "none.json"))
    assert bench.main(["rank", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("proxy_supernet_fresh: no none.json") and "\n" not in err

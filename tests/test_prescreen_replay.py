"""The step-0 (zero-cost) rung replay of benchmarks/prescreen_replay.py on synthetic runs."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def pre():
    return load_benchmark("prescreen_replay")


def _point(psnr: float, macs: float) -> dict:
    return {"psnr_y_db": psnr, "macs": macs, "intermediate": [[40, psnr - 1.0], [80, psnr]]}


def test_a_candidate_dominated_before_training_costs_no_steps(pre) -> None:
    pts = [_point(30.0, 1e9), _point(30.5, 2e9), _point(31.0, 4e9), _point(30.2, 8e9)]
    ref = [29.0, 1e10]
    # the last proposal scores lowest and costs most at step 0: a peer dominates it, and it is
    # outside the best half, so it stops before training
    got = pre.replay_run(pre.ParetoSuccessiveHalving((0,), eta=2.0), pts, [3.0, 4.0, 5.0, 1.0],
                         80, ref)
    assert got["stopped_at_0"] == 1
    assert got["compute_saved"] == pytest.approx(80 / (4 * 80))
    assert got["hv_ratio_macs"] == pytest.approx(1.0)  # it was dominated in the end as well
    # scored best at step 0, it trains; the front keeps it and nothing is saved
    got = pre.replay_run(pre.ParetoSuccessiveHalving((0,), eta=2.0), pts, [3.0, 4.0, 5.0, 9.0],
                         80, ref)
    assert got["stopped_at_0"] == 0 and got["compute_saved"] == 0.0
    # a front net stopped at step 0 costs hypervolume
    front = pts[:3] + [_point(32.0, 8e9)]
    got = pre.replay_run(pre.ParetoSuccessiveHalving((0,), eta=2.0), front, [3.0, 4.0, 5.0, 1.0],
                         80, ref)
    assert got["stopped_at_0"] == 1 and got["hv_ratio_macs"] < 0.9


def test_the_settings_put_the_default_last_rung_after_step_zero(pre) -> None:
    s = pre.settings(pre.ParetoSuccessiveHalving.for_steps(300, 50).rungs)
    assert s[pre.PRIMARY].rungs == (0,) and s[pre.PRIMARY].eta == 2.0
    assert [p.rungs for p in s.values()][2] == (0, 150)


def test_missing_proxy_data_is_one_line_before_any_scoring(pre, tmp_path, capsys) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    assert pre.main(["--data", str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "proxy 'quick' needs T91/" in err and "\n" not in err
    assert not (tmp_path / "out.json").exists()


def test_the_recorded_command_is_the_one_run_from_the_shell(pre, tmp_path, monkeypatch) -> None:
    """Run as a script (``main()`` without argv) the report records the shell's arguments."""
    seen = {}
    monkeypatch.setattr(pre, "SOURCES", ())
    monkeypatch.setattr(pre, "render", lambda out: seen.setdefault("out", out) and "")
    monkeypatch.setattr(sys, "argv", ["prescreen_replay.py", "--out", str(tmp_path / "o")])
    assert pre.main() == 0
    assert seen["out"]["context"]["command"] == (
        f"benchmarks/prescreen_replay.py --out {tmp_path / 'o'}")

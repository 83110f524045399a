"""`search --prune-rungs`, `--prune-eta`, `--prune-dominators`: the pruner decides at the steps
the user names, and only at steps where the proxy records a score, with the share kept and the
dominator count given; bad values are one-line errors that write nothing."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from blocks.errors import UserError
from search.cli import main
from search.search_cli import pruner_rungs
from search.study import open_storage
from tests.tiny_setup import TINY_DEVICE_YAML, TINY_SPACE_YAML


def test_pruner_rungs_are_checkpoint_steps_below_the_last() -> None:
    assert pruner_rungs(None, 300, 50) is None
    assert pruner_rungs("150,100", 300, 50) == (100, 150)
    assert pruner_rungs("100, 100", 300, 50) == (100,)
    for bad in ("75", "300", "0", "-50", "x", "", "100;150"):
        with pytest.raises(UserError, match="prune-rungs"):
            pruner_rungs(bad, 300, 50)
    with pytest.raises(UserError, match="step budget"):
        pruner_rungs("100", None, 50)


@pytest.fixture()
def tiny(tmp_path) -> dict[str, str]:
    (tmp_path / "dev.yaml").write_text(TINY_DEVICE_YAML)
    (tmp_path / "space.yaml").write_text(TINY_SPACE_YAML)
    return {"space": str(tmp_path / "space.yaml"), "dev": str(tmp_path / "dev.yaml"),
            "dir": str(tmp_path)}


def load(tiny: dict[str, str]) -> optuna.Study:
    return optuna.load_study(study_name="pr", storage=open_storage(
        f"journal:///{tiny['dir']}/s.log"))


def search(tiny: dict[str, str], *extra: str, trials: int = 4) -> int:
    # 8 steps per trial: checkpoints every 2 steps (proxy_with_steps), default rungs 2 and 4
    return main(["search", "--space", tiny["space"], "--device", tiny["dev"], "--proxy", "demo",
                 "--steps-per-trial", "8", "--trials", str(trials), "--storage",
                 f"journal:///{tiny['dir']}/s.log", "--study", "pr", "--quiet", *extra])


@pytest.mark.parametrize("extra, fragment", [
    (("--prune-rungs", "3"), "multiples of 2"),
    (("--prune-rungs", "8"), "below its 8 steps"),
    (("--prune-rungs", "4", "--no-prune"), "drop --no-prune"),
    (("--prune-eta", "1"), "--prune-eta must be a number above 1"),
    (("--prune-dominators", "0"), "--prune-dominators must be a positive integer"),
    (("--prune-dominators", "2", "--no-prune"), "drop --no-prune"),
    (("--prune-dominators", "2", "--backend", "ray", "--objectives", "psnr"), "ASHA"),
])
def test_bad_rungs_are_one_line_errors_that_write_nothing(tiny, capsys, extra, fragment) -> None:
    assert search(tiny, *extra) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and "Traceback" not in err[0]
    assert not (Path(tiny["dir"]) / "s.log").exists()


def test_the_study_records_and_uses_the_rungs_given(tiny) -> None:
    assert search(tiny, "--prune-rungs", "6", trials=8) == 0
    study = load(tiny)
    assert study.user_attrs["pruner"] == "pareto-sh rungs 6"
    # a trial ends at the end of its training or at the one rung, never at the default 2 or 4
    # (with the default rungs, the same 8 trials here stop three candidates at step 2)
    steps = {int(t.user_attrs["steps"]) for t in study.get_trials()
             if t.user_attrs.get("status") in ("complete", "pruned")}
    assert steps == {6, 8}


def test_pruner_eta_is_above_one_and_needs_pruning_on() -> None:
    from search.pruner import DEFAULT_ETA
    from search.search_cli import pruner_eta

    assert pruner_eta(None, True) == pruner_eta(None, False) == DEFAULT_ETA
    assert pruner_eta(2.0, True) == 2.0
    for bad in (1.0, 0.5, -2.0, float("nan"), float("inf")):
        with pytest.raises(UserError, match="above 1"):
            pruner_eta(bad, True)
    with pytest.raises(UserError, match="drop --no-prune"):
        pruner_eta(2.0, False)


def test_the_study_records_and_uses_the_eta_given(tiny) -> None:
    # eta 1.01 keeps ceil(n / 1.01) = n of n < 100 trials at a rung: nothing stops early, where
    # the default eta 3 stops three of the same 8 trials at step 2
    assert search(tiny, "--prune-eta", "1.01", trials=8) == 0
    study = load(tiny)
    assert study.user_attrs["pruner"] == "pareto-sh eta 1.01"
    states = [t.user_attrs.get("status") for t in study.get_trials()]
    assert "pruned" not in states and states.count("complete") >= 4


def test_pruner_dominators_is_a_positive_count_with_pruning_on() -> None:
    from search.pruner import DEFAULT_MIN_DOMINATORS, ParetoSuccessiveHalving
    from search.search_cli import pruner_dominators

    assert pruner_dominators(None, False) == DEFAULT_MIN_DOMINATORS == 1
    assert pruner_dominators(3, True) == 3
    for bad in (0, -1):
        with pytest.raises(UserError, match="positive integer"):
            pruner_dominators(bad, True)
    assert ParetoSuccessiveHalving.for_steps(300, 50, min_dominators=4).min_dominators == 4
    with pytest.raises(ValueError, match="min_dominators"):
        ParetoSuccessiveHalving((100,), min_dominators=0)


def test_the_study_records_and_uses_the_dominator_count_given(tiny) -> None:
    # no candidate among 8 can have 8 peers dominating it at a rung: nothing stops early, where
    # the default (1) stops three of the same 8 trials at step 2
    assert search(tiny, "--prune-dominators", "8", trials=8) == 0
    study = load(tiny)
    assert study.user_attrs["pruner"] == "pareto-sh dominators 8"
    states = [t.user_attrs.get("status") for t in study.get_trials()]
    assert "pruned" not in states and states.count("complete") >= 4

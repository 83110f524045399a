"""``distillnas search``: bad arguments are one-line errors before anything is costed or trained,
and a study resumes only with the settings that say what its results mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from blocks.errors import UserError
from reports.storage import load_study
from search.cli import main
from search.runner import parse_objectives
from search.study import make_sampler, open_study
from tests.tiny_setup import TINY_DEVICE_YAML, TINY_SPACE_YAML


@pytest.fixture
def tiny(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "space.yaml").write_text(TINY_SPACE_YAML)
    (tmp_path / "dev.yaml").write_text(TINY_DEVICE_YAML)
    return {"space": str(tmp_path / "space.yaml"), "device": str(tmp_path / "dev.yaml"),
            "storage": f"journal:///{tmp_path / 'study.log'}"}


def _search(tiny: dict[str, str], *extra: str) -> list[str]:
    return ["search", "--space", tiny["space"], "--device", tiny["device"], "--proxy", "demo",
            "--steps-per-trial", "2", "--storage", tiny["storage"], "--study", "s", "--quiet",
            "--threads", "1", *extra]


def _one_line_error(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("minutes", ["nan", "inf", "0", "-1"])
def test_minutes_must_be_finite_and_positive(tiny, tmp_path, capsys, minutes) -> None:
    """nan trained forever (the trial count defaults to 1e9), inf was taken, 0 and -1 ran
    nothing and exited 0."""
    assert main(_search(tiny, "--minutes", minutes)) == 2
    _one_line_error(capsys, "--minutes: expected a positive number", minutes)
    assert not (tmp_path / "study.log").exists()  # refused before the study was made


@pytest.mark.parametrize("threads", ["100000", "1025", "0", "-1"])
def test_threads_must_be_1_to_1024(tiny, tmp_path, capsys, threads) -> None:
    """--threads 100000 crashed the process (rc 139) once training started."""
    assert main([*_search(tiny, "--trials", "1"), "--threads", threads]) == 2
    _one_line_error(capsys, "--threads: expected a thread count from 1 to 1024", threads)
    assert not (tmp_path / "study.log").exists()


@pytest.mark.parametrize("text",
                         ["psnr,psnr", "psnr,macs,psnr", "macs,macs", "latency,psnr,latency"])
def test_an_objective_listed_twice_is_refused(text: str) -> None:
    """'psnr,psnr' was taken (psnr was deduplicated) while 'psnr,latency,latency' was refused."""
    with pytest.raises(UserError, match="listed twice"):
        parse_objectives(text)


def test_objectives_listed_once_still_parse() -> None:
    assert parse_objectives("macs,psnr") == [("psnr_y_db", "maximize"), ("macs", "minimize")]
    assert parse_objectives("latency") == [("psnr_y_db", "maximize"), ("latency_ms", "minimize")]


def test_duplicate_objectives_on_the_command_line(tiny, capsys) -> None:
    assert main(_search(tiny, "--trials", "1", "--objectives", "psnr,psnr")) == 2
    _one_line_error(capsys, "objective psnr listed twice in 'psnr,psnr'")


@pytest.mark.timeout(20)
@pytest.mark.parametrize("flag", ["--max-macs", "--max-params"])
def test_an_absurd_budget_is_refused_at_once(tiny, tmp_path, capsys, flag) -> None:
    """'1e999999999' was worked out as 10**999999999 (a hang)."""
    assert main(_search(tiny, "--trials", "1", flag, "1e999999999")) == 2
    _one_line_error(capsys, "'1e999999999' is too large")
    assert not (tmp_path / "study.log").exists()


def test_data_must_be_an_existing_folder(tiny, tmp_path, capsys) -> None:
    """--data nosuch (or a file) with the demo proxy exited 0 on the embedded images."""
    (tmp_path / "somefile.json").write_text("{}")
    for data, words in ((str(tmp_path / "nosuch"), "no such folder"),
                        (str(tmp_path / "somefile.json"), "is a file, not a folder")):
        assert main(_search(tiny, "--trials", "1", "--data", data)) == 2
        _one_line_error(capsys, "--data", words)
    assert not (tmp_path / "study.log").exists()


def test_data_is_refused_for_the_demo_proxy(tiny, tmp_path, capsys) -> None:
    """The demo proxy trains and scores on the embedded images whatever --data says."""
    assert main(_search(tiny, "--trials", "1", "--data", str(tmp_path))) == 2
    _one_line_error(capsys, "not used by proxy 'demo'", "embedded images", "quick")
    assert not (tmp_path / "study.log").exists()


def test_resume_with_other_budgets_is_refused_and_changes_nothing(tiny, capsys) -> None:
    """A resumed study with --max-params took the new budget silently: its stored settings
    still said no budget, and an earlier trial above the new budget stayed complete."""
    assert main(_search(tiny, "--trials", "1")) == 0
    capsys.readouterr()
    assert main(_search(tiny, "--trials", "2", "--max-params", "1100", "--sampler", "random",
                        "--seed", "7")) == 2
    err = _one_line_error(capsys, "study 's' was created with budgets=none (now {params=1100})",
                          "another --study")
    assert "sampler" not in err and "seed" not in err
    study = load_study(tiny["storage"], "s")
    assert len(study.trials) == 1 and study.user_attrs["budgets"]["params"] is None
    # several settings at once are all named, each with its old and new value
    assert main(_search(tiny, "--trials", "2", "--max-macs", "1G", "--objectives",
                        "psnr,params")) == 2
    _one_line_error(capsys, "objectives=['psnr_y_db:maximize', 'macs:minimize'] (now "
                    "['psnr_y_db:maximize', 'params:minimize'])", "budgets=none (now "
                    "{macs=1000000000})")


def test_a_resume_with_other_settings_is_refused_before_the_budget_check(
        tiny, capsys, monkeypatch) -> None:
    """The budget check profiles nets (up to ~20 s on a measured device): a resume that will be
    refused must not wait for it."""
    import search.feasibility

    assert main(_search(tiny, "--trials", "1")) == 0
    capsys.readouterr()

    def too_late(*args, **kwargs):
        raise AssertionError("the budget check ran before the settings were compared")

    monkeypatch.setattr(search.feasibility, "check_budget_reachable", too_late)
    assert main(_search(tiny, "--trials", "2", "--max-params", "1100")) == 2
    _one_line_error(capsys, "study 's' was created with budgets=none (now {params=1100})")
    # a new study name is not compared with anything: it goes on to the budget check
    assert main([*_search(tiny, "--trials", "1"), "--study", "another"]) == 1
    assert "the budget check ran" in capsys.readouterr().err


def test_resume_with_another_sampler_seed_or_threads_is_allowed(tiny, capsys) -> None:
    """Workers of one study run with different --seed on purpose (README 'Scaling out'); the
    sampler, seed and threads do not change what a result means."""
    assert main(_search(tiny, "--trials", "1")) == 0
    assert main([*_search(tiny, "--trials", "2", "--sampler", "random", "--seed", "7")]) == 0
    study = load_study(tiny["storage"], "s")
    assert sum(t.user_attrs.get("status") == "complete" for t in study.trials) == 2
    assert study.user_attrs["sampler"] == "tpe" and study.user_attrs["seed"] == 0  # the creator's


def _open(tmp_path: Path, **settings: object):  # noqa: ANN202
    return open_study(f"journal:///{tmp_path}/o.log", "o", directions=["maximize", "minimize"],
                      settings=settings, sampler=make_sampler("random", 0))


@pytest.mark.parametrize(
    ("key", "old", "new"),
    [
        ("budgets", {"params": None, "macs": None}, {"params": 8000, "macs": None}),
        ("budgets", {"params": 9000}, {"params": 8000}),
        ("data", "embedded", "t91+bsd200"),
        ("input_hw", [180, 320], [256, 256]),
        ("latency_method", "measured", "roofline"),
        ("space_version", "aaaa", "bbbb"),
    ],
)
def test_open_study_refuses_settings_that_change_meaning(tmp_path, key, old, new) -> None:
    _open(tmp_path, **{key: old, "sampler": "tpe"})
    with pytest.raises(UserError, match=f"was created with {key}=.*another --study"):
        _open(tmp_path, **{key: new, "sampler": "tpe"})


@pytest.mark.parametrize(
    ("key", "old", "new"),
    [
        ("sampler", "tpe", "random"),
        ("seed", 0, 7),
        ("pruner", "pareto-sh", "none"),
        ("budgets", {"params": 8000, "latency_ms": 50}, {"params": 8000.0, "latency_ms": 50.0}),
        ("latency_method", "measured", "table"),  # the Ray backend's table of the same device
    ],
)
def test_open_study_allows_settings_that_keep_meaning(tmp_path, key, old, new) -> None:
    _open(tmp_path, **{key: old})
    assert _open(tmp_path, **{key: new}).user_attrs[key] == old

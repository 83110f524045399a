"""The report: summary numbers, self-contained HTML, Markdown, CLI (--json) and bad studies."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import optuna
import pandas as pd
import pytest

from reports.errors import ReportError
from reports.hypervolume import hypervolume
from reports.pareto import pareto_front
from reports.records import load_records, load_study_attrs
from reports.report import report_summary, write_report
from reports.storage import open_storage
from search.cli import main
from tests.reports.synth import make_study, study_attrs, trial_attrs


class _Resources(HTMLParser):
    """Collects every <img src>, and every src/href that would fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.fetches: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values.get("src") or "")
        for name in ("src", "href"):
            if values.get(name) and not values[name].startswith(("data:", "#")):
                self.fetches.append(f"{tag} {name}={values[name][:60]}")


def test_summary_contract(records: pd.DataFrame, attrs: dict) -> None:
    summary = report_summary(records, attrs)
    json.dumps(summary)  # JSON-ready
    front = pareto_front(records, attrs["objectives"])
    assert [e["key"] for e in summary["front"]] == front["key"].tolist()
    for entry in summary["front"]:
        assert {"key", "psnr_y_db", "params", "macs", "flops", "latency_ms"} <= set(entry)
    ref = summary["reference_point"]
    assert (
        ref["macs"] == attrs["budgets"]["macs"] and summary["reference_basis"]["macs"] == "budget"
    )
    assert summary["hypervolume"] == pytest.approx(
        hypervolume(
            front[["psnr_y_db", "macs"]].to_numpy(float),
            ["maximize", "minimize"],
            [ref["psnr_y_db"], ref["macs"]],
        )
    )
    assert summary["knee"]["key"] in front["key"].tolist()
    assert summary["counts"]["trials"] == 43 and summary["device"] == "cpu-2core"
    assert {r["reference"] for r in summary["references"]} == {"fsrcnn", "rfdn-proxy"}


def test_write_report_files_and_self_contained_html(
    records: pd.DataFrame, attrs: dict, out_dir: Path
) -> None:
    paths = write_report(records, attrs, out_dir)
    for name in ("front_macs", "front_params", "front_latency_ms", "hypervolume"):
        assert paths[f"{name}_png"].stat().st_size > 0 and paths[f"{name}_svg"].stat().st_size > 0
    html = paths["html"].read_text()
    parser = _Resources()
    parser.feed(html)
    assert len(parser.images) == 4
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert parser.fetches == []
    assert "http://" not in html and "https://" not in html
    assert 'class="sortable"' in html and "addEventListener('click'" in html
    for text in ("cpu-2core", "quick", "rfdn-small", "nsga2", "60,000,000,000", "Hypervolume"):
        assert text in html
    md = paths["markdown"].read_text()
    assert (
        "| key |" in md.replace("| number | key |", "| key |")
        and "![front_macs](front_macs.png)" in md
    )
    front = pd.read_csv(paths["front_csv"])
    assert len(front) == len(json.loads(paths["summary_json"].read_text())["front"])


@pytest.mark.slow
def test_cli_json(journal_url: str, tmp_path: Path, capsys) -> None:
    code = main(
        ["report", "--study", "demo", "--storage", journal_url, "--out", str(tmp_path), "--json"]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hypervolume"] > 0 and out["front"]
    assert {"key", "psnr_y_db", "params", "macs", "latency_ms"} <= set(out["front"][0])
    assert Path(out["files"]["html"]).exists()


def test_empty_study_is_a_clear_error(tmp_path: Path, capsys) -> None:
    url = f"journal:///{tmp_path / 'empty.log'}"
    study = optuna.create_study(storage=open_storage(url, read_only=False), study_name="empty")
    study.set_user_attr("objectives", ["psnr_y_db:maximize", "macs:minimize"])
    with pytest.raises(ReportError, match="has no trials"):
        report_summary(load_records(url, "empty"), load_study_attrs(url, "empty"))
    assert main(["report", "--study", "empty", "--storage", url, "--out", str(tmp_path)]) == 2
    assert "has no trials" in capsys.readouterr().err


@pytest.mark.slow
def test_study_without_feasible_trials_still_reports_why(tmp_path: Path, capsys) -> None:
    import numpy as np

    url = f"journal:///{tmp_path / 'bad.log'}"
    study = optuna.create_study(
        storage=open_storage(url, read_only=False),
        study_name="bad",
        directions=["maximize", "minimize"],
    )
    for key, value in study_attrs().items():
        study.set_user_attr(key, value)
    rng = np.random.default_rng(0)
    for i in range(3):
        attrs = trial_attrs(rng, i, params=900_000)  # over every budget
        study.add_trial(
            optuna.trial.create_trial(
                values=[attrs["psnr_y_db"] or 0.0, float(attrs["macs"])], user_attrs=attrs
            )
        )
    assert (
        main(["report", "--study", "bad", "--storage", url, "--out", str(tmp_path), "--json"]) == 0
    )
    captured = capsys.readouterr()
    assert "no feasible complete trial" in captured.err
    out = json.loads(captured.out)
    assert out["front"] == [] and out["hypervolume"] is None
    assert (tmp_path / "report.html").exists()


def test_sqlite_summary(sqlite_url: str) -> None:
    summary = report_summary(load_records(sqlite_url, "demo"), load_study_attrs(sqlite_url, "demo"))
    assert summary["counts"]["trials"] == 9 and summary["front"] and summary["hypervolume"] > 0


def test_two_studies_in_one_storage_do_not_mix(journal_url: str) -> None:
    a = report_summary(load_records(journal_url, "demo"), load_study_attrs(journal_url, "demo"))
    b = report_summary(
        load_records(journal_url, "demo-arm"), load_study_attrs(journal_url, "demo-arm")
    )
    assert a["device"] == "cpu-2core" and b["device"] == "arm-a76"
    assert a["study"] == "demo" and b["study"] == "demo-arm"


def test_make_study_helper_is_deterministic(tmp_path: Path) -> None:
    a = make_study(optuna.storages.InMemoryStorage(), "x", seed=5, n_trials=5)
    b = make_study(optuna.storages.InMemoryStorage(), "x", seed=5, n_trials=5)
    assert [t.user_attrs for t in a.trials] == [t.user_attrs for t in b.trials]

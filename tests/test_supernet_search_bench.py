"""benchmarks/supernet_search.py: the parts that need no supernet (stored reports, the CLI's
summary line it parses)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from search.cli import main
from search.fidelity import kendall_tau
from tests.tiny_setup import TINY_DEVICE_YAML, TINY_SPACE_YAML

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import supernet_search as bench  # noqa: E402


def test_ranks_compare_one_supernet_with_quick_on_the_same_nets() -> None:
    out = bench.ranks()["supernets"]
    assert set(out) == {"0", "1"}
    quick = bench.quick_scores()
    for seed, r in out.items():
        rep = json.loads((bench.RESULTS / bench.SUPERNET_REPORTS[int(seed)]).read_text())
        scores = {lb: sc for s in ("calibration", "heldout")
                  for lb, sc in rep["sets"][s]["scores"].items()}
        ref = {lb: v for s in ("calibration", "heldout") for lb, v in rep["sets"][s]["ref"].items()}
        # the covered nets that have a quick score, and nothing else
        assert r["nets"] == sorted(lb for lb, sc in scores.items()
                                   if sc["coverage"] >= bench.COVERED and lb in quick)
        truth = [ref[lb] for lb in r["nets"]]
        set5 = [scores[lb]["ft200"]["per_set"]["Set5"] for lb in r["nets"]]
        assert r["supernet"]["kendall_tau"] == pytest.approx(kendall_tau(set5, truth))
        assert r["quick"]["kendall_tau"] == pytest.approx(
            kendall_tau([quick[lb] for lb in r["nets"]], truth))
        assert r["vs_quick"]["diff"] == pytest.approx(
            r["supernet"]["kendall_tau"] - r["quick"]["kendall_tau"])


def test_the_summary_line_it_parses_is_what_the_search_prints(tmp_path, capsys) -> None:
    (tmp_path / "space.yaml").write_text(TINY_SPACE_YAML)
    (tmp_path / "dev.yaml").write_text(TINY_DEVICE_YAML)
    assert main(["search", "--space", str(tmp_path / "space.yaml"), "--device",
                 str(tmp_path / "dev.yaml"), "--proxy", "demo", "--steps-per-trial", "3",
                 "--trials", "1", "--quiet", "--storage", f"journal:///{tmp_path}/s.log"]) == 0
    m = bench.SUMMARY.search(capsys.readouterr().out)
    assert m is not None and float(m.group(1)) > 0

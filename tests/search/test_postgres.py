"""Several `distillnas search` processes share one study through a real PostgreSQL server.

The workers are real CLI subprocesses with a fast configuration: a tiny space, a roofline device at
24x32 (costs without timing) and the demo proxy cut to 6 steps (registered as ``tiny-test`` by a
two-line wrapper, since a protocol is chosen by name on the command line).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer, free_port

REPO = Path(__file__).resolve().parents[2]

SPACE = """\
name: tiny
family: rfdb
scale: 2
channels: [8, 12]
num_blocks: {low: 1, high: 2}
share_blocks: true
blocks:
  conv: [standard, dcb]
  attention: [esa, none]
"""

DEVICE = """\
name: tiny-roofline
description: a tiny roofline device for tests (costs without timing)
input_hw: [24, 32]
threads: 1
budgets: {params: 12000, macs: null, latency_ms: null, memory_mib: null}
latency: {method: roofline, peak_gflops: 10.0, bandwidth_gbps: 5.0}
"""

# the CLI's own main, with a 6-step protocol registered first
WRAPPER = """\
import sys
from dataclasses import replace
from search.proxies import get_protocol, register_protocol
register_protocol(replace(get_protocol("demo"), name="tiny-test", steps=6, eval_every=3,
                          warmup_steps=1, batch=4, lr_patch=16, eval_crop=24))
from search.cli import main
sys.exit(main(sys.argv[1:]))
"""


def write_fast_config(tmp_path: Path) -> dict[str, Path]:
    """The tiny space, roofline device and 6-step CLI wrapper, written into ``tmp_path``."""
    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "device.yaml").write_text(DEVICE)
    (tmp_path / "run.py").write_text(WRAPPER)
    return {
        "space": tmp_path / "space.yaml",
        "device": tmp_path / "device.yaml",
        "run": tmp_path / "run.py",
        "dir": tmp_path,
    }


@pytest.fixture
def fast_config(tmp_path: Path) -> dict[str, Path]:
    return write_fast_config(tmp_path)


def _search_cmd(cfg: dict[str, Path], storage: str, study: str, trials: int, seed: int) -> list:
    return [
        sys.executable,
        str(cfg["run"]),
        "search",
        "--space",
        str(cfg["space"]),
        "--device",
        str(cfg["device"]),
        "--proxy",
        "tiny-test",
        "--storage",
        storage,
        "--study",
        study,
        "--trials",
        str(trials),
        "--sampler",
        "random",
        "--seed",
        str(seed),
        "--threads",
        "1",
        "--no-prune",
        "--quiet",
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.strip()
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.slow
def test_two_workers_share_one_study_without_lost_or_duplicated_trials(
    postgres: PostgresServer, fast_config: dict[str, Path]
) -> None:
    import optuna

    from reports.records import load_records
    from search.study import COUNTED, status_of

    total = 8
    url = postgres.url()
    workers = [
        subprocess.Popen(
            _search_cmd(fast_config, url, "shared", total, seed),
            cwd=fast_config["dir"],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    for w, (_out, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err

    study = optuna.load_study(study_name="shared", storage=url)
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials))), "trial numbers are unique and dense"
    assert not [t for t in trials if status_of(t) in ("running", "waiting")]
    counted = [t for t in trials if status_of(t) in COUNTED]
    assert len(counted) == total, Counter(status_of(t) for t in trials)
    trained = [t.user_attrs["key"] for t in counted]
    assert len(trained) == len(set(trained)), "a net was trained twice"
    assert len({t.user_attrs["worker"] for t in trials}) == 2, "both workers took trials"
    for t in trials:
        if status_of(t) == "complete":
            assert t.user_attrs["params"] <= 12_000

    records = load_records(url, "shared")
    assert len(records) == len(trials)
    assert int(records["status"].isin(COUNTED).sum()) == total

    from search.cli import main

    assert (
        main(
            [
                "report",
                "--study",
                "shared",
                "--storage",
                url,
                "--out",
                str(fast_config["dir"] / "report"),
            ]
        )
        == 0
    )


@pytest.mark.slow
@pytest.mark.parametrize("case", ["wrong-password", "unreachable"])
def test_bad_postgres_url_is_one_line_without_traceback(
    postgres: PostgresServer, fast_config: dict[str, Path], case: str
) -> None:
    if case == "wrong-password":
        url = postgres.url(password="not-the-password")
        expected = "password authentication failed"
    else:
        url = postgres.url(port=free_port())  # nothing listens there
        expected = "refused"
    proc = subprocess.run(
        _search_cmd(fast_config, url, "bad", 1, 0),
        cwd=fast_config["dir"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    err = _one_line_error(proc)
    assert expected in err
    assert "not-the-password" not in err and postgres.password not in err

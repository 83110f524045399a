"""The Ray Tune backend: a real local Ray (num_cpus=2), the same records, one-line errors.

The fast tests need no Ray. The slow ones start a real local Ray: one runs the CLI end to end
with real (tiny) proxy training, reads it with `report` and `select`; one drives RaySearch with
a stand-in trainer through the multi-objective path (Pareto pruning from the driver).
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from blocks.errors import UserError
from profiles.counting import count_model
from search.budgets import Budgets
from search.ray_backend import (
    MAX_TEMP_DIR_CHARS,
    RayOptions,
    check_address,
    local_temp_dir,
    options_from_args,
)
from search.runner import TrainOutcome, parse_objectives
from search.space import load_space
from search.study import COUNTED, make_sampler, open_study, status_of
from tests.postgres_server import free_port
from tests.search.test_postgres import SPACE, write_fast_config

REPO = Path(__file__).resolve().parents[2]
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.fixture
def tiny(tmp_path: Path) -> dict[str, Path]:
    return write_fast_config(tmp_path)


def _distillnas(
    tiny: dict[str, Path], *args: str, timeout: float = 600, prelude: str = ""
) -> subprocess.CompletedProcess:
    """The CLI in a subprocess, through the wrapper that registers the 6-step protocol."""
    code = prelude + f"exec(open({str(tiny['run'])!r}).read())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=tiny["dir"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _cli(
    tiny: dict[str, Path], *extra: str, timeout: float = 600, prelude: str = ""
) -> subprocess.CompletedProcess:
    """`distillnas search` on the tiny space and device with the 6-step protocol."""
    search = ["search", "--space", str(tiny["space"]), "--device", str(tiny["device"])]
    return _distillnas(
        tiny, *search, "--proxy", "tiny-test", "--quiet", *extra, timeout=timeout, prelude=prelude
    )


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.strip()
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


# ---- fast: no Ray needed -------------------------------------------------------------------------
class _Args:
    backend = "ray"
    ray_address = None
    ray_cpus = None
    cpus_per_trial = None
    gpus_per_trial = None
    threads = None
    train_device = "cpu"

    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"backend": "optuna", "cpus_per_trial": 2.0}, "--cpus-per-trial only apply with"),
        ({"ray_cpus": 2, "cpus_per_trial": 64.0}, "cannot be placed on a local Ray"),
        ({"cpus_per_trial": 0.0}, "must be > 0"),
        ({"ray_address": "ray://head:10001"}, "Ray Client addresses"),
        ({"ray_address": "h:6379", "ray_cpus": 2}, "sizes a local Ray"),
        ({"threads": 4}, "--cpus-per-trial 4 instead of --threads"),
        ({"train_device": "cuda"}, "needs --gpus-per-trial > 0"),
        ({"gpus_per_trial": 1.0}, "would not use"),
    ],
)
def test_bad_ray_options_are_one_line_user_errors(kw: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        options_from_args(_Args(**kw))
    assert options_from_args(_Args(backend="optuna")) is None


def test_ray_not_installed_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Path], capsys
) -> None:
    from search.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if absent
    code = main(
        [
            "search",
            "--space",
            str(tiny["space"]),
            "--device",
            str(tiny["device"]),
            "--backend",
            "ray",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and "pip install 'distillnas[ray]'" in err, err


def test_long_run_folders_get_a_short_ray_temp_dir(tmp_path: Path) -> None:
    short_enough = Path("/tmp") / "dnrt"
    path, is_short = local_temp_dir(short_enough)
    assert (path, is_short) == (short_enough / "tmp", False)
    deep = tmp_path / ("x" * 60)
    path, is_short = local_temp_dir(deep)
    assert is_short and len(str(path)) <= MAX_TEMP_DIR_CHARS
    assert (deep / "tmp").resolve() == path.resolve()
    path.rmdir()


def test_refused_or_unknown_ray_address_fails_fast() -> None:
    t0 = time.perf_counter()
    with pytest.raises(UserError, match="cannot reach Ray cluster at 127.0.0.1:.*refused"):
        check_address(f"127.0.0.1:{free_port()}", timeout_s=10)
    with pytest.raises(UserError, match="bad --ray-address"):
        check_address("no-port-here", timeout_s=10)
    assert time.perf_counter() - t0 < 5


# ---- slow: a real local Ray --------------------------------------------------------------------
def _need_ray() -> None:
    pytest.importorskip(
        "ray.tune", reason="Ray Tune is not installed: pip install 'distillnas[ray]'"
    )


@pytest.mark.slow
def test_port_that_is_not_a_ray_head_fails_within_the_timeout() -> None:
    _need_ray()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # a silent TCP server: connects, never answers
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(UserError, match=r"Ray cluster .*at 127\.0\.0\.1:\d+"):
            check_address(f"127.0.0.1:{server.getsockname()[1]}", timeout_s=8)
    finally:
        stop.set()
        thread.join()
        for s in accepted:
            s.close()
        server.close()
    assert time.perf_counter() - t0 < 20


@pytest.mark.slow
def test_bad_address_and_unsatisfiable_resources_are_one_line(tiny: dict[str, Path]) -> None:
    _need_ray()
    t0 = time.perf_counter()
    err = _one_line_error(
        _cli(
            tiny,
            "--backend",
            "ray",
            "--ray-address",
            f"127.0.0.1:{free_port()}",
            "--trials",
            "1",
            timeout=120,
        )
    )
    assert "cannot reach Ray cluster" in err and "refused" in err
    assert time.perf_counter() - t0 < 60
    # a local Ray of this host's CPUs starts, then no node can hold 64 CPUs: no hang
    t0 = time.perf_counter()
    err = _one_line_error(
        _cli(tiny, "--backend", "ray", "--cpus-per-trial", "64", "--trials", "1", timeout=180)
    )
    assert "no Ray node can hold a trial of 64 CPUs" in err
    assert time.perf_counter() - t0 < 120


@pytest.mark.slow
def test_ray_not_installed_in_a_real_process_is_one_line(tiny: dict[str, Path]) -> None:
    proc = _cli(
        tiny, "--backend", "ray", prelude="import sys; sys.modules['ray'] = None\n", timeout=120
    )
    assert "pip install 'distillnas[ray]'" in _one_line_error(proc)


@pytest.mark.slow
def test_tiny_ray_search_trains_for_real_and_report_and_select_read_it(
    tiny: dict[str, Path],
) -> None:
    """The CLI with --backend ray on a local Ray of 2 CPUs; PSNR alone (ASHA)."""
    _need_ray()
    from reports.records import load_ray_results, load_records
    from search.cli import main

    storage = f"journal:///{tiny['dir']}/runs/study.log"
    proc = _cli(
        tiny,
        "--backend",
        "ray",
        "--ray-cpus",
        "2",
        "--cpus-per-trial",
        "1",
        "--objectives",
        "psnr",
        "--trials",
        "3",
        "--sampler",
        "random",
        "--seed",
        "3",
        "--storage",
        storage,
        "--study",
        "s",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    records = load_records(storage, "s")
    counted = records[records["status"].isin(COUNTED)]
    assert len(counted) == 3, records["status"].value_counts().to_dict()
    assert (records.loc[records["status"] == "complete", "params"] <= 12_000).all()
    assert (records.loc[records["status"] == "infeasible", "params"] > 12_000).all()
    assert records.loc[records["status"] == "complete", "psnr_y_db"].gt(10).all()
    assert set(records["proxy"]) == {"tiny-test"}
    # every trained candidate also has a result.json record with the same status
    ray_rows = load_ray_results(tiny["dir"] / "runs" / "s-ray" / "tune" / "s")
    assert sorted(ray_rows["key"]) == sorted(counted["key"])
    by_key = dict(zip(counted["key"], counted["status"], strict=True))
    assert all(by_key[k] == s for k, s in zip(ray_rows["key"], ray_rows["status"], strict=True))
    assert (
        main(["report", "--study", "s", "--storage", storage, "--out", str(tiny["dir"] / "report")])
        == 0
    )
    if (records["status"] == "complete").any():  # the study's own weights, found by select
        sel = ["select", "--study", "s", "--storage", storage, "--device", str(tiny["device"])]
        proc = _distillnas(tiny, *sel, "--out", str(tiny["dir"] / "chosen"), "--quiet")
        assert proc.returncode == 0, proc.stderr
        assert (tiny["dir"] / "chosen" / "weights.pt").exists()


class StandInTrainer:
    """Ray-side stand-in: PSNR grows with log(width x depth) along a fake 90-step curve."""

    def train(self, spec, *, seed, report):
        final = 25 + math.log10(sum(b.channels for b in spec.blocks) * len(spec.blocks))
        for step in range(10, 91, 10):
            time.sleep(0.05)
            report(step, final * step / 90)
        return TrainOutcome("complete", final, ssim_y=0.8, steps=90, train_seconds=0.45)


class StandInCosts:
    """Driver-side costs: counted for real at 32x32, no latency."""

    proxy_name = "stand-in"
    total_steps = 90
    checkpoint_every = 10

    def costs(self, spec, budgets):
        c = count_model(spec, (32, 32))
        return {
            "params": c.params,
            "macs": c.macs,
            "flops": c.flops,
            "latency_ms": None,
            "latency_source": "table",
            "peak_memory_mib": None,
            "profile_seconds": 0.0,
            "device": "stand-in",
        }


@pytest.mark.slow
def test_multi_objective_ray_search_keeps_the_record_contract(tmp_path: Path) -> None:
    """psnr + macs on Ray: constraints and duplicates in the driver, Pareto pruning as a
    scheduler, every proposal recorded in the study, trained ones in result.json too."""
    _need_ray()
    from ray import cloudpickle

    from reports.records import load_ray_results, load_records
    from search.ray_backend import RaySearch

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import tests
    space = load_space("demo")
    objectives = parse_objectives("psnr,macs")
    url = f"journal:///{tmp_path}/study.log"
    study = open_study(
        url,
        "mo",
        directions=[d for _, d in objectives],
        settings={"objectives": [f"{f}:{d}" for f, d in objectives], "device": "stand-in"},
        sampler=make_sampler("tpe", 0),
    )
    run = RaySearch(
        study,
        space,
        Budgets(params=12_000),
        StandInCosts(),
        objectives,
        trials=8,
        ray_dir=tmp_path / "mo-ray",
        options=RayOptions(num_cpus=2),
        worker_trainer=StandInTrainer(),
        progress=False,
    )
    run.run()
    trials = study.get_trials()
    statuses = Counter(status_of(t) for t in trials)
    assert sum(statuses[s] for s in COUNTED) == 8, statuses
    assert statuses["infeasible"] > 0  # the demo space has nets over 12k params
    for t in trials:
        s = status_of(t)
        if s == "infeasible":
            assert t.user_attrs["params"] > 12_000 and t.constraints["params"] > 0
            assert "train_seconds" not in t.user_attrs  # never trained
        if s == "complete":
            assert t.user_attrs["params"] <= 12_000 and t.values[1] == t.user_attrs["macs"]
        if s == "pruned":
            assert t.user_attrs["steps_saved"] > 0 and t.user_attrs["intermediate"]
    trained = [t.user_attrs["key"] for t in trials if status_of(t) in COUNTED]
    assert len(trained) == len(set(trained))
    records = load_records(url, "mo")
    assert len(records) == len(trials)
    ray_rows = load_ray_results(tmp_path / "mo-ray" / "tune" / "mo")
    assert len(ray_rows) == 8 and set(ray_rows["status"]) <= set(COUNTED)
    assert run.ray_start_s > 0


MEASURED_DEVICE = """\
name: tiny-measured
description: this host at a tiny input, latency measured (for the table step)
input_hw: [16, 16]
threads: 1
budgets: {params: null, macs: null, latency_ms: null, memory_mib: null}
latency: {method: measured, backend: eager}
"""


@pytest.mark.slow
def test_measured_device_gets_one_latency_table_before_ray(tmp_path: Path) -> None:
    """A measured device is timed once, in one exclusive step, then predicted from the table."""
    from profiles.devices import load_device
    from search.objective import DeviceEvaluator
    from search.proxies import get_protocol
    from search.ray_backend import with_latency_table

    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "device.yaml").write_text(MEASURED_DEVICE)
    space = load_space(tmp_path / "space.yaml")
    device = load_device(tmp_path / "device.yaml")
    # costs only: no training data needed
    evaluator = DeviceEvaluator(device, get_protocol("demo"), None, tmp_path / "c", latency_runs=3)
    tabled = with_latency_table(evaluator, space, tmp_path / "ray", quiet=True)
    assert tabled.device.latency.method == "table"
    table = tabled.device.latency.table
    assert table.exists() and table.is_absolute()
    costs = tabled.costs(space.sample(np.random.default_rng(0)), Budgets())
    assert costs["latency_source"] == "table" and costs["latency_ms"] > 0
    before = table.stat().st_mtime_ns
    again = with_latency_table(evaluator, space, tmp_path / "ray", quiet=True)
    assert again.device.latency.table == table and table.stat().st_mtime_ns == before


class BrokenTrainer:
    def train(self, spec, *, seed, report):
        raise RuntimeError("CUDA out of memory (stand-in)")


@pytest.mark.slow
def test_ray_trials_that_all_fail_end_in_one_line_and_are_recorded(tmp_path: Path) -> None:
    _need_ray()
    from ray import cloudpickle

    from search.ray_backend import RaySearch

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    objectives = parse_objectives("psnr")
    url = f"journal:///{tmp_path}/study.log"
    study = open_study(
        url, "f", directions=["maximize"], settings={}, sampler=make_sampler("random", 0)
    )
    run = RaySearch(
        study,
        load_space("demo"),
        Budgets(),
        StandInCosts(),
        objectives,
        trials=2,
        ray_dir=tmp_path / "f-ray",
        options=RayOptions(num_cpus=2),
        worker_trainer=BrokenTrainer(),
        progress=False,
    )
    with pytest.raises(
        UserError, match="every Ray trial failed; first error: RuntimeError: CUDA out of memory"
    ):
        run.run()
    failed = [t for t in study.get_trials() if status_of(t) == "failed"]
    assert len(failed) == 2
    assert all("out of memory" in t.user_attrs["failure"] for t in failed)


def test_the_ray_schedulers_take_the_rungs_given() -> None:
    """--prune-rungs reaches Ray: the Pareto scheduler decides at those steps, ASHA starts there."""
    _need_ray()
    from types import SimpleNamespace

    from search.pruner import ParetoSuccessiveHalving
    from search.ray_backend import RaySearch

    made = {}
    classes = SimpleNamespace(ParetoScheduler=lambda driver, p: made.setdefault("pareto", p))
    ev = SimpleNamespace(total_steps=300, checkpoint_every=50)
    for rungs, expect in ((None, ParetoSuccessiveHalving.for_steps(300, 50).rungs),
                          ((100, 150), (100, 150))):
        made.clear()
        driver = SimpleNamespace(evaluator=ev, prune=True, prune_rungs=rungs, prune_eta=3.0,
                                 prune_dominators=1, multi_objective=True)
        RaySearch._scheduler(driver, classes)
        assert made["pareto"].rungs == expect
        single = RaySearch._scheduler(SimpleNamespace(**{**vars(driver),
                                                         "multi_objective": False}), classes)
        # ASHA (one objective) has no rung list: its first milestone is the first rung given
        assert min(step for step, _ in single._brackets[0]._rungs) == expect[0]


def test_the_ray_schedulers_take_the_eta_given() -> None:
    """--prune-eta reaches Ray: the Pareto scheduler's eta and ASHA's reduction factor."""
    _need_ray()
    from types import SimpleNamespace

    from search.ray_backend import RaySearch

    made = {}
    classes = SimpleNamespace(ParetoScheduler=lambda driver, p: made.setdefault("pareto", p))
    driver = SimpleNamespace(evaluator=SimpleNamespace(total_steps=300, checkpoint_every=50),
                             prune=True, prune_rungs=None, prune_eta=2.0, prune_dominators=3,
                             multi_objective=True)
    RaySearch._scheduler(driver, classes)
    assert made["pareto"].eta == 2.0 and made["pareto"].min_dominators == 3
    single = RaySearch._scheduler(SimpleNamespace(**{**vars(driver), "multi_objective": False}),
                                  classes)
    assert single._reduction_factor == 2.0


def test_the_ray_driver_recovers_a_trial_another_run_left_unclaimed(tmp_path: Path,
                                                                     monkeypatch) -> None:
    """A run killed between Optuna's ask and its claim leaves a RUNNING trial that names no
    worker. The Ray driver used to recover it only at its next start: until then it counted as
    running, and the run stopped asking one trial short of the total. No Ray needed: this is
    the driver's own bookkeeping."""
    from search import study as study_mod
    from search.ray_backend import RaySearch

    objectives = parse_objectives("psnr")
    study = open_study(f"journal:///{tmp_path}/study.log", "o", directions=["maximize"],
                       settings={}, sampler=make_sampler("random", 0))
    run = RaySearch(study, load_space("demo"), Budgets(), StandInCosts(), objectives, trials=1,
                    ray_dir=tmp_path / "o-ray", options=RayOptions(num_cpus=1),
                    worker_trainer=StandInTrainer(), progress=False)
    orphan = study.ask()  # RUNNING, no worker: what the killed run left
    assert run.remaining() == 0
    monkeypatch.setattr(study_mod, "ORPHAN_GRACE_S", 0.2)
    assert run.should_stop_asking() is False  # waited until it was old enough, then recovered
    trials = study.get_trials()
    assert trials[orphan.number].state == TrialState.FAIL
    assert trials[orphan.number].user_attrs["retried"] is True
    assert run.remaining() == 1 and len(trials) == 2  # its parameters are enqueued again
    assert trials[-1].state == TrialState.WAITING

    claimed = study.ask()  # a live worker's trial (it names its worker) is left alone
    claimed.set_user_attr("worker", "elsewhere:1:?")
    assert run.should_stop_asking() is True
    assert study.get_trials()[claimed.number].state == TrialState.RUNNING

"""Fixtures for reports/: real Optuna studies in temporary journal and sqlite storages."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
import pytest

from reports.records import load_records, load_study_attrs
from reports.storage import open_storage
from tests.reports.synth import make_study

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="session")
def journal_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A journal storage with studies "demo" (cpu-2core) and "demo-arm" (arm-a76)."""
    path = tmp_path_factory.mktemp("journal") / "studies.log"
    url = f"journal:///{path}"
    storage = open_storage(url, read_only=False)
    make_study(storage, "demo", seed=0)
    make_study(storage, "demo-arm", seed=1, device="arm-a76", latency_per_gmac_ms=3.0)
    return url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "studies.db"
    url = f"sqlite:///{path}"
    # SQLite commits each trial with an fsync (~0.1 s): a small study keeps the test fast
    make_study(open_storage(url, read_only=False), "demo", seed=0, n_trials=6)
    return url


@pytest.fixture(scope="session")
def records(journal_url: str) -> pd.DataFrame:
    return load_records(journal_url, "demo")


@pytest.fixture(scope="session")
def attrs(journal_url: str) -> dict:
    return load_study_attrs(journal_url, "demo")


@pytest.fixture()
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"

"""Shared fixtures: the SR data in ../shared/data is read in place and skipped where absent."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DISTILLNAS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def load_benchmark(name: str) -> ModuleType:
    """A fresh module object of benchmarks/NAME.py (the benchmarks are scripts, not a package;
    their folder goes on sys.path for their imports of each other)."""
    folder = REPO_ROOT / "benchmarks"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder with Set5/Set14/B100/T91/BSD200; skips where it is absent (a fresh clone)."""
    if not (SHARED_DATA / "Set5" / "HR").is_dir():
        pytest.skip(f"standard SR data not found at {SHARED_DATA} (set DISTILLNAS_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny tensors on 2 shared cores: a second intra-op thread mostly spin-waits (measured up to
    50x slower under load). Tests that check thread handling set their own count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

"""Shared fixtures of the profiles tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on a shared 2-core host two threads spin-wait on tiny inputs (~50x)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

"""Helpers shared by the tests/test_pose_*.py modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module", autouse=False)
def one_torch_thread() -> Iterator[None]:
    """Run a module's torch work on one thread: the CI machines are small and shared, and
    oversubscribed OpenMP threads make the small pose networks many times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

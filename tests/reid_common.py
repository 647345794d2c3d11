"""Helpers shared by the ``test_reid_*`` files: the KPR parity fixture, loaded once per session."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tests.conftest import require_fixture

N_SAMPLES = 4


def kpr_fixture_dir() -> Path:
    """``../shared/fixtures/kpr_reference`` (skips the test when absent, fails in CI)."""
    return require_fixture("kpr_reference")


@functools.lru_cache(maxsize=1)
def _expected(path: str) -> dict[str, np.ndarray]:
    with np.load(Path(path) / "expected.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@functools.lru_cache(maxsize=1)
def _inputs(path: str) -> dict[str, np.ndarray]:
    with np.load(Path(path) / "inputs.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@functools.lru_cache(maxsize=1)
def _model(path: str):  # returns (KPR, LoadedCheckpoint)
    from kprtrack.reid.checkpoint import load_kpr_checkpoint

    return load_kpr_checkpoint(Path(path) / "checkpoint.pth.tar", Path(path) / "architecture.json")


def expected() -> dict[str, np.ndarray]:
    """The reference outputs (``expected.npz``)."""
    return _expected(str(kpr_fixture_dir()))


def inputs() -> dict[str, np.ndarray]:
    """The fixture inputs (``inputs.npz``)."""
    return _inputs(str(kpr_fixture_dir()))


def fixture_model():
    """``(model, LoadedCheckpoint)`` of the fixture checkpoint; share it read-only (eval mode)."""
    return _model(str(kpr_fixture_dir()))


def stacked(key: str) -> np.ndarray:
    """``expected[key_0 ... key_3]`` stacked along a new first axis."""
    exp = expected()
    return np.stack([exp[f"{key}_{i}"] for i in range(N_SAMPLES)])


def crops_and_keypoints() -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """``crop_i``, stacked ``pos_i`` and ``neg_i`` of the fixture."""
    inp = inputs()
    crops = [inp[f"crop_{i}"] for i in range(N_SAMPLES)]
    pos = np.stack([inp[f"pos_{i}"] for i in range(N_SAMPLES)])
    neg = [inp[f"neg_{i}"].reshape(-1, 17, 3) for i in range(N_SAMPLES)]
    return crops, pos, neg



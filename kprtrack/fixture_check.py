"""Compare a model's outputs on a reference fixture folder with the reference's ``expected.npz``.

A fixture folder (like ``../shared/fixtures/kpr_reference/``) holds a checkpoint, ``inputs.npz`` and,
optionally, ``expected.npz``. Each mode (``kpr``, ``yolox``, ``hrnet``) provides a runner that loads
the checkpoint and inputs, runs the full path and returns every output under the key names of
``expected.npz`` together with the tolerance of each key.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: mode -> "module:function"; the function takes the fixture folder and returns a FixtureOutputs.
MODES: dict[str, str] = {
    "kpr": "kprtrack.reid.fixture:run_fixture",
    "yolox": "kprtrack.detect.fixture:run_fixture",
    "hrnet": "kprtrack.pose.fixture:run_fixture",
}


@dataclass
class FixtureOutputs:
    """What a mode computed.

    Attributes:
        arrays: output name -> array, named as in ``expected.npz``.
        tolerance: output name -> absolute tolerance (0 means exact equality).
    """

    arrays: dict[str, np.ndarray]
    tolerance: Callable[[str], float]


@dataclass
class Comparison:
    """One compared key."""

    key: str
    max_abs_diff: float
    tolerance: float
    ok: bool
    note: str = ""


def run_mode(mode: str, fixture_dir: Path) -> FixtureOutputs:
    """Run the runner registered for ``mode`` on ``fixture_dir``."""
    if mode not in MODES:
        raise ValueError(f"unknown fixture mode {mode!r}; expected one of {sorted(MODES)}")
    if not fixture_dir.is_dir():
        raise FileNotFoundError(f"fixture folder not found: {fixture_dir}")
    module_name, func_name = MODES[mode].split(":")
    runner = getattr(importlib.import_module(module_name), func_name)
    return runner(fixture_dir)


def compare(outputs: FixtureOutputs, expected_path: Path) -> list[Comparison]:
    """Compare every key of ``expected.npz`` that the mode computed; report missing ones too."""
    rows: list[Comparison] = []
    with np.load(expected_path, allow_pickle=False) as expected:
        for key in expected.files:
            ref = expected[key]
            if key not in outputs.arrays:
                continue
            got = np.asarray(outputs.arrays[key])
            tol = outputs.tolerance(key)
            if got.shape != ref.shape:
                rows.append(Comparison(key, float("inf"), tol, False, f"shape {got.shape} != {ref.shape}"))
                continue
            if ref.dtype == bool or got.dtype == bool:
                diff = float(np.count_nonzero(got.astype(bool) != ref.astype(bool)))
                rows.append(Comparison(key, diff, 0.0, diff == 0, "bool: mismatching entries"))
                continue
            diff = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
            rows.append(Comparison(key, diff, tol, diff <= tol))
    return rows

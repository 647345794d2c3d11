"""Compare a model's outputs on a reference fixture folder with the reference's ``expected.npz``.

A fixture folder (like ``../shared/fixtures/kpr_reference/``) holds a checkpoint, ``inputs.npz`` and,
optionally, ``expected.npz``. Each mode (``kpr``, ``yolox``, ``hrnet``) provides a runner that loads
the checkpoint and inputs, runs the full path and returns every output under the key names of
``expected.npz`` together with the tolerance of each key.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Mapping, Sequence
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


def tolerance_table(patterns: Mapping[float, Sequence[str]], default: float) -> Callable[[str], float]:
    """A tolerance function: the absolute tolerance whose ``fnmatch`` patterns a key matches first.

    Args:
        patterns: tolerance -> glob patterns of the keys it applies to (``"image_tensor_*"``, ``"*_margin"``),
            tried in order.
        default: the tolerance of a key no pattern matches.
    """

    def tolerance(key: str) -> float:
        for tol, globs in patterns.items():
            if any(fnmatch.fnmatchcase(key, g) for g in globs):
                return tol
        return default

    return tolerance


def load_image_inputs(path: Path, per_image: Sequence[str]) -> tuple[int, dict[str, np.ndarray]]:
    """``num_images`` and every array of a fixture's ``inputs.npz``, checking that each image has its keys.

    Args:
        path: the ``inputs.npz`` file.
        per_image: key templates every image ``i`` must have (``"img{i}"``, ``"img{i}_bboxes_xyxy"``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: ``num_images`` or an image's key is missing.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} not found in {path.parent}")
    with np.load(path, allow_pickle=False) as data:
        if "num_images" not in data.files:
            raise ValueError(f"{path}: key 'num_images' is missing")
        num_images = int(data["num_images"])
        missing = [k.format(i=i) for i in range(num_images) for k in per_image if k.format(i=i) not in data.files]
        if missing:
            raise ValueError(f"{path}: keys {missing} are missing")
        return num_images, {key: np.asarray(data[key]) for key in data.files}


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

"""Full path from crop + keypoints on the parity fixture, through ``run_fixture`` and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kprtrack.fixture_check import compare
from kprtrack.reid.distance import part_based_distance
from kprtrack.reid.fixture import run_fixture, tolerance
from tests import reid_common as rc


@pytest.fixture(scope="module")
def outputs():
    return run_fixture(rc.kpr_fixture_dir())


def test_every_expected_key_within_readme_tolerance(outputs) -> None:
    rows = compare(outputs, rc.kpr_fixture_dir() / "expected.npz")
    failed = [(r.key, r.max_abs_diff, r.tolerance) for r in rows if not r.ok]
    assert not failed
    computed = {r.key for r in rows}
    expected_keys = set(rc.expected())
    assert expected_keys - computed == {"synthetic_test_visibility"}  # an input, not an output


def test_full_path_tolerances_per_readme(outputs) -> None:
    arr = outputs.arrays
    for i in range(rc.N_SAMPLES):
        for key in ("image_tensor", "prompt_masks"):
            np.testing.assert_allclose(arr[f"{key}_{i}"], rc.expected()[f"{key}_{i}"], atol=1e-6, rtol=0)
        for key in ("parts", "foreg", "pixel_logits", "part_attention", "test_masks", "test_embeddings"):
            np.testing.assert_allclose(arr[f"{key}_{i}"], rc.expected()[f"{key}_{i}"], atol=1e-4, rtol=0)
        np.testing.assert_array_equal(arr[f"visibility_{i}"], rc.expected()[f"visibility_{i}"])
        np.testing.assert_array_equal(arr[f"test_visibility_{i}"], rc.expected()[f"test_visibility_{i}"])
    off = ~np.eye(rc.N_SAMPLES, dtype=bool)
    for key in ("dist", "dist_half", "synthetic_dist"):
        diff = np.abs(arr[key] - rc.expected()[key])
        assert diff[off].max() <= 1e-4 and diff[~off].max() <= 1e-3, key
    assert tolerance("visibility_0") == 0 and tolerance("parts_0") == 1e-4 and tolerance("image_tensor_3") == 1e-6


def test_distance_on_expected_embeddings_with_synthetic_visibility() -> None:
    emb = rc.stacked("test_embeddings")
    vis = rc.expected()["synthetic_test_visibility"]
    dist, per_part = part_based_distance(emb, vis, emb, vis)
    np.testing.assert_allclose(dist.numpy(), rc.expected()["synthetic_dist"], atol=1e-3)
    off = ~np.eye(rc.N_SAMPLES, dtype=bool)
    np.testing.assert_allclose(dist.numpy()[off], rc.expected()["synthetic_dist"][off], atol=1e-4)
    np.testing.assert_allclose(per_part.numpy(), rc.expected()["synthetic_dist_body_parts"], atol=1e-3)


def test_check_fixture_cli(tmp_path: Path) -> None:
    from kprtrack.cli.check_fixture import command

    out = tmp_path / "outputs.npz"
    result = CliRunner().invoke(command, ["kpr", str(rc.kpr_fixture_dir()), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "86/86 keys within tolerance" in result.output
    with np.load(out) as data:
        assert "test_embeddings_3" in data.files and "dist_half" in data.files


def test_check_fixture_cli_fails_beyond_tolerance(tmp_path: Path) -> None:
    """A fixture folder whose expected.npz disagrees makes the checker exit non-zero."""
    from kprtrack.cli.check_fixture import command

    src = rc.kpr_fixture_dir()
    for name in ("checkpoint.pth.tar", "architecture.json", "inputs.npz"):
        (tmp_path / name).symlink_to(src / name)
    exp = dict(rc.expected())
    exp["parts_1"] = exp["parts_1"] + 1e-3
    np.savez(tmp_path / "expected.npz", **exp)
    result = CliRunner().invoke(command, ["kpr", str(tmp_path), "--quiet"])
    assert result.exit_code == 1
    assert "FAIL parts_1" in result.output

"""Shared pieces of the fixture checker: tolerance tables and reading inputs.npz."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.fixture_check import load_image_inputs, tolerance_table


def test_tolerance_table_takes_the_first_matching_pattern():
    tol = tolerance_table({0.0: ("num_images",), 1e-3: ("x", "*_keypoints_flip"), 1e-4: ("img*",)}, default=0.5)
    assert tol("num_images") == 0.0
    assert tol("img0_keypoints_flip") == 1e-3  # matches both patterns: the first wins
    assert tol("img3_heatmaps") == 1e-4
    assert tol("dist") == 0.5


def test_load_image_inputs(tmp_path):
    path = tmp_path / "inputs.npz"
    with pytest.raises(FileNotFoundError, match="inputs.npz not found"):
        load_image_inputs(path, ("img{i}",))
    np.savez(path, img0=np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="'num_images' is missing"):
        load_image_inputs(path, ("img{i}",))
    np.savez(path, num_images=np.int64(2), img0=np.zeros((2, 2, 3), np.uint8), img0_boxes=np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"\['img1', 'img1_boxes'\] are missing"):
        load_image_inputs(path, ("img{i}", "img{i}_boxes"))
    np.savez(path, num_images=np.int64(1), img0=np.zeros((2, 2, 3), np.uint8), img0_boxes=np.zeros((0, 4)))
    n, arrays = load_image_inputs(path, ("img{i}", "img{i}_boxes"))
    assert n == 1 and set(arrays) == {"num_images", "img0", "img0_boxes"}

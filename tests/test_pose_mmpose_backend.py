"""The optional mmpose backend (runs the parity check only where OpenMMLab is installed)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, require_fixture

HAVE_MMPOSE = importlib.util.find_spec("mmpose") is not None


def test_importing_the_backend_does_not_import_mmpose():
    code = (
        "import sys, kprtrack.pose.mmpose_backend\n"
        "print(any(m.split('.')[0] in ('mmpose', 'mmcv', 'mmengine', 'mmdet') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(HAVE_MMPOSE, reason="mmpose is installed")
def test_missing_mmpose_gives_install_instructions(tmp_path):
    from kprtrack.pose.mmpose_backend import MMPosePoseEstimator

    with pytest.raises(ImportError, match=r"pip install 'kprtrack\[mmpose\]'"):
        MMPosePoseEstimator(tmp_path / "config.py", tmp_path / "checkpoint.pth")


@pytest.mark.skipif(not HAVE_MMPOSE, reason="mmpose is not installed")
def test_mmpose_backend_matches_the_reference():
    from kprtrack.pose.mmpose_backend import MMPosePoseEstimator
    from kprtrack.stages import PoseEstimator

    path = require_fixture("hrnet_mmpose_reference")
    est = MMPosePoseEstimator(path / "config.py", path / "checkpoint.pth")
    assert isinstance(est, PoseEstimator) and est.keypoint_format == "coco17"
    with np.load(path / "inputs.npz") as inputs, np.load(path / "expected.npz") as expected:
        for i in range(int(inputs["num_images"])):
            rgb = np.ascontiguousarray(inputs[f"img{i}"][..., ::-1])
            out = est.estimate(rgb, inputs[f"img{i}_bboxes_xyxy"])
            np.testing.assert_allclose(out[..., :2], expected[f"img{i}_keypoints_flip"], rtol=0, atol=1e-3)
            np.testing.assert_allclose(out[..., 2], expected[f"img{i}_keypoint_scores_flip"], rtol=0, atol=1e-4)
        assert est.estimate(rgb, np.zeros((0, 4), np.float32)).shape == (0, 17, 3)

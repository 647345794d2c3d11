"""The optional ultralytics backend (models built from YAML, no weights, no network)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from kprtrack.detect.ultralytics_backend import UltralyticsDetector
from kprtrack.stages import Detector, PoseEstimator
from tests.conftest import REPO


class _FakeYOLO:
    """Records what the backend passes to ``predict`` and returns one fixed box per image."""

    task = "pose"

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def predict(self, images, **kwargs):
        self.seen = list(images)
        self.kwargs = kwargs
        out = []
        for img in images:
            h, w = img.shape[:2]
            boxes = torch.tensor([[0.0, 0.0, w / 2, h / 2], [w / 2, h / 2, w, h]])
            kps = torch.rand(2, 17, 3)
            out.append(
                SimpleNamespace(
                    boxes=SimpleNamespace(xyxy=boxes, conf=torch.tensor([0.3, 0.9])),
                    keypoints=SimpleNamespace(data=kps),
                )
            )
        return out


def test_frames_go_to_ultralytics_as_bgr_and_results_are_sorted() -> None:
    fake = _FakeYOLO()
    det = UltralyticsDetector(fake, conf_threshold=0.2, classes=(0,))
    assert isinstance(det, Detector) and isinstance(det, PoseEstimator)
    frame = np.zeros((20, 30, 3), np.uint8)
    frame[..., 0] = 255  # red in RGB
    ((boxes, scores),) = det.detect([frame])
    assert fake.seen[0][0, 0, 2] == 255 and fake.seen[0][0, 0, 0] == 0  # red is the last channel in BGR
    assert fake.kwargs["conf"] == 0.2 and fake.kwargs["classes"] == [0]
    np.testing.assert_array_equal(scores, np.array([0.9, 0.3], np.float32))
    np.testing.assert_array_equal(boxes[0], [15, 10, 30, 20])


def test_estimate_reuses_the_pass_and_matches_boxes() -> None:
    fake = _FakeYOLO()
    det = UltralyticsDetector(fake)
    frame = np.zeros((20, 30, 3), np.uint8)
    boxes, scores, kps = det.detect_pose([frame])[0]
    fake.seen = []
    query = np.array([[15, 10, 30, 20], [0, 0, 15, 10], [100, 100, 120, 120]], np.float32)
    out = det.estimate(frame, query)
    assert fake.seen == []  # no second pass for the same frame object
    np.testing.assert_array_equal(out[0], kps[0])
    np.testing.assert_array_equal(out[1], kps[1])
    assert not out[2].any()


def test_missing_weights_never_download(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="never downloads"):
        UltralyticsDetector(tmp_path / "yolo11n.pt")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path))
    pytest.importorskip("ultralytics")


def test_real_detection_model_from_yaml(offline) -> None:
    det = UltralyticsDetector("yolo11n.yaml", conf_threshold=1e-4, imgsz=160)
    frames = [np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8), np.zeros((0, 4, 3), np.uint8)]
    frames.append(np.full((90, 50, 3), 100, np.uint8))
    out = det.detect(frames)
    assert len(out) == 3
    for boxes, scores in out:
        assert boxes.dtype == np.float32 and scores.dtype == np.float32 and boxes.shape == (len(scores), 4)
        assert np.all(np.diff(scores) <= 0)
    assert out[1][0].shape == (0, 4)


def test_real_pose_model_from_yaml(offline) -> None:
    det = UltralyticsDetector("yolo11n-pose.yaml", conf_threshold=1e-4, imgsz=160)
    assert det.is_pose and det.keypoint_format == "coco17"
    frame = np.random.default_rng(1).integers(0, 255, (100, 140, 3), np.uint8)
    boxes, scores, kps = det.detect_pose([frame])[0]
    assert kps.shape == (len(boxes), 17, 3) and kps.dtype == np.float32
    assert det.estimate(frame, boxes).shape == (len(boxes), 17, 3)


def test_ultralytics_is_imported_only_when_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys, kprtrack.detect, kprtrack.detect.ultralytics_backend as b; "
        "assert 'ultralytics' not in sys.modules and 'torch' not in sys.modules; "
        "b.UltralyticsDetector.__name__"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)

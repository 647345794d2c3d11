"""YOLOXDetector honours the Detector stage contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kprtrack.detect.detector import YOLOXDetector, YOLOXDetectorConfig
from kprtrack.detect.variants import build_yolox
from kprtrack.stages import Detector
from tests.conftest import require_fixture


@pytest.fixture(scope="module")
def detector() -> YOLOXDetector:
    path = require_fixture("yolox_reference") / "yolox_tiny.pth"
    return YOLOXDetector.from_checkpoint(path)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    with np.load(require_fixture("yolox_reference") / "inputs.npz") as data:
        return [np.ascontiguousarray(data[f"img{i}"][:, :, ::-1]) for i in range(2)]  # BGR -> RGB


def _check_pair(boxes: np.ndarray, scores: np.ndarray) -> None:
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and scores.shape == (boxes.shape[0],)
    assert np.all(boxes[:, 2] >= boxes[:, 0]) and np.all(boxes[:, 3] >= boxes[:, 1])
    assert np.all(np.diff(scores) <= 0)


def test_is_a_detector_with_reference_defaults(detector) -> None:
    assert isinstance(detector, Detector)
    cfg = detector.config
    assert cfg.input_size == (416, 416) and cfg.convention == "megvii" and cfg.classes == (0,)
    assert (cfg.conf_threshold, cfg.nms_threshold) == (0.1, 0.45)


def test_batch_of_different_sizes_equals_single_frames(detector, frames) -> None:
    small = np.ascontiguousarray(frames[0][100:300, 50:250])
    batch = [frames[0], frames[1], small]
    together = detector.detect(batch)
    assert len(together) == 3
    for frame, (boxes, scores) in zip(batch, together):
        _check_pair(boxes, scores)
        alone_boxes, alone_scores = detector.detect([frame])[0]
        assert boxes.shape == alone_boxes.shape
        np.testing.assert_allclose(boxes, alone_boxes, atol=1e-2)
        np.testing.assert_allclose(scores, alone_scores, atol=1e-4)


def test_people_only_in_frame_pixels(detector, frames) -> None:
    res = detector.run(frames)
    boxes, scores = detector.detect(frames)[1]
    person = res[1].dets[res[1].dets[:, 6] == 0]
    assert 0 < len(person) < len(res[1].dets)  # the image also has non-person detections
    np.testing.assert_array_equal(boxes, person[:, :4])
    np.testing.assert_array_equal(scores, person[:, 4] * person[:, 5])
    np.testing.assert_allclose(res[1].dets[:, :4], res[1].dets_input[:, :4] / res[1].letterbox.ratio, rtol=1e-6)


def test_rgb_frames_are_flipped_to_bgr(detector, frames) -> None:
    rgb = detector.run([frames[1]], color="rgb")[0].dets
    bgr = detector.run([np.ascontiguousarray(frames[1][:, :, ::-1])], color="bgr")[0].dets
    np.testing.assert_array_equal(rgb, bgr)
    swapped = detector.run([frames[1]], color="bgr")[0].dets
    assert swapped.shape != rgb.shape or not np.allclose(swapped, rgb)


def test_empty_images_give_no_boxes(detector, frames) -> None:
    out = detector.detect([np.zeros((0, 0, 3), np.uint8), frames[0], np.zeros((0, 50, 3), np.uint8)])
    for i in (0, 2):
        assert out[i][0].shape == (0, 4) and out[i][1].shape == (0,)
        assert out[i][0].dtype == np.float32 and out[i][1].dtype == np.float32
    assert len(out[1][0]) > 0
    assert detector.detect([]) == []


def test_nothing_above_threshold_gives_empty_arrays() -> None:
    model = build_yolox("nano", num_classes=1)
    with torch.no_grad():
        for conv in model.head.obj_preds:
            conv.bias.fill_(-30.0)
    det = YOLOXDetector(model, YOLOXDetectorConfig(input_size=(64, 96)))
    ((boxes, scores),) = det.detect([np.full((40, 70, 3), 200, np.uint8)])
    assert boxes.shape == (0, 4) and scores.shape == (0,) and boxes.dtype == np.float32


def test_invalid_options_and_frames_are_named() -> None:
    model = build_yolox("nano")
    with pytest.raises(ValueError, match="fp16"):
        YOLOXDetector(model, YOLOXDetectorConfig(fp16=True))
    with pytest.raises(ValueError, match="input_size"):
        YOLOXDetector(model, YOLOXDetectorConfig(input_size=(100, 100)))
    with pytest.raises(ValueError, match="convention"):
        YOLOXDetector(model, YOLOXDetectorConfig(convention="yolov5"))
    det = YOLOXDetector(model, YOLOXDetectorConfig(input_size=(64, 64)))
    with pytest.raises(ValueError, match=r"frames\[1\]"):
        det.detect([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])


def test_legacy_normalisation_input() -> None:
    model = build_yolox("nano")
    det = YOLOXDetector(model, YOLOXDetectorConfig(input_size=(64, 64), legacy=True))
    img = np.zeros((64, 64, 3), np.uint8)
    img[..., 0] = 255  # BGR blue channel
    x, _ = det.preprocess([img])
    # legacy: BGR -> RGB, /255, ImageNet mean/std; the blue value lands in channel 2
    expected = (np.array([0.0, 0.0, 1.0]) - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), expected, rtol=1e-5)


def test_views_and_copies_give_the_same_detections(detector, frames) -> None:
    view = frames[1][::-1]  # negative stride, not contiguous
    a = detector.detect([view])[0]
    b = detector.detect([np.ascontiguousarray(view)])[0]
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fp16_on_cuda_agrees_with_fp32(frames) -> None:
    import torchvision

    path = require_fixture("yolox_reference") / "yolox_tiny.pth"
    det32 = YOLOXDetector.from_checkpoint(path, device="cuda")
    det16 = YOLOXDetector.from_checkpoint(path, device="cuda", fp16=True)
    for (b32, s32), (b16, s16) in zip(det32.detect(frames), det16.detect(frames)):
        assert b16.dtype == np.float32 and s16.dtype == np.float32 and len(b16) > 0
        strong = b32[s32 > 0.2]
        iou = torchvision.ops.box_iou(torch.from_numpy(strong), torch.from_numpy(b16))
        assert bool((iou.max(dim=1).values > 0.9).all())

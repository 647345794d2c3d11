"""The shipped real person detector ``weights/yolox_nano_coco.pth`` (no onnxruntime needed).

It is listed in the manifest with its checksum, loads through the ordinary Megvii path, finds the
annotated people of the real COCO photos (``../shared/real/coco_keypoints``, 14 persons) and puts no box
where no person is. Floors are one person below what was measured (13/14 at 416 and score 0.2, 14/14
at 608x1088 and score 0.3; ``tools/eval_real_detector.py``).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from kprtrack.detect.detector import YOLOXDetector
from kprtrack.detect.evaluate import match_image
from kprtrack.detect.variants import VARIANTS
from kprtrack.detect.weights import load_yolox
from kprtrack.weights import load_manifest, repo_weights_dir, sha256sum
from tests.conftest import require_real

NAME = "yolox_nano_coco"


@pytest.fixture(scope="module")
def weights_path():
    return repo_weights_dir() / load_manifest()[NAME].file


@pytest.fixture(scope="module")
def coco_people():
    """``[(RGB image, (M, 4) xyxy person boxes)]`` of ``coco_keypoints/test_coco.json`` (all annotations)."""
    root = require_real("coco_keypoints")
    data = json.loads((root / "test_coco.json").read_text())
    out = []
    for img in data["images"]:
        boxes = [a["bbox"] for a in data["annotations"] if a["image_id"] == img["id"]]
        xyxy = np.asarray([[x, y, x + w, y + h] for x, y, w, h in boxes], np.float64).reshape(-1, 4)
        out.append((cv2.imread(str(root / img["file_name"]))[..., ::-1].copy(), xyxy))
    return out


def test_manifest_entry_and_checksum(weights_path):
    entry = load_manifest()[NAME]
    assert entry.shipped and entry.format == "megvii-yolox" and entry.arch == "yolox_nano"
    assert weights_path.is_file()
    assert sha256sum(weights_path) == entry.sha256
    assert (repo_weights_dir() / "NOTICE-yolox_nano_coco.txt").is_file()


def test_loads_as_official_nano(weights_path):
    model, fmt = load_yolox(weights_path)
    spec = VARIANTS["yolox_nano"]
    assert fmt == "megvii"
    assert (model.arch.depth, model.arch.width, model.arch.depthwise) == (spec.depth, spec.width, spec.depthwise)
    assert model.arch.num_classes == 80
    det = YOLOXDetector.from_checkpoint(weights_path)
    assert det.config.input_size == (416, 416)
    assert det.config.classes == (0,)


@pytest.mark.parametrize(
    ("input_size", "score", "min_found"),
    [((416, 416), 0.2, 12), ((608, 1088), 0.3, 13)],
    ids=["416_score0.2", "608x1088_score0.3"],
)
def test_finds_the_coco_people(weights_path, coco_people, input_size, score, min_found):
    torch.set_num_threads(1)
    det = YOLOXDetector.from_checkpoint(weights_path, input_size=input_size, conf_threshold=score)
    found = false_boxes = 0
    for (_, gt), (boxes, scores) in zip(coco_people, det.detect([img for img, _ in coco_people])):
        assert np.all(scores >= score)
        _, tp = match_image(boxes, scores, gt, 0.5)
        found += int(tp.sum())
        false_boxes += int((~tp).sum())
    assert sum(len(gt) for _, gt in coco_people) == 14
    assert found >= min_found, f"found {found} of 14 annotated persons"
    assert false_boxes == 0, f"{false_boxes} boxes match no annotated person"


def test_no_boxes_without_people(weights_path):
    det = YOLOXDetector.from_checkpoint(weights_path, conf_threshold=0.1)
    rng = np.random.default_rng(0)
    frames = [
        np.full((360, 640, 3), 114, np.uint8),
        np.zeros((480, 640, 3), np.uint8),
        np.full((720, 1280, 3), 255, np.uint8),
        rng.integers(0, 256, (360, 640, 3), dtype=np.uint8),
    ]
    for frame, (boxes, _) in zip(frames, det.detect(frames)):
        assert len(boxes) == 0, f"{len(boxes)} boxes on a {frame.shape} frame without people"

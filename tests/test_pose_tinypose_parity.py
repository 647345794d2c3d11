"""PP-TinyPose: the native network and decoding against the original runtime (``real/pose/reference``).

The fixture holds, for the 12 annotated people of ``real/coco_keypoints`` (GT boxes), the crops the
original OpenVINO model saw, its heatmaps, the decoded keypoints and the crop affines. Measured here
(torch 2.14.1 CPU, shipped float16 weights loaded as float32): heatmaps within 2.1e-6 (256x192) and
1.6e-6 (128x96) of OpenVINO's; keypoints decoded from our heatmaps within 1.2e-4 px; the whole
estimator on the JPEGs within 0.022 px (one crop at the image border differs in one pixel row:
cv2's fixed-point bilinear weights round differently for float32 and float64 affines).
"""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
import torch

from kprtrack.pose.tinypose import load_tinypose
from kprtrack.pose.tinypose_estimator import (
    IMAGENET_MEAN_255,
    IMAGENET_STD_255,
    TinyPoseEstimator,
    crop_to_frame,
    decode_heatmaps,
)
from kprtrack.pose.transforms import (
    bbox_xyxy_to_center_scale,
    crop_boxes,
    fix_aspect_ratio,
    get_udp_warp_matrix,
    normalize_crops,
)
from kprtrack.weights import repo_weights_dir
from tests.conftest import REPO, require_real

VARIANTS = {"256x192": "openvino_2022_256x192", "128x96": "openvino_2022_128x96"}


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(require_real("pose/reference/pptinypose_reference.npz")) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def people(reference) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB image, GT box (1, 4) xyxy) of each fixture person, in fixture order.

    The box corners are computed from the JSON's float64 ``x, y, w, h`` (as the fixture was made).
    """
    root = require_real("coco_keypoints")
    doc = json.loads((root / "test_coco.json").read_text())
    anns = {a["id"]: a for a in doc["annotations"]}
    files = {i["id"]: i["file_name"] for i in doc["images"]}
    out = []
    for aid, xywh in zip(reference["annotation_id"], reference["gt_bbox_xywh"]):
        ann = anns[int(aid)]
        x, y, w, h = ann["bbox"]
        np.testing.assert_allclose([x, y, w, h], xywh, rtol=0, atol=1e-3)
        image = cv2.cvtColor(cv2.imread(str(root / files[ann["image_id"]])), cv2.COLOR_BGR2RGB)
        out.append((image, np.array([[x, y, x + w, y + h]], np.float32)))
    return out


def _centers_scales(people: list, input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    centers, scales = bbox_xyxy_to_center_scale(np.concatenate([box for _, box in people]), 1.25)
    return centers, fix_aspect_ratio(scales, input_size[0] / input_size[1])


@pytest.mark.parametrize("size", list(VARIANTS))
def test_native_heatmaps_and_keypoints_match_the_original_runtime(reference, people, size):
    torch.set_num_threads(1)
    prefix = VARIANTS[size]
    net = load_tinypose(repo_weights_dir() / f"tinypose_{size}.pth")
    assert net.arch.name == f"tinypose_{size}"
    with torch.inference_mode():
        heatmaps = net(torch.from_numpy(reference[f"{prefix}/input"])).numpy()
    ref_hm = reference[f"{prefix}/heatmaps"]
    assert heatmaps.shape == ref_hm.shape
    assert np.abs(heatmaps - ref_hm).max() < 1e-4  # measured 2.1e-6 / 1.6e-6

    centers, scales = _centers_scales(people, net.arch.input_size)
    kp_crop, scores = decode_heatmaps(heatmaps, net.arch.input_size)
    keypoints = crop_to_frame(kp_crop, centers, scales, net.arch.input_size)
    assert np.abs(keypoints - reference[f"{prefix}/keypoints_xy"]).max() < 0.01  # measured 1.2e-4 px
    assert np.abs(scores - reference[f"{prefix}/keypoint_scores"]).max() < 1e-4


@pytest.mark.parametrize("size", list(VARIANTS))
def test_decoding_the_reference_heatmaps_gives_the_reference_keypoints(reference, people, size):
    """The decoder alone (DARK kernel 3, (W-1)/(w-1), inverse affine) on the original runtime's heatmaps."""
    prefix = VARIANTS[size]
    input_size = {"256x192": (192, 256), "128x96": (96, 128)}[size]
    kp_crop, scores = decode_heatmaps(reference[f"{prefix}/heatmaps"], input_size)
    keypoints = crop_to_frame(kp_crop, *_centers_scales(people, input_size), input_size)
    assert np.abs(keypoints - reference[f"{prefix}/keypoints_xy"]).max() < 1e-3
    np.testing.assert_array_equal(scores, reference[f"{prefix}/keypoint_scores"])


@pytest.mark.parametrize("size", list(VARIANTS))
def test_udp_crop_equals_the_fixture_crop(reference, people, size):
    prefix = VARIANTS[size]
    input_size = {"256x192": (192, 256), "128x96": (96, 128)}[size]
    centers, scales = _centers_scales(people, input_size)
    for i, (image, box) in enumerate(people):
        matrix = get_udp_warp_matrix(centers[i], scales[i], input_size)
        np.testing.assert_allclose(matrix, reference[f"{prefix}/crop_affine"][i], rtol=0, atol=1e-4)
        crops, _, _ = crop_boxes(image, box, input_size, 1.25, use_udp=True)
        x = normalize_crops(crops, IMAGENET_MEAN_255, IMAGENET_STD_255, swap_channels=False).numpy()
        diff = np.abs(x - reference[f"{prefix}/input"][i : i + 1])
        # float32 vs float64 affine: cv2's 1/32-pixel interpolation weights may round differently
        assert diff.max() < 0.1 and (diff > 1e-4).mean() < 1e-3, (i, diff.max(), (diff > 1e-4).mean())


@pytest.mark.parametrize("size", list(VARIANTS))
def test_estimator_on_the_images_lands_on_the_reference_keypoints(reference, people, size):
    torch.set_num_threads(1)
    prefix = VARIANTS[size]
    est = TinyPoseEstimator.from_checkpoint(repo_weights_dir() / f"tinypose_{size}.pth")
    assert est.keypoint_format == "coco17" and est.input_size == est.net.arch.input_size
    image0 = people[0][0]
    same_image = [i for i, (im, _) in enumerate(people) if im.shape == image0.shape and (im == image0).all()]
    for i, (image, box) in enumerate(people):
        pose = est.estimate(image, box)
        assert pose.shape == (1, 17, 3) and pose.dtype == np.float32
        assert np.abs(pose[0, :, :2] - reference[f"{prefix}/keypoints_xy"][i]).max() < 0.05  # measured 0.022 px
        assert np.abs(pose[0, :, 2] - reference[f"{prefix}/keypoint_scores"][i]).max() < 1e-3
    # one batch of all boxes of a frame gives the same poses as one box at a time
    if len(same_image) > 1:
        boxes = np.concatenate([people[i][1] for i in same_image])
        batched = est.estimate(image0, boxes)
        singles = np.concatenate([est.estimate(image0, people[i][1]) for i in same_image])
        np.testing.assert_allclose(batched, singles, rtol=0, atol=1e-3)


def test_converter_reproduces_the_shipped_files_bytewise(tmp_path):
    """tools/convert_tinypose.py on the IR files rebuilds the shipped weights bit for bit."""
    src = require_real("pose/pptinypose")
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import convert_tinypose
    finally:
        sys.path.remove(str(REPO / "tools"))
    assert convert_tinypose.main(["--src", str(src), "--out", str(tmp_path)]) == 0
    for size in VARIANTS:
        name = f"tinypose_{size}.pth"
        assert (tmp_path / name).read_bytes() == (repo_weights_dir() / name).read_bytes(), name

"""HRNetPoseEstimator: the PoseEstimator contract on a tiny random HRNet-W8 (96x128 crops)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from kprtrack.pose.estimator import HRNetPoseEstimator
from kprtrack.pose.variants import build_pose_model, get_variant
from kprtrack.stages import PoseEstimator


@pytest.fixture(scope="module")
def estimator():
    torch.manual_seed(0)
    return HRNetPoseEstimator(build_pose_model("hrnet_w8_128x96"))


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, 20, axis=0), 20, axis=1)  # (240, 320, 3) RGB


def test_is_a_pose_estimator_with_a_convention(estimator):
    assert isinstance(estimator, PoseEstimator)
    assert estimator.keypoint_format == "coco17"


@pytest.mark.parametrize("boxes", [np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), []])
def test_zero_boxes(estimator, frame, boxes):
    out = estimator.estimate(frame, boxes)
    assert out.shape == (0, 17, 3) and out.dtype == np.float32


def test_boxes_partly_outside_the_image(estimator, frame):
    boxes = np.array([[-40, 100, 60, 300], [250, -30, 400, 120], [10, 10, 100, 200]], np.float32)
    out = estimator.estimate(frame, boxes)
    assert out.shape == (3, 17, 3) and out.dtype == np.float32
    assert np.isfinite(out).all()
    pred = estimator.predict(frame, boxes)
    lo = pred.centers - pred.scales / 2 - 1e-3
    hi = pred.centers + pred.scales / 2 + 1e-3
    inside = np.all((out[..., :2] >= lo[:, None]) & (out[..., :2] <= hi[:, None]), axis=-1)
    # each keypoint with a positive heatmap maximum lies in its padded, aspect-fixed crop region
    # (a map whose maximum is <= 0 decodes to heatmap pixel (-1, -1), just outside, as in mmpose)
    assert np.all(inside | (out[..., 2] <= 0))
    assert inside.sum() > 0
    np.testing.assert_array_equal(out[..., 2], pred.scores)


def test_all_boxes_of_a_frame_are_one_batch(estimator, frame):
    batches = []
    handle = estimator.net.register_forward_hook(lambda _m, inputs, _o: batches.append(inputs[0].shape[0]))
    try:
        estimator.estimate(frame, np.array([[0, 0, 50, 100], [100, 50, 200, 200], [5, 5, 30, 30]], np.float32))
        plain = HRNetPoseEstimator(estimator.net, flip_test=False)
        plain.estimate(frame, np.array([[0, 0, 50, 100], [100, 50, 200, 200]], np.float32))
    finally:
        handle.remove()
    assert batches == [6, 2]  # flip test: crops and mirrored crops together


def test_rgb_frames_and_bgr_frames_agree(estimator, frame):
    boxes = np.array([[20, 30, 120, 220]], np.float32)
    rgb = estimator.predict(frame, boxes)
    bgr = estimator.predict(np.ascontiguousarray(frame[..., ::-1]), boxes, frame_is_rgb=False)
    np.testing.assert_array_equal(rgb.heatmaps, bgr.heatmaps)
    np.testing.assert_array_equal(rgb.crops, bgr.crops[..., ::-1])


def test_network_channel_order_follows_the_config(estimator, frame):
    """A network trained on BGR (no bgr_to_rgb in its mmpose config) gets BGR crops from RGB frames."""
    boxes = np.array([[20, 30, 120, 220]], np.float32)
    cfg = estimator.cfg
    bgr_cfg = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, network_rgb=False))
    bgr_net = build_pose_model(bgr_cfg)
    bgr_net.load_state_dict(estimator.net.state_dict())
    a = HRNetPoseEstimator(bgr_net).predict(frame, boxes)
    b = estimator.predict(np.ascontiguousarray(frame[..., ::-1]), boxes)  # RGB model fed swapped frame
    np.testing.assert_array_equal(a.heatmaps, b.heatmaps)


def test_flip_test_intermediates(estimator, frame):
    boxes = np.array([[20, 30, 120, 220], [150, 20, 300, 230]], np.float32)
    pred = estimator.predict(frame, boxes)
    assert pred.heatmaps_flipped_raw is not None and pred.heatmaps_flipped_raw.shape == (2, 17, 32, 24)
    plain = HRNetPoseEstimator(estimator.net, flip_test=False).predict(frame, boxes)
    assert plain.heatmaps_flipped_raw is None
    np.testing.assert_allclose(plain.heatmaps, pred.heatmaps_original, atol=1e-5)


@pytest.mark.parametrize(
    ("frame_arg", "boxes", "match"),
    [
        (np.zeros((10, 10, 3), np.float32), np.zeros((1, 4), np.float32), "uint8"),
        (np.zeros((10, 10), np.uint8), np.zeros((1, 4), np.float32), r"\(H, W, 3\)"),
        (np.zeros((10, 10, 3), np.uint8), np.zeros((1, 5), np.float32), r"\(N, 4\)"),
        (np.zeros((10, 10, 3), np.uint8), np.array([[0, 0, np.nan, 4]], np.float32), "NaN"),
    ],
)
def test_bad_inputs_raise_value_error(estimator, frame_arg, boxes, match):
    with pytest.raises(ValueError, match=match):
        estimator.estimate(frame_arg, boxes)


def test_fp16_needs_cuda():
    with pytest.raises(ValueError, match="CUDA"):
        HRNetPoseEstimator(build_pose_model("hrnet_w8_128x96"), device="cpu", dtype="float16")
    with pytest.raises(ValueError, match="dtype must be one of"):
        HRNetPoseEstimator(build_pose_model("hrnet_w8_128x96"), dtype="int8")


def test_from_checkpoint_declares_the_checkpoint_convention(tmp_path, frame):
    from kprtrack.pose.checkpoint import save_mmpose_checkpoint

    net = build_pose_model(get_variant("hrnet_w8_128x96", keypoint_format="posetrack21"))
    path = save_mmpose_checkpoint(net, tmp_path / "pt.pth")
    est = HRNetPoseEstimator.from_checkpoint(path)
    assert est.keypoint_format == "posetrack21"
    assert est.estimate(frame, np.array([[0, 0, 100, 200]], np.float32)).shape == (1, 17, 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp16_cuda_matches_fp32(estimator, frame):
    boxes = np.array([[20, 30, 120, 220], [150, 20, 300, 230]], np.float32)
    ref = estimator.predict(frame, boxes)
    half = HRNetPoseEstimator(build_pose_model("hrnet_w8_128x96"), device="cuda", dtype="float16")
    half.net.load_state_dict(estimator.net.state_dict())
    got = half.predict(frame, boxes)
    assert got.heatmaps.dtype == np.float32
    np.testing.assert_allclose(got.heatmaps, ref.heatmaps, atol=0.05 * np.abs(ref.heatmaps).max())

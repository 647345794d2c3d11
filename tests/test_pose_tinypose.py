"""PP-TinyPose without the real assets: architecture, key map, strict loading, decoding, the stage contract."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from kprtrack.checkpoints import CheckpointKeyError
from kprtrack.pose.tinypose import (
    TINYPOSE_ARCHS,
    TINYPOSE_VARIANTS,
    build_tinypose,
    channel_shuffle,
    load_tinypose,
)
from kprtrack.pose.tinypose_estimator import TinyPoseEstimator, crop_to_frame, decode_heatmaps
from kprtrack.pose.transforms import get_udp_warp_matrix, warp_keypoints
from kprtrack.stages import PoseEstimator
from kprtrack.weights import repo_weights_dir
from tests.conftest import REPO


@pytest.fixture(scope="module")
def converter():
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import convert_tinypose
    finally:
        sys.path.remove(str(REPO / "tools"))
    return convert_tinypose


def test_variants_build_and_output_quarter_size_heatmaps():
    torch.set_num_threads(1)
    for name in TINYPOSE_VARIANTS:
        net = build_tinypose(name).eval()
        w, h = net.arch.input_size
        assert sum(p.numel() for p in net.parameters()) == 1_300_177  # the released IR's weight count
        with torch.inference_mode():
            out = net(torch.zeros(2, 3, h, w))
        assert out.shape == (2, 17, h // 4, w // 4)
    with pytest.raises(ValueError, match="tinypose_256x192"):
        build_tinypose("tinypose_512")


def test_channel_shuffle_interleaves_the_two_halves():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x).flatten().tolist() == [0, 3, 1, 4, 2, 5]


def test_key_map_names_every_convolution_once(converter):
    net = build_tinypose("tinypose_256x192")
    convs = {name for name, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)}
    mapping = converter.key_map(net.arch)
    assert len(mapping) == len(set(mapping.values())) == len(convs) == 269  # 268 BatchNorms + the last conv
    assert set(mapping.values()) == convs
    assert mapping["batch_norm2d_0.w_1"] == "stem.conv" and mapping["conv2d_441.tmp_1"] == "final"


def test_loading_is_strict_and_names_the_keys(tmp_path):
    path = repo_weights_dir() / "tinypose_128x96.pth"
    net = load_tinypose(path)
    assert net.arch.name == "tinypose_128x96" and not net.training
    assert all(p.dtype == torch.float32 for p in net.parameters())
    sd = torch.load(path, weights_only=True)
    assert sd["stem.conv.weight"].dtype == torch.float16  # shipped small

    broken = dict(sd)
    broken["extra.weight"] = broken.pop("final.bias")
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(CheckpointKeyError, match=r"missing keys: final\.bias.*unexpected keys: extra\.weight"):
        load_tinypose(tmp_path / "broken.pth")
    with pytest.raises(ValueError, match=r"\(96, 128\).*tinypose_256x192"):
        load_tinypose(path, "tinypose_256x192")
    no_size = {k: v for k, v in sd.items() if k != "input_size"}
    torch.save(no_size, tmp_path / "no_size.pth")
    with pytest.raises(ValueError, match="cannot tell the PP-TinyPose variant"):
        load_tinypose(tmp_path / "no_size.pth")


def test_decode_recovers_a_subpixel_gaussian_and_maps_back_through_the_crop():
    input_size = TINYPOSE_ARCHS["tinypose_256x192"].input_size
    hw, hh = 48, 64
    ys, xs = np.mgrid[0:hh, 0:hw].astype(np.float32)
    true = np.array([[20.3, 30.6], [10.8, 5.2]], np.float32)  # heatmap px, x, y
    hm = np.stack([np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 2.0**2)) * 0.9 for x, y in true])[None]
    kp, scores = decode_heatmaps(hm.astype(np.float32), input_size)
    expected = true * (np.array(input_size) - 1) / (np.array([hw, hh]) - 1)
    np.testing.assert_allclose(kp[0], expected, atol=0.1)
    assert np.all((scores > 0.85) & (scores <= 0.9))

    center, scale = np.array([[300.0, 200.0]], np.float32), np.array([[150.0, 200.0]], np.float32)
    pts = np.array([[[10.0, 20.0], [250.0, 100.0]]], np.float32)
    in_crop = warp_keypoints(pts[0], get_udp_warp_matrix(center[0], scale[0], input_size))[None]
    np.testing.assert_allclose(crop_to_frame(in_crop, center, scale, input_size), pts, atol=1e-3)


def test_estimator_follows_the_pose_stage_contract():
    torch.set_num_threads(1)
    est = TinyPoseEstimator.from_checkpoint(repo_weights_dir() / "tinypose_128x96.pth", device="cpu")
    assert isinstance(est, PoseEstimator) and est.keypoint_format == "coco17"
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    assert est.estimate(frame, np.zeros((0, 4), np.float32)).shape == (0, 17, 3)
    boxes = np.array([[10, 10, 60, 110], [80, 0, 160, 120]], np.float32)
    poses = est.estimate(frame, boxes)
    assert poses.shape == (2, 17, 3) and poses.dtype == np.float32 and np.isfinite(poses).all()
    # every joint lies inside its padded, aspect-fixed box
    pred = est.predict(frame, boxes)
    lo, hi = pred.centers - pred.scales / 2, pred.centers + pred.scales / 2
    assert np.all((poses[..., :2] >= lo[:, None] - 1) & (poses[..., :2] <= hi[:, None] + 1))
    with pytest.raises(ValueError, match="frame: expected a uint8"):
        est.estimate(frame[..., 0], boxes)
    with pytest.raises(ValueError, match="boxes must be"):
        est.estimate(frame, boxes[:, :3])
    with pytest.raises(ValueError, match="padding"):
        TinyPoseEstimator(est.net, padding=0)

"""Training support: augmentation geometry, target encoding consistent with decoding, loss, a few steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kprtrack.keypoints import FLIP_INDEX
from kprtrack.pose.augment import (
    AugmentConfig,
    flip_horizontal,
    make_training_sample,
    topdown_affine,
    truncated_normal,
)
from kprtrack.pose.codecs import HeatmapCodec
from kprtrack.pose.transforms import keypoints_to_image
from kprtrack.pose.variants import build_pose_model, get_variant


def _dots(h: int = 240, w: int = 320, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A dark RGB image with one bright 3x3 dot per keypoint (distinct colours), and the keypoints."""
    rng = np.random.default_rng(seed)
    image = np.zeros((h, w, 3), np.uint8)
    kp = np.stack([rng.integers(110, 210, 17), rng.integers(40, 200, 17)], axis=-1).astype(np.float32)
    for i, (x, y) in enumerate(kp.astype(int)):
        image[y - 1 : y + 2, x - 1 : x + 2] = (60 + 10 * i, 255, 255 - 10 * i)
    return image, kp


def test_flip_swaps_joints_and_mirrors_pixels():
    image, kp = _dots()
    flipped, fkp, fvis, center = flip_horizontal(image, kp, np.ones(17), np.array([100.0, 50.0]), FLIP_INDEX)
    assert center[0] == 320 - 1 - 100.0
    for i in range(17):
        x, y = fkp[i].astype(int)
        j = FLIP_INDEX[i]
        ox, oy = kp[j].astype(int)
        np.testing.assert_array_equal(flipped[y, x], image[oy, ox])  # joint i of the flip is joint j's dot


@pytest.mark.parametrize("rot", [0.0, 30.0, -65.0])
def test_affine_moves_keypoints_with_the_pixels(rot):
    image, kp = _dots()
    crop, ckp, _ = topdown_affine(image, kp, np.array([160.0, 120.0]), np.array([150.0, 200.0]), rot, (96, 128))
    assert crop.shape == (128, 96, 3)
    for i, (x, y) in enumerate(ckp):
        xi, yi = int(round(x)), int(round(y))
        if 1 <= xi < 95 and 1 <= yi < 127:
            patch = crop[yi - 1 : yi + 2, xi - 1 : xi + 2, 1]
            assert patch.max() > 100, f"keypoint {i} at {x:.1f},{y:.1f} is not on its dot"


@pytest.mark.parametrize("codec", ["msra", "dark", "udp"])
def test_training_targets_decode_back_to_the_annotation(codec):
    """image keypoints -> training crop -> encode -> decode -> image pixels: the inverse of inference."""
    cfg = get_variant("hrnet_w8_128x96", codec=codec)
    image, kp = _dots()
    box = np.array([100, 30, 220, 210], np.float32)
    sample = make_training_sample(image, box, np.concatenate([kp, np.ones((17, 1))], axis=1), cfg)
    assert sample.heatmaps.shape == (17, 32, 24) and np.all(sample.weights == 1)
    decoded, _ = HeatmapCodec(cfg.codec).decode(sample.heatmaps[None])
    # (UDP: the codec's input / (heatmap - 1) decode factor cancels against the UDP warp here)
    assert sample.scale.tolist() == [168.75, 225.0]  # 120x180 box, padding 1.25, aspect fixed to 3:4
    back = keypoints_to_image(decoded, sample.center[None], sample.scale[None], (96, 128))[0]
    heatmap_px = 225.0 / 32  # image pixels per heatmap pixel
    tol = 0.5 * heatmap_px + 1e-3 if codec == "msra" else 0.1 * heatmap_px
    np.testing.assert_allclose(back, kp, rtol=0, atol=tol)


def test_unlabelled_and_cropped_out_keypoints_get_zero_weight():
    cfg = get_variant("hrnet_w8_128x96")
    image, kp = _dots()
    vis = np.ones((17, 1), np.float32)
    vis[3] = 0
    kp = kp.copy()
    kp[5] = (5.0, 5.0)  # far outside the box's crop
    sample = make_training_sample(image, np.array([100, 30, 220, 210], np.float32), np.concatenate([kp, vis], 1), cfg)
    assert sample.weights[3] == 0 and sample.weights[5] == 0 and sample.weights.sum() == 15


def test_truncated_normal_is_bounded():
    v = truncated_normal(np.random.default_rng(0), (10000,))
    assert v.dtype == np.float32 and np.abs(v).max() <= 1 and abs(v.mean()) < 0.02


def test_loss_weights_channels():
    from kprtrack.pose.train import KeypointMSELoss

    out = torch.zeros(2, 3, 4, 4)
    target = torch.ones(2, 3, 4, 4)
    weights = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    assert KeypointMSELoss()(out, target, weights).item() == pytest.approx(2 / 6)
    assert KeypointMSELoss(use_target_weight=False)(out, target, weights).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="target_weights"):
        KeypointMSELoss()(out, target, torch.ones(2, 4))


def test_a_few_steps_decrease_the_loss_and_save_as_mmpose(tmp_path):
    from kprtrack.pose.checkpoint import load_pose_model, save_mmpose_checkpoint
    from kprtrack.pose.train import KeypointMSELoss, collate, init_weights, train_step

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = init_weights(build_pose_model("hrnet_w8_128x96"))
    samples = []
    for seed in range(4):
        image, kp = _dots(seed=seed)
        box = np.array([kp[:, 0].min() - 10, kp[:, 1].min() - 10, kp[:, 0].max() + 10, kp[:, 1].max() + 10])
        ann = np.concatenate([kp, np.ones((17, 1))], axis=1)
        samples.append(make_training_sample(image, box, ann, net.cfg, rng, AugmentConfig()))
    inputs, targets, weights = collate(samples, net.cfg)
    assert inputs.shape == (4, 3, 128, 96) and targets.shape == (4, 17, 32, 24) and weights.shape == (4, 17)
    loss_fn = KeypointMSELoss()
    predict_zero = loss_fn(torch.zeros_like(targets), targets, weights).item()  # mmpose init starts there
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = [train_step(net, optimizer, inputs, targets, weights, loss_fn) for _ in range(10)]
    assert losses[-1] < 0.9 * losses[0] and losses[-1] < 0.9 * predict_zero, losses

    net.eval()
    path = save_mmpose_checkpoint(net, tmp_path / "trained.pth", meta={"epoch": 1, "iter": 8})
    loaded, cfg = load_pose_model(path)
    assert cfg == net.cfg
    with torch.inference_mode():
        torch.testing.assert_close(loaded(inputs), net(inputs))

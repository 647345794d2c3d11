"""Heatmap codecs: the decode rules the mmpose fixture README spells out, and encode -> decode round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kprtrack.pose.codecs import HeatmapCodec
from kprtrack.pose.config import CodecConfig
from kprtrack.pose.model import flip_heatmaps

MSRA = CodecConfig()  # 192x256 input, 48x64 heatmaps, sigma 2


def _decode_one(hm: np.ndarray, cfg: CodecConfig = MSRA) -> tuple[np.ndarray, float]:
    """Decode a single (H, W) map; returns the crop-pixel keypoint and score."""
    kp, score = HeatmapCodec(cfg).decode(hm[None, None].astype(np.float32))
    return kp[0, 0], float(score[0, 0])


def _peak(x: int, y: int, left: float, right: float, up: float, down: float) -> np.ndarray:
    hm = np.zeros((64, 48), dtype=np.float32)
    hm[y, x] = 1.0
    if x > 0:
        hm[y, x - 1] = left
    if x < 47:
        hm[y, x + 1] = right
    if y > 0:
        hm[y - 1, x] = up
    if y < 63:
        hm[y + 1, x] = down
    return hm


def test_msra_quarter_shift_towards_the_higher_neighbour():
    kp, score = _decode_one(_peak(10, 20, left=0.2, right=0.5, up=0.6, down=0.1))
    assert score == pytest.approx(1.0)
    np.testing.assert_allclose(kp, [(10 + 0.25) * 4, (20 - 0.25) * 4])


def test_msra_equal_neighbours_do_not_shift():
    kp, _ = _decode_one(_peak(10, 20, 0.3, 0.3, 0.3, 0.3))
    np.testing.assert_allclose(kp, [40.0, 80.0])


@pytest.mark.parametrize(
    ("x", "y", "shift_x", "shift_y"),
    [
        (1, 20, False, True),  # x == 1 is not refined (asymmetric bound 1 < x)
        (2, 20, True, True),
        (46, 20, True, True),
        (47, 20, False, True),
        (10, 0, False, False),  # y == 0: x refinement needs 0 < y
        (10, 1, True, False),  # y == 1 is not refined, x is
        (10, 62, True, True),
        (10, 63, True, False),
        (0, 20, False, False),  # x == 0: y refinement needs 0 < x
    ],
)
def test_msra_refinement_bounds(x, y, shift_x, shift_y):
    hm = _peak(x, y, left=0.1, right=0.5, up=0.1, down=0.5)
    kp, _ = _decode_one(hm)
    assert kp[0] == pytest.approx((x + (0.25 if shift_x else 0.0)) * 4)
    assert kp[1] == pytest.approx((y + (0.25 if shift_y else 0.0)) * 4)


def test_non_positive_map_gives_minus_one():
    hm = np.full((64, 48), -0.5, dtype=np.float32)
    hm[5, 7] = 0.0
    kp, score = _decode_one(hm)
    assert score == 0.0
    np.testing.assert_allclose(kp, [-4.0, -4.0])  # (-1, -1) heatmap pixels, scaled


def test_first_argmax_wins_ties():
    hm = np.zeros((64, 48), dtype=np.float32)
    hm[30, 40] = hm[10, 5] = 2.0
    kp, _ = _decode_one(hm)
    np.testing.assert_allclose(kp, [20.0, 40.0])


def test_decode_rejects_wrong_heatmap_size():
    with pytest.raises(ValueError, match="codec expects 48x64"):
        HeatmapCodec(MSRA).decode(np.zeros((1, 17, 32, 24), np.float32))


@pytest.mark.parametrize(
    ("cfg", "atol"),
    [
        (CodecConfig(), 2.0 + 1e-4),  # integer-rounded peak: error <= half a heatmap pixel (4 px / 2)
        (CodecConfig(unbiased=True), 0.05),  # DARK recovers the sub-pixel centre
        (CodecConfig(type="UDPHeatmap"), 0.05),
    ],
    ids=["msra", "dark", "udp"],
)
def test_encode_decode_round_trip(cfg, atol):
    rng = np.random.default_rng(3)
    codec = HeatmapCodec(cfg)
    w, h = cfg.input_size
    kp = np.stack([rng.uniform(16, w - 16, 17), rng.uniform(16, h - 16, 17)], axis=-1).astype(np.float32)
    heatmaps, weights = codec.encode(kp)
    assert heatmaps.shape == (17, 64, 48) and heatmaps.dtype == np.float32
    assert heatmaps.max() <= 1.0 and np.all(weights == 1)
    decoded, scores = codec.decode(heatmaps[None])
    if cfg.type == "UDPHeatmap":
        # mmpose's UDP encodes on the (input - 1) / (heatmap - 1) grid but decodes with input / (heatmap - 1)
        kp = kp * np.array([w / (w - 1), h / (h - 1)], dtype=np.float32)
    np.testing.assert_allclose(decoded[0], kp, rtol=0, atol=atol)
    assert np.all(scores > 0.7)


def test_encode_weights_invisible_and_outside_keypoints():
    codec = HeatmapCodec(MSRA)
    kp = np.array([[50.0, 60.0], [-100.0, 60.0], [50.0, 60.0]] + [[96.0, 128.0]] * 14, dtype=np.float32)
    vis = np.ones(17, dtype=np.float32)
    vis[2] = 0
    heatmaps, weights = codec.encode(kp, vis)
    assert weights[0] == 1 and weights[1] == 0 and weights[2] == 0
    assert heatmaps[1].max() == 0 and heatmaps[2].max() == 0 and heatmaps[0].max() == pytest.approx(1.0)


def test_flip_heatmaps_permutes_mirrors_and_shifts():
    hm = torch.zeros(1, 3, 4, 5)
    hm[0, 1, 2, 0] = 1.0  # channel 1, left-most column
    out = flip_heatmaps(hm, [0, 2, 1], shift=False)
    assert out[0, 2, 2, 4] == 1.0 and out.sum() == 1.0  # went to channel 2, right-most column
    shifted = flip_heatmaps(hm, [0, 2, 1], shift=True)
    assert shifted[0, 2, 2, 4] == 0.0  # shifted right: column 4 now holds column 3's value (0)
    hm2 = torch.arange(5.0).view(1, 1, 1, 5)
    np.testing.assert_array_equal(flip_heatmaps(hm2, [0], shift=True)[0, 0, 0].numpy(), [4, 4, 3, 2, 1])

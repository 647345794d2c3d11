"""Prompt heatmaps: reference parity on the fixture and the documented construction rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kprtrack.reid.prompts import (
    PROMPT_GROUPINGS,
    build_prompt_masks,
    clip_keypoints,
    empty_prompt,
    gaussian_window,
    prompt_channel_names,
    scale_keypoints,
)
from tests import reid_common as rc

H, W = 384, 128


def _one(kps: np.ndarray, size: tuple[int, int] = (W, H), negatives: list[np.ndarray] | None = None, **kw):
    return build_prompt_masks(kps[None], np.array([size]), None if negatives is None else [negatives], **kw)[0]


def _skeleton(points: dict[int, tuple[float, float, float]]) -> np.ndarray:
    kps = np.zeros((17, 3))
    for j, p in points.items():
        kps[j] = p
    return kps


def test_fixture_prompts_bit_exact_as_one_batch() -> None:
    crops, pos, neg = rc.crops_and_keypoints()
    sizes = np.array([[c.shape[1], c.shape[0]] for c in crops])
    prompts = build_prompt_masks(pos, sizes, neg)
    assert prompts.dtype == torch.float32 and prompts.shape == (4, 10, H, W)
    np.testing.assert_array_equal(prompts.numpy(), rc.stacked("prompt_masks"))


def test_fixture_keypoint_arithmetic_float64() -> None:
    crops, pos, neg = rc.crops_and_keypoints()
    sizes = torch.tensor([[c.shape[1], c.shape[0]] for c in crops], dtype=torch.float64)
    scaled = scale_keypoints(clip_keypoints(torch.from_numpy(pos), sizes), sizes, (H, W))
    np.testing.assert_array_equal(scaled.numpy(), rc.stacked("keypoints_resized"))
    # sample 0 keypoint 11 lands on row 207 (float64 order of operations), not 208
    from kprtrack.reid.prompts import _pixels

    _, py = _pixels(scaled, (H, W))
    assert int(py[0, 11]) == 207


def test_channel_names_match_fixture_order() -> None:
    arch_order = [
        "background", "negative", "head", "left_arm", "right_arm", "torso", "left_leg", "right_leg",
        "left_feet", "right_feet",
    ]  # fmt: skip
    assert prompt_channel_names("cck8") == arch_order
    assert len(prompt_channel_names("cck6")) == 8
    with pytest.raises(ValueError, match="grouping"):
        prompt_channel_names("nope")


def test_gaussian_is_separable_window_with_peak_one() -> None:
    w = gaussian_window(11)
    assert w.shape == (23,) and w[11] == 1.0
    np.testing.assert_allclose(w, np.exp(-((np.arange(23) - 11.0) ** 2) / (2 * 5.75**2)))
    # a single confident keypoint in the middle: outer product stamped at its truncated pixel
    p = _one(_skeleton({0: (64.7, 200.2, 0.9)}))
    head = p[2].double()
    np.testing.assert_allclose(head[200 - 11 : 200 + 12, 64 - 11 : 64 + 12].numpy(), np.outer(w, w), rtol=1e-7)
    assert head.sum().item() == pytest.approx(np.outer(w, w).sum(), rel=1e-6)


def test_threshold_is_strict_and_border_cuts_the_gaussian() -> None:
    at = _one(_skeleton({0: (64, 100, 0.3)}))
    assert at[2].max() == 0  # conf == 0.3 ignored
    above = _one(_skeleton({0: (64, 100, 0.3000001)}))
    assert above[2].max() == 1
    corner = _one(_skeleton({0: (0, 0, 1.0)}))
    assert corner[2, 0, 0] == 1 and corner[2, 11, 11] > 0 and corner[2, 12, 12] == 0


def test_out_of_crop_keypoints_are_clipped_not_dropped() -> None:
    p = _one(_skeleton({0: (-30.0, 500.0, 0.9)}), size=(W, H))
    assert p[2, H - 1, 0] == 1  # clipped to the bottom-left corner


def test_groups_take_the_max_and_background_is_one_minus_sum() -> None:
    kps = _skeleton({5: (40, 100, 0.9), 6: (80, 100, 0.9), 13: (40, 300, 0.9)})
    p = _one(kps).double()
    names = prompt_channel_names("cck8")
    torso, left_arm, left_leg = names.index("torso"), names.index("left_arm"), names.index("left_leg")
    assert p[torso, 100, 40] == 1 and p[torso, 100, 80] == 1  # both shoulders in torso
    assert p[left_arm, 100, 40] == 1 and p[left_arm, 100, 80] == 0
    assert p[left_leg, 300, 40] == 1
    expected_bg = torch.clamp(1 - p[1:].sum(0), 0, 1)
    torch.testing.assert_close(p[0], expected_bg, atol=1e-7, rtol=0)
    assert p[0, 100, 40] == 0  # left shoulder is in two channels: sum 2, clamped


def test_negative_channel_is_max_over_all_joints_of_all_skeletons() -> None:
    neg = np.stack([_skeleton({3: (20, 50, 0.9)}), _skeleton({16: (100, 350, 0.9)}), np.zeros((17, 3))])
    p = _one(np.zeros((17, 3)), negatives=neg)
    assert p[1, 50, 20] == 1 and p[1, 350, 100] == 1
    assert p[2:].max() == 0
    without = _one(np.zeros((17, 3)), use_negative_keypoints=False)
    assert without.shape[0] == 9


def test_no_prompt_equals_empty_prompt() -> None:
    p = build_prompt_masks(None, np.array([[40, 96], [60, 100]]))
    np.testing.assert_array_equal(p.numpy(), empty_prompt(2, 10, (H, W)).numpy())


def test_batch_equals_one_by_one_and_resize_follows_crop_size() -> None:
    rng = np.random.default_rng(0)
    sizes = np.array([[50, 120], [128, 384], [200, 300]])
    kps = np.concatenate([rng.uniform(0, 1, (3, 17, 2)) * sizes[:, None], rng.uniform(0, 1, (3, 17, 1))], axis=2)
    negs = [kps[1:2], np.zeros((0, 17, 3)), kps[:2]]
    batch = build_prompt_masks(kps, sizes, negs)
    for i in range(3):
        single = build_prompt_masks(kps[i : i + 1], sizes[i : i + 1], [negs[i]])
        assert torch.equal(batch[i], single[0])


@pytest.mark.parametrize("grouping", sorted(PROMPT_GROUPINGS))
def test_every_grouping_has_coco_indices(grouping: str) -> None:
    joints = [j for g in PROMPT_GROUPINGS[grouping].values() for j in g]
    assert all(0 <= j < 17 for j in joints)
    p = _one(np.zeros((17, 3)), grouping=grouping)
    assert p.shape[0] == len(PROMPT_GROUPINGS[grouping]) + 2


def test_bad_inputs_raise_clear_errors() -> None:
    sizes = np.array([[64, 128]])
    with pytest.raises(ValueError, match="keypoints"):
        build_prompt_masks(np.zeros((1, 16, 3)), sizes)
    with pytest.raises(ValueError, match="crop_sizes"):
        build_prompt_masks(np.zeros((1, 17, 3)), np.array([[0, 10]]))
    with pytest.raises(ValueError, match="NaN"):
        build_prompt_masks(np.full((1, 17, 3), np.nan), sizes)
    with pytest.raises(ValueError, match="negatives"):
        build_prompt_masks(np.zeros((1, 17, 3)), sizes, [np.zeros((2, 16, 3))])
    with pytest.raises(ValueError, match="negatives"):
        build_prompt_masks(np.zeros((1, 17, 3)), sizes, [np.zeros((1, 17, 3))] * 2)
    with pytest.raises(ValueError, match="grouping"):
        build_prompt_masks(np.zeros((1, 17, 3)), sizes, grouping="cck9")

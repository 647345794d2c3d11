import numpy as np
import pytest

from kprtrack.keypoints import COCO17_NAMES, FLIP_INDEX, POSETRACK21_NAMES, convert_keypoints


def test_conventions_share_limbs_and_differ_on_head():
    assert COCO17_NAMES[5:] == POSETRACK21_NAMES[5:]
    assert POSETRACK21_NAMES[1:3] == ("head_bottom", "head_top")
    assert COCO17_NAMES[1:3] == ("left_eye", "right_eye")


def test_round_trip_keeps_shared_joints_and_zeroes_others():
    kp = np.random.default_rng(0).uniform(1, 100, (4, 17, 3)).astype(np.float32)
    coco = convert_keypoints(kp, "posetrack21", "coco17")
    assert np.all(coco[:, 1:3] == 0)
    back = convert_keypoints(coco, "coco17", "posetrack21")
    shared = [0, 3, 4, *range(5, 17)]
    assert np.array_equal(back[:, shared], kp[:, shared])
    assert np.all(back[:, 1:3] == 0)
    assert back.dtype == kp.dtype
    assert np.array_equal(convert_keypoints(kp, "coco17", "coco17"), kp)


def test_flip_index_is_an_involution():
    flip = np.array(FLIP_INDEX)
    assert np.array_equal(flip[flip], np.arange(17))
    for i, j in enumerate(flip):
        a, b = COCO17_NAMES[i], COCO17_NAMES[j]
        assert a.replace("left", "X").replace("right", "left").replace("X", "right") == b


def test_bad_input():
    with pytest.raises(ValueError, match="convention"):
        convert_keypoints(np.zeros((17, 3)), "coco17", "openpose")
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, 3\)"):
        convert_keypoints(np.zeros((18, 3)), "coco17", "posetrack21")


def test_posetrack21_flip_keeps_head_bottom_and_top():
    from kprtrack.keypoints import FLIP_INDICES

    flip = np.array(FLIP_INDICES["posetrack21"])
    assert flip[1] == 1 and flip[2] == 2 and flip[3] == 4 and np.array_equal(flip[flip], np.arange(17))


def test_pose_config_switches_flip_pairs_with_convention():
    from kprtrack.keypoints import FLIP_INDICES
    from kprtrack.pose.variants import VARIANTS

    cfg = VARIANTS["hrnet_w32_256x192"]()
    assert cfg.pipeline.flip_indices == FLIP_INDICES["coco17"]
    pt = cfg.with_keypoint_format("posetrack21")
    assert pt.pipeline.flip_indices == FLIP_INDICES["posetrack21"]
    assert pt.with_keypoint_format("coco17").pipeline.flip_indices == FLIP_INDICES["coco17"]

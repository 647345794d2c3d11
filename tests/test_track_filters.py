"""Output filters used when writing predictions."""

from __future__ import annotations

import numpy as np
import pytest

from kprtrack.structures import FrameRecord
from kprtrack.track import OutputFilterConfig, filter_frame, filter_sequence, filter_short_tracklets


def _record(scores_per_person, ids, frame_index=0):
    n = len(scores_per_person)
    kp = np.zeros((n, 17, 3), np.float32)
    kp[..., 0] = 10
    kp[..., 1] = 20
    for i, s in enumerate(scores_per_person):
        kp[i, :, 2] = s
    boxes = np.tile(np.array([[0, 0, 50, 100]], np.float32), (n, 1))
    return FrameRecord(boxes, np.full(n, 0.9, np.float32), kp, track_ids=ids, frame_index=frame_index)


def test_weak_joints_zeroed_and_sparse_poses_dropped():
    strong3 = np.r_[[0.9, 0.3, 0.5], np.full(14, 0.29)]  # exactly 3 joints at >= 0.3
    strong2 = np.r_[[0.9, 0.8], np.full(15, 0.1)]
    rec = _record([strong2, strong3, np.full(17, 0.95)], [7, 8, 9])
    out = filter_frame(rec)
    assert out.track_ids.tolist() == [8, 9]  # order kept
    np.testing.assert_array_equal(out.keypoints[0, 3:], 0)  # joints < 0.3 zeroed (x, y and score)
    np.testing.assert_array_equal(out.keypoints[0, :3, 2], np.float32([0.9, 0.3, 0.5]))
    np.testing.assert_array_equal(out.keypoints[1], rec.keypoints[2])
    np.testing.assert_array_equal(rec.keypoints[0, :, 2], strong2.astype(np.float32))  # input untouched


def test_min_tracklet_length():
    good = np.full(17, 0.9)
    records = [_record([good, good], [1, 2], 0), _record([good, good], [1, -1], 1), _record([good], [1], 2)]
    out = filter_sequence(records, OutputFilterConfig(min_tracklet_length=2))
    assert [r.track_ids.tolist() for r in out] == [[1], [1, -1], [1]]
    assert [r.track_ids.tolist() for r in filter_short_tracklets(records, 0)] == [[1, 2], [1, -1], [1]]
    with pytest.raises(ValueError, match="track_ids"):
        filter_short_tracklets([FrameRecord.empty()], 3)


def test_config_validation():
    with pytest.raises(ValueError, match="joint_thresh"):
        OutputFilterConfig(joint_thresh=1.5)
    with pytest.raises(ValueError, match="min_joints"):
        OutputFilterConfig(min_joints=-1)

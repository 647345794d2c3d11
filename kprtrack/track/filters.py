"""Output filters applied when writing PoseTrack21 predictions (never inside the tracker).

Per frame: joints scoring below ``joint_thresh`` are zeroed (``0, 0, 0``, i.e. absent) and poses keeping
fewer than ``min_joints`` joints are dropped. Per video (optional): rows of tracks that appear in fewer than
``min_tracklet_length`` frames (counted after the per-frame filters) are dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from kprtrack.structures import FrameRecord
from kprtrack.track.config import OutputFilterConfig


def zero_low_joints(keypoints: np.ndarray, joint_thresh: float) -> np.ndarray:
    """Return a copy of ``(N, 17, 3)`` keypoints with joints scoring below ``joint_thresh`` set to 0."""
    kp = np.array(keypoints, np.float32, copy=True)
    if kp.ndim != 3 or kp.shape[1:] != (17, 3):
        raise ValueError(f"keypoints must have shape (N, 17, 3), got {kp.shape}")
    kp[kp[..., 2] < joint_thresh] = 0.0
    return kp


def filter_frame(record: FrameRecord, config: OutputFilterConfig | None = None) -> FrameRecord:
    """Zero weak joints and drop sparse poses of one frame (row order kept).

    Args:
        record: the tracked frame.
        config: filter settings (defaults if ``None``).

    Returns:
        A record with the kept rows only, their weak joints zeroed.
    """
    config = config or OutputFilterConfig()
    keypoints = zero_low_joints(record.keypoints, config.joint_thresh)
    keep = (keypoints[..., 2] > 0).sum(1) >= config.min_joints
    return record.with_keypoints(keypoints)[keep]


def filter_short_tracklets(records: Sequence[FrameRecord], min_length: int) -> list[FrameRecord]:
    """Drop the rows of tracks present in fewer than ``min_length`` of ``records``.

    Rows without a track (``-1``) are kept; they are not written anyway.

    Raises:
        ValueError: if a record has no ``track_ids``.
    """
    if min_length <= 1:
        return list(records)
    counts: Counter[int] = Counter()
    for i, record in enumerate(records):
        if record.track_ids is None:
            raise ValueError(f"record {i} (frame_index {record.frame_index}) has no track_ids: run a tracker first")
        counts.update(int(t) for t in np.unique(record.track_ids[record.track_ids >= 0]))
    short = np.array(sorted(t for t, c in counts.items() if c < min_length), np.int64)
    return [r[~np.isin(r.track_ids, short)] for r in records]


def filter_sequence(records: Sequence[FrameRecord], config: OutputFilterConfig | None = None) -> list[FrameRecord]:
    """Apply the per-frame filters to every record, then the tracklet-length filter."""
    config = config or OutputFilterConfig()
    frames = [filter_frame(r, config) for r in records]
    return filter_short_tracklets(frames, config.min_tracklet_length)

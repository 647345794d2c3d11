"""The synthetic clip the follow tests click on (generated once per test session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.synth_data import generated


@dataclass(frozen=True)
class FollowClip:
    """A 30-frame 640x360 clip with 4-5 people, its ground truth and a user's clicks on one person.

    Attributes:
        video: the ``.mp4``.
        gt: ground-truth records (posetrack21 keypoints, track ids).
        target: the clicked person's ground-truth track id (the person seen in the most frames).
        clicks: two clicks on the target's visible joints on the frame where their box holds the most
            joints of other people, plus one negative click on the person overlapping them most.
    """

    video: Path
    gt: list
    target: int
    clicks: object


def follow_clip(tmp_path_factory: pytest.TempPathFactory) -> FollowClip:
    """The clip (written on first use)."""
    from kprtrack.follow.evaluate import crowded_frame, simulate_clicks
    from kprtrack.io.posetrack21 import read_ground_truth
    from kprtrack.synth.config import SplitSpec

    root = generated(
        tmp_path_factory,
        "val",
        splits=(SplitSpec("val", 1, 30, 6, 6, 8),),
        seed=3,
        occlusion=0.5,
        people_per_sequence=(4, 5),
        write_masks=False,
    )
    video = next((root / "videos" / "val").iterdir())
    gt = read_ground_truth(next((root / "posetrack_data" / "val").iterdir())).to_records()
    counts: dict[int, int] = {}
    for record in gt:
        for t in record.track_ids:
            counts[int(t)] = counts.get(int(t), 0) + 1
    target = max(sorted(counts), key=lambda t: counts[t])
    frame = crowded_frame(gt, target, min_visible=8)
    return FollowClip(video, gt, target, simulate_clicks(gt[frame], target, negative=True))

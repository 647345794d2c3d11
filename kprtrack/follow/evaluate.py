"""Scoring a followed track against ground truth, and a simulated user who clicks on a ground-truth person.

A followed frame is **correct** when the followed box's best-overlapping ground-truth box (IoU >= 0.5)
is the target's. Over one query:

* ``accuracy``: correct frames / frames where the follower reports the person (the share of the
  followed track that is the right person);
* ``recall``: correct frames / frames where the target is annotated;
* ``query_correct``: the clicks selected the target's detection.

The simulated user (:func:`simulate_clicks`) clicks on visible ground-truth joints (neck and hips
first), on the frame where the target's box holds the most joints of other people
(:func:`crowded_frame`): the ambiguous case keypoint prompts are meant for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kprtrack.boxes import iou_matrix
from kprtrack.follow.clicks import Clicks
from kprtrack.follow.result import FollowFrame
from kprtrack.structures import FrameRecord

#: Joints a simulated user clicks on, in order of preference (neck, hips, shoulders, head, knees).
CLICK_ORDER = (1, 11, 12, 5, 6, 0, 2, 13, 14, 7, 8)

#: Minimum IoU between a followed box and the target's ground-truth box.
MIN_IOU = 0.5


@dataclass(frozen=True)
class FollowScore:
    """Agreement of one followed track with the ground-truth target.

    Attributes:
        reported: frames where the follower reports the person.
        correct: reported frames whose box is the target's.
        annotated: frames where the target is annotated.
        query_correct: the clicked detection is the target's (on the clicked frame).
    """

    reported: int
    correct: int
    annotated: int
    query_correct: bool

    @property
    def accuracy(self) -> float:
        """Correct / reported frames (1 when nothing is reported)."""
        return self.correct / self.reported if self.reported else 1.0

    @property
    def recall(self) -> float:
        """Correct / annotated frames (1 when the target is never annotated)."""
        return self.correct / self.annotated if self.annotated else 1.0


def gt_identity(box: np.ndarray, gt: FrameRecord, min_iou: float = MIN_IOU) -> int:
    """Track id of the ground-truth box overlapping ``box`` the most (IoU >= ``min_iou``), else ``-1``."""
    if len(gt) == 0 or gt.track_ids is None:
        return -1
    iou = iou_matrix(np.asarray(box, np.float64)[None], gt.boxes)[0]
    best = int(np.argmax(iou))
    return int(gt.track_ids[best]) if iou[best] >= min_iou else -1


def score_follow(frames: Sequence[FollowFrame], gt: Sequence[FrameRecord], target: int) -> FollowScore:
    """Score followed frames against the ground truth of the same frames.

    Args:
        frames: the follower's output (frame indices index ``gt``).
        gt: ground-truth records of the whole video, with track ids.
        target: the target's ground-truth track id.
    """
    reported = correct = 0
    query_correct = False
    for f in frames:
        if not f.present or f.box is None:
            continue
        reported += 1
        ok = gt_identity(f.box, gt[f.frame]) == target
        correct += ok
        if f.clicked:
            query_correct = ok
    annotated = sum(int(target in (r.track_ids if r.track_ids is not None else ())) for r in gt)
    return FollowScore(reported, correct, annotated, query_correct)


def detected_frames(records: Sequence[FrameRecord], gt: Sequence[FrameRecord], target: int) -> list[bool]:
    """Per frame, whether a detection of ``records`` is the target's (:func:`gt_identity`)."""
    return [any(gt_identity(b, g) == target for b in r.boxes) for r, g in zip(records, gt)]


def _row(gt: FrameRecord, target: int) -> int:
    rows = np.flatnonzero(gt.track_ids == target) if gt.track_ids is not None else []
    if len(rows) == 0:
        raise ValueError(f"track {target} is not annotated in frame {gt.frame_index}")
    return int(rows[0])


def _inside(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    return (points[:, 0] >= box[0]) & (points[:, 0] < box[2]) & (points[:, 1] >= box[1]) & (points[:, 1] < box[3])


def crowded_frame(
    gt: Sequence[FrameRecord], target: int, min_visible: int = 5, allowed: Sequence[bool] | None = None
) -> int | None:
    """The frame where the target's box holds the most visible joints of other people.

    Only frames where the target shows at least ``min_visible`` visible joints count (a user must see
    whom they click on), and only ``allowed`` ones when given (e.g. frames where a detection matches the
    target: a user clicks on a detected person); ties go to the earliest frame. ``None`` if there is no
    such frame.
    """
    best, best_count = None, -1
    for t, rec in enumerate(gt):
        if rec.track_ids is None or target not in rec.track_ids or (allowed is not None and not allowed[t]):
            continue
        row = _row(rec, target)
        if int((rec.keypoints[row, :, 2] > 0).sum()) < min_visible:
            continue
        others = np.delete(rec.keypoints, row, axis=0).reshape(-1, 3)
        count = int((_inside(others[:, :2], rec.boxes[row]) & (others[:, 2] > 0)).sum())
        if count > best_count:
            best, best_count = t, count
    return best


def simulate_clicks(gt: FrameRecord, target: int, positives: int = 2, negative: bool = False) -> Clicks:
    """Clicks of a user who points at the target's visible joints in a ground-truth frame.

    Args:
        gt: the ground truth of the clicked frame.
        target: the target's track id.
        positives: number of positive clicks (visible joints in :data:`CLICK_ORDER`).
        negative: also click once on the person with the most visible joints inside the target's box.

    Raises:
        ValueError: the target is not annotated there, or shows no visible joint to click on.
    """
    row = _row(gt, target)
    kps = gt.keypoints[row]
    visible = [j for j in CLICK_ORDER if kps[j, 2] > 0]
    if not visible:
        raise ValueError(f"track {target} has no visible joint in frame {gt.frame_index}")
    chosen = kps[visible[:positives], :2].astype(np.float64)
    negatives = np.zeros((0, 2))
    if negative:
        box = gt.boxes[row]
        best, best_count = None, 0
        for other in range(len(gt)):
            if other == row:
                continue
            pts = gt.keypoints[other]
            count = int((_inside(pts[:, :2], box) & (pts[:, 2] > 0)).sum())
            if count > best_count:
                best, best_count = other, count
        if best is not None:
            pts = gt.keypoints[best]
            ok = [j for j in CLICK_ORDER + tuple(range(17)) if pts[j, 2] > 0 and _inside(pts[j : j + 1, :2], box)[0]]
            negatives = pts[ok[:1], :2].astype(np.float64)
    return Clicks(gt.frame_index, chosen, negatives)

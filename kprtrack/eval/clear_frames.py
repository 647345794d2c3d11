"""Frame selection and joint rules of the two pose CLEAR-MOT protocols.

* ``posetrack21`` (default): exactly the frames, joints and persons the keypoint HOTA sees
  (:mod:`kprtrack.eval.kit_view`): labelled frames, joints with ``x > 0 and y > 0``, the kit's
  ignore-region rules, every labelled frame counted.
* ``poseval``: poseval's (PoseTrack 2017/2018) rules, to reproduce its MOTA exactly:
  ``is_labeled`` is ignored and a frame is evaluated iff it has GT persons; the last such frame
  of every sequence is dropped; a joint is missing only if ``x == 0 and y == 0`` and its third
  value (visibility or score) is 0; joints strictly inside an ignore polygon are removed and a
  person left without joints is dropped; a frame left with no GT or no predicted person counts
  one unmatchable object and hypothesis (1 FN + 1 FP per joint).
"""

from __future__ import annotations

import numpy as np

from kprtrack.eval.clear_pose import ClearCounts, SequenceClear
from kprtrack.eval.kit_view import KitSequence
from kprtrack.eval.loading import Persons, SequenceInput
from kprtrack.eval.options import KEPT_JOINTS
from kprtrack.eval.regions import make_polygons, strictly_inside


def posetrack21_counts(seq: KitSequence) -> ClearCounts:
    """CLEAR-MOT counts of one sequence under the ``posetrack21`` protocol."""
    acc = SequenceClear()
    for f in seq.frames:
        acc.add_frame(f.gt_ids, f.gt_valid, f.pr_ids, f.pr_valid, f.distances())
    return acc.counts


def _poseval_persons(persons: Persons, polygons: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """poseval's joints of one frame: kept rows, (n, 15, 2) coordinates, (n, 15) joint exists."""
    kps = persons.keypoints[:, KEPT_JOINTS, :]
    has = ~((kps[:, :, 0] == 0) & (kps[:, :, 1] == 0) & (kps[:, :, 2] == 0))
    rows = np.arange(len(persons))
    if polygons and len(persons):
        has = has & ~strictly_inside(kps[:, :, :2], polygons)
        rows = np.flatnonzero(has.any(axis=1))
    return rows, kps[rows, :, :2], has[rows]


def poseval_counts(seq: SequenceInput) -> ClearCounts:
    """CLEAR-MOT counts of one sequence under the ``poseval`` protocol."""
    acc = SequenceClear()
    frames = [t for t in range(seq.num_frames) if len(seq.gt[t]) > 0][:-1]
    for t in frames:
        polygons = make_polygons(seq.polygons(t))
        gt, pr = seq.gt[t], seq.pred[t]
        g_rows, g_xy, g_has = _poseval_persons(gt, polygons)
        p_rows, p_xy, p_has = _poseval_persons(pr, polygons)
        if g_rows.size == 0 or p_rows.size == 0:
            acc.add_unmatchable_frame()
            continue
        heads = gt.head_boxes[g_rows]
        x2, y2 = heads[:, 0] + heads[:, 2], heads[:, 1] + heads[:, 3]
        dx, dy = x2 - heads[:, 0], y2 - heads[:, 1]
        head_size = 0.6 * np.sqrt(dx * dx + dy * dy)
        diff = g_xy[:, None] - p_xy[None]
        with np.errstate(divide="ignore", invalid="ignore"):
            dist = np.sqrt(diff[..., 0] ** 2 + diff[..., 1] ** 2) / head_size[:, None, None]
        acc.add_frame(gt.track_ids[g_rows], g_has, pr.track_ids[p_rows], p_has, dist)
    return acc.counts

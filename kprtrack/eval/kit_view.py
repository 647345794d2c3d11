"""The kit's view of a sequence: labelled frames, 15 joints, ignore regions applied, head sizes.

This is the input of the keypoint HOTA, of the ``posetrack21`` CLEAR-MOT protocol and of the
``Count`` fields. Rules (the kit's, see docs/eval.md):

* only frames with a truthy ``is_labeled``; the ears (indices 3, 4) are dropped;
* a joint exists iff ``x > 0 and y > 0`` (visibility and scores are ignored);
* in frames with ignore polygons, a person (GT or predicted) with all 15 joint coordinates
  strictly inside a polygon is dropped, otherwise its inside joints are set to ``(0, 0)``; then
  a person whose joints all have ``x <= 0 and y <= 0`` is dropped. Persons without any joint
  are kept in frames without polygons;
* head size ``0.6 * ||(x2 - x1, y2 - y1)||`` of the GT ``bbox_head`` with ``x2 = x + w``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kprtrack.eval.loading import Persons, SequenceInput
from kprtrack.eval.options import KEPT_JOINTS, SIMILARITY_DIVISOR
from kprtrack.eval.regions import make_polygons, strictly_inside
from kprtrack.io.posetrack21 import PoseTrackFormatError


@dataclass
class KitFrame:
    """One labelled frame after the kit's filtering.

    Attributes:
        position: index of the frame in the GT ``images`` list.
        gt_xy: (G, 15, 2) float64 GT joint coordinates.
        gt_valid: (G, 15) bool, joint exists.
        gt_ids: (G,) int64 GT track ids.
        head_sizes: (G,) float64.
        pr_xy: (P, 15, 2) float64 predicted joint coordinates.
        pr_valid: (P, 15) bool.
        pr_ids: (P,) int64 predicted track ids.
    """

    position: int
    gt_xy: np.ndarray
    gt_valid: np.ndarray
    gt_ids: np.ndarray
    head_sizes: np.ndarray
    pr_xy: np.ndarray
    pr_valid: np.ndarray
    pr_ids: np.ndarray

    def distances(self) -> np.ndarray:
        """(G, P, 15) head-normalised joint distances, ``inf`` where either joint is missing."""
        diff = self.gt_xy[:, None] - self.pr_xy[None]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1]) / self.head_sizes[:, None, None]
        return np.where(self.gt_valid[:, None] & self.pr_valid[None], d, np.inf)


def similarity(distances: np.ndarray) -> np.ndarray:
    """The kit's keypoint similarity ``max(0, 1 - d / 0.5001)`` (same expression order as the kit)."""
    return np.maximum((-1 / SIMILARITY_DIVISOR) * distances + 1, 0)


@dataclass
class KitSequence:
    """A sequence as the kit evaluates it.

    Attributes:
        name: sequence name.
        frames: the labelled frames, in order.
    """

    name: str
    frames: list[KitFrame]

    def count(self) -> dict[str, int]:
        """The kit's ``Count`` metric: persons and distinct ids after filtering, labelled frames."""
        gt_ids = np.concatenate([f.gt_ids for f in self.frames]) if self.frames else np.zeros(0, np.int64)
        pr_ids = np.concatenate([f.pr_ids for f in self.frames]) if self.frames else np.zeros(0, np.int64)
        return {
            "Dets": int(pr_ids.size),
            "GT_Dets": int(gt_ids.size),
            "IDs": int(np.unique(pr_ids).size),
            "GT_IDs": int(np.unique(gt_ids).size),
            "Frames": len(self.frames),
        }


def _filter(persons: Persons, polygons: list) -> tuple[np.ndarray, np.ndarray]:
    """Apply the kit's ignore-region rules; returns kept row indices and their (n, 15, 3) joints."""
    kps = persons.keypoints[:, KEPT_JOINTS, :].copy()
    if not polygons or len(persons) == 0:
        return np.arange(len(persons)), kps
    inside = strictly_inside(kps[:, :, :2], polygons)
    keep = ~inside.all(axis=1)
    kps[inside] = 0.0
    keep &= ~((kps[:, :, 0] <= 0) & (kps[:, :, 1] <= 0)).all(axis=1)
    rows = np.flatnonzero(keep)
    return rows, kps[rows]


def _head_sizes(heads: np.ndarray) -> np.ndarray:
    x1, y1 = heads[:, 0], heads[:, 1]
    x2, y2 = x1 + heads[:, 2], y1 + heads[:, 3]
    dx, dy = x2 - x1, y2 - y1
    return 0.6 * np.sqrt(dx * dx + dy * dy)


def kit_view(seq: SequenceInput) -> KitSequence:
    """Build the kit's view of ``seq``.

    Raises:
        PoseTrackFormatError: a labelled frame has no GT person left (the kit crashes there), a
            GT person with joints has a zero-size head box, or an ignore polygon is degenerate.
    """
    frames = []
    for t in np.flatnonzero(seq.is_labeled):
        t = int(t)
        polygons = make_polygons(seq.polygons(t))
        gt, pr = seq.gt[t], seq.pred[t]
        if len(gt) == 0:
            raise PoseTrackFormatError(
                seq.gt_path,
                f"labelled image {seq.image_ids[t]} has no GT person (the kit cannot evaluate it)",
                f"images[{t}]",
                "is_labeled",
            )
        g_rows, g_kps = _filter(gt, polygons)
        if g_rows.size == 0:
            raise PoseTrackFormatError(
                seq.gt_path,
                f"every GT person of labelled image {seq.image_ids[t]} lies inside its ignore regions "
                "(the kit cannot evaluate it)",
                f"images[{t}]",
                "ignore_regions_x",
            )
        p_rows, p_kps = _filter(pr, polygons)
        g_valid = (g_kps[:, :, 0] > 0) & (g_kps[:, :, 1] > 0)
        heads = _head_sizes(gt.head_boxes[g_rows])
        bad = (~(heads > 0)) & g_valid.any(axis=1)
        if bad.any():
            rec = int(gt.records[g_rows[int(np.argmax(bad))]])
            raise PoseTrackFormatError(
                seq.gt_path, "head box of size 0 (the head-normalised distance is undefined)",
                f"annotations[{rec}]", "bbox_head",
            )  # fmt: skip
        frames.append(
            KitFrame(
                position=t,
                gt_xy=g_kps[:, :, :2],
                gt_valid=g_valid,
                gt_ids=gt.track_ids[g_rows],
                head_sizes=heads,
                pr_xy=p_kps[:, :, :2],
                pr_valid=(p_kps[:, :, 0] > 0) & (p_kps[:, :, 1] > 0),
                pr_ids=pr.track_ids[p_rows],
            )
        )
    return KitSequence(name=seq.name, frames=frames)

"""Oracle stages that read PoseTrack21 ground truth instead of running a model.

They exist for debugging and for measuring the tracker alone: with ``detector.kind: oracle`` and
``pose.kind: oracle`` the pipeline sees perfect boxes and poses, so every remaining error is the
tracker's (or the re-identification model's).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kprtrack.boxes import iou_matrix
from kprtrack.config import ConfigError
from kprtrack.io.posetrack21 import read_ground_truth
from kprtrack.registry import BuildContext, register_detector, register_pose

if TYPE_CHECKING:
    from kprtrack.pipeline_config import DetectorSection, PoseSection


class GroundTruthOracle:
    """Boxes and poses of a PoseTrack21 ground-truth file, frame by frame.

    Implements both :class:`kprtrack.stages.Detector` and :class:`kprtrack.stages.PoseEstimator`.
    The pipeline calls :meth:`on_frame` with each frame's index before the stages run.

    Args:
        gt_path: the sequence's ground-truth JSON.
        box_noise: standard deviation of Gaussian box jitter, as a fraction of box size.
        keypoint_noise: standard deviation of keypoint jitter in pixels.
        drop_rate: probability of missing a person in a frame.
        seed: random seed of the noise.
    """

    keypoint_format = "posetrack21"

    def __init__(
        self,
        gt_path: str | Path,
        box_noise: float = 0.0,
        keypoint_noise: float = 0.0,
        drop_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.records = read_ground_truth(gt_path).to_records()
        self.box_noise, self.keypoint_noise, self.drop_rate = box_noise, keypoint_noise, drop_rate
        self.rng = np.random.default_rng(seed)
        self._index = 0
        self._current = None

    def on_frame(self, index: int) -> None:
        """Select the ground truth of frame ``index``."""
        if not 0 <= index < len(self.records):
            raise IndexError(f"frame {index} is outside the ground truth ({len(self.records)} frames)")
        self._index = index
        rec = self.records[index]
        valid = rec.boxes[:, 2] > rec.boxes[:, 0]
        if self.drop_rate:
            valid &= self.rng.random(len(rec)) >= self.drop_rate
        rec = rec[valid]
        boxes = rec.boxes.copy()
        if self.box_noise and len(rec):
            wh = np.repeat(boxes[:, 2:] - boxes[:, :2], 2, axis=0).reshape(-1, 4)
            boxes = boxes + self.rng.normal(0, self.box_noise, boxes.shape) * wh
            boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        kps = rec.keypoints.copy()
        # visible joints score 1; occluded joints that ground truth still locates (x, y > 0; the kit scores them)
        # score 0.5; unannotated joints 0
        located = (kps[:, :, 0] > 0) & (kps[:, :, 1] > 0)
        kps[:, :, 2] = np.where(kps[:, :, 2] > 0, 1.0, np.where(located, 0.5, 0.0))
        if self.keypoint_noise and len(rec):
            present = kps[:, :, 2:] > 0
            kps[:, :, :2] += self.rng.normal(0, self.keypoint_noise, kps[:, :, :2].shape) * present
        self._current = (boxes.astype(np.float32), kps.astype(np.float32))

    def detect(self, frames: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Ground-truth boxes of the current frame, score 1 (one frame at a time)."""
        if len(frames) != 1:
            raise ValueError("the ground-truth oracle detects one frame at a time")
        if self._current is None:
            self.on_frame(self._index)
        boxes = self._current[0]
        return [(boxes, np.ones(len(boxes), np.float32))]

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Ground-truth keypoints of the best-overlapping ground-truth box of each input box."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        gt_boxes, gt_kps = self._current if self._current is not None else (np.zeros((0, 4)), np.zeros((0, 17, 3)))
        out = np.zeros((len(boxes), 17, 3), np.float32)
        if len(boxes) and len(gt_boxes):
            iou = iou_matrix(boxes, gt_boxes)
            best = iou.argmax(1)
            ok = iou[np.arange(len(boxes)), best] > 0.3
            out[ok] = gt_kps[best[ok]]
        return out


def shared_oracle(context: BuildContext) -> GroundTruthOracle:
    """The pipeline's one oracle (it serves as detector and as pose estimator).

    Raises:
        ConfigError: if the context has no ground truth.
    """
    if context.gt_path is None:
        raise ConfigError(
            "oracle stages need the sequence's ground truth (--gt FILE, or a PoseTrack21 sequence folder)"
        )
    return context.shared_object("oracle", lambda: GroundTruthOracle(context.gt_path))


@register_detector("oracle")
def build_oracle_detector(section: DetectorSection, context: BuildContext) -> GroundTruthOracle:
    """Ground-truth boxes (debugging, tracker-only measurements)."""
    return shared_oracle(context)


@register_pose("oracle")
def build_oracle_pose(section: PoseSection, context: BuildContext) -> GroundTruthOracle:
    """Ground-truth poses of the best-overlapping ground-truth box."""
    return shared_oracle(context)

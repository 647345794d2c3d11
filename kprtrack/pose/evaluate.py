"""Top-down pose accuracy with ground-truth boxes: PCKh@0.5 as the PoseTrack kit and mean keypoint error.

The head size of a person is ``0.6 *`` the diagonal of its ``bbox_head`` (the PoseTrack evaluation
kit's ``getHeadSize``); a predicted joint is correct when its distance to the ground truth is at most
``threshold *`` head size. Joints count when their ground truth has positive coordinates (what the kit
evaluates, occluded joints included); PoseTrack21's ears never do. Figures are pooled over joints.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: fraction of the head-box diagonal used as the head size (PoseTrack kit).
HEAD_SIZE_FACTOR = 0.6


def head_sizes(bbox_head: np.ndarray) -> np.ndarray:
    """``(N,)`` head sizes from ``(N, 4)`` ``x, y, w, h`` head boxes: ``0.6 * sqrt(w^2 + h^2)``."""
    b = np.asarray(bbox_head, np.float64).reshape(-1, 4)
    return HEAD_SIZE_FACTOR * np.hypot(b[:, 2], b[:, 3])


@dataclass
class PoseMetrics:
    """Pooled pose accuracy.

    Attributes:
        pckh: PCKh at the threshold over all evaluated joints (0..1).
        pckh_visible: the same over joints with visibility 1.
        pckh_occluded: over joints with visibility 0 (occluded by another person or the body).
        mean_error: mean distance to the ground truth, pixels.
        median_error: median distance, pixels.
        per_joint: joint index -> PCKh (joints never evaluated are absent).
        num_people: people evaluated.
        num_joints: joints evaluated.
        threshold: the PCKh threshold.
    """

    pckh: float
    pckh_visible: float
    pckh_occluded: float
    mean_error: float
    median_error: float
    per_joint: dict[int, float]
    num_people: int
    num_joints: int
    threshold: float = 0.5

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for printing / JSON."""
        return {
            "PCKh": self.pckh,
            "PCKh_visible": self.pckh_visible,
            "PCKh_occluded": self.pckh_occluded,
            "mean_error_px": self.mean_error,
            "median_error_px": self.median_error,
            "people": self.num_people,
            "joints": self.num_joints,
            "threshold": self.threshold,
            "per_joint": {str(k): v for k, v in self.per_joint.items()},
        }


def _rate(hits: np.ndarray) -> float:
    return float(hits.mean()) if hits.size else float("nan")


def pckh(
    predictions: np.ndarray, ground_truth: np.ndarray, bbox_head: np.ndarray, threshold: float = 0.5
) -> PoseMetrics:
    """PCKh and keypoint errors of predictions against ground truth.

    Args:
        predictions: ``(N, K, 2+)`` predicted ``x, y`` (further columns ignored).
        ground_truth: ``(N, K, 3)`` ``x, y, visibility``; joints without positive coordinates are skipped.
        bbox_head: ``(N, 4)`` head boxes ``x, y, w, h``.
        threshold: fraction of the head size.

    Raises:
        ValueError: shapes do not agree.
    """
    pred = np.asarray(predictions, np.float64)
    gt = np.asarray(ground_truth, np.float64)
    if pred.ndim != 3 or gt.ndim != 3 or pred.shape[:2] != gt.shape[:2] or pred.shape[2] < 2 or gt.shape[2] != 3:
        raise ValueError(f"predictions (N, K, 2+) and ground_truth (N, K, 3) must agree, got {pred.shape}, {gt.shape}")
    heads = head_sizes(bbox_head)
    if len(heads) != len(gt):
        raise ValueError(f"{len(heads)} head boxes for {len(gt)} people")
    present = (gt[..., 0] > 0) & (gt[..., 1] > 0)
    dist = np.linalg.norm(pred[..., :2] - gt[..., :2], axis=-1)
    hit = dist <= threshold * heads[:, None]
    visible = gt[..., 2] > 0
    per_joint = {int(k): _rate(hit[:, k][present[:, k]]) for k in range(gt.shape[1]) if present[:, k].any()}
    d = dist[present]
    return PoseMetrics(
        pckh=_rate(hit[present]),
        pckh_visible=_rate(hit[present & visible]),
        pckh_occluded=_rate(hit[present & ~visible]),
        mean_error=float(d.mean()) if d.size else float("nan"),
        median_error=float(np.median(d)) if d.size else float("nan"),
        per_joint=per_joint,
        num_people=len(gt),
        num_joints=int(present.sum()),
        threshold=float(threshold),
    )


def evaluate_pose(
    estimator: Any,
    root: str | Path,
    split: str = "val",
    frame_stride: int = 1,
    threshold: float = 0.5,
    progress: bool = True,
) -> tuple[PoseMetrics, float]:
    """Run a pose estimator (``estimate(frame, boxes) -> (N, K, 3)``) on ground-truth boxes and score it.

    Args:
        estimator: a :class:`kprtrack.stages.PoseEstimator` whose output convention matches the ground
            truth (``posetrack21`` for PoseTrack data).
        root: PoseTrack21-layout data set folder.
        split: split name.
        frame_stride: evaluate every n-th frame of each sequence.
        threshold: PCKh threshold.
        progress: tqdm bar.

    Returns:
        The metrics and the estimator's throughput in people per second (``estimate`` calls only).

    Raises:
        ValueError: the estimator declares another keypoint convention than ``posetrack21``.
    """
    from tqdm import tqdm

    from kprtrack.synth.dataset import SynthDataset

    fmt = getattr(estimator, "keypoint_format", "posetrack21")
    if fmt != "posetrack21":
        raise ValueError(f"the estimator outputs {fmt!r} keypoints; PoseTrack ground truth is posetrack21")
    ds = SynthDataset(root)
    jobs = [(seq, t) for seq in ds.sequences(split) for t in range(0, len(seq), frame_stride) if seq.is_labeled(t)]
    preds: list[np.ndarray] = []
    gts: list[np.ndarray] = []
    heads: list[np.ndarray] = []
    seconds = 0.0
    for seq, t in tqdm(jobs, desc=f"pose {split}", disable=not progress, unit="frame"):
        anns = [a for a in seq.annotations(t) if a["bbox"][2] > 0 and a["bbox"][3] > 0]
        if not anns:
            continue
        boxes = np.asarray([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)], np.float32)
        frame = seq.frame(t)
        tick = time.perf_counter()
        preds.append(np.asarray(estimator.estimate(frame, boxes)))
        seconds += time.perf_counter() - tick
        gts.append(np.asarray([a["keypoints"] for a in anns], np.float64).reshape(len(anns), -1, 3))
        heads.append(np.asarray([a["bbox_head"] for a in anns], np.float64))
    if not preds:
        raise ValueError(f"{root}: split {split!r} has no annotated person")
    metrics = pckh(np.concatenate(preds), np.concatenate(gts), np.concatenate(heads), threshold)
    return metrics, metrics.num_people / max(seconds, 1e-9)


def format_table(metrics: PoseMetrics, names: Sequence[str] | None = None) -> str:
    """Human-readable summary with per-joint PCKh."""
    lines = [
        f"PCKh@{metrics.threshold:g}       {100 * metrics.pckh:.2f}",
        f"  visible joints  {100 * metrics.pckh_visible:.2f}",
        f"  occluded joints {100 * metrics.pckh_occluded:.2f}",
        f"mean error       {metrics.mean_error:.2f} px (median {metrics.median_error:.2f} px)",
        f"people {metrics.num_people}, joints {metrics.num_joints}",
    ]
    for k, v in metrics.per_joint.items():
        name = names[k] if names is not None and k < len(names) else str(k)
        lines.append(f"  {name:<15} {100 * v:.2f}")
    return "\n".join(lines)

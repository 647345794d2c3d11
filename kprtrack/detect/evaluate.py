"""Person-detection quality: COCO-style average precision on PoseTrack21-layout ground truth.

Matching follows COCO: per image, detections in descending score order each take the unmatched
ground-truth box with the highest IoU, if that IoU reaches the threshold (true positive); otherwise
they are false positives -- unless at least half of the detection's area lies inside the frame's
ignore regions (crowd zones, which are not annotated), in which case the detection is left out.
AP is the 101-point interpolated area under the precision/recall curve (COCO's ``AP``), pooled over
all images; ``AP@[.5:.95]`` averages it over the IoU thresholds 0.50, 0.55, ..., 0.95.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

#: COCO's IoU thresholds 0.50:0.05:0.95.
IOU_THRESHOLDS: tuple[float, ...] = tuple(np.round(np.linspace(0.5, 0.95, 10), 2).tolist())
#: a detection with at least this fraction of its area in ignore regions is not counted as a false positive.
IGNORE_OVERLAP = 0.5


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes ``a (N, 4)`` and ``b (M, 4)`` -> ``(N, M)`` float64."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def ignore_mask(shape_hw: tuple[int, int], polygons: Sequence[np.ndarray]) -> np.ndarray | None:
    """Rasterise ignore polygons (each ``(K, 2)`` x, y) into an ``(H, W)`` bool mask; ``None`` without any."""
    polys = [np.round(np.asarray(p, np.float64)).astype(np.int32).reshape(-1, 2) for p in polygons if len(p) >= 3]
    if not polys:
        return None
    mask = np.zeros(shape_hw, np.uint8)
    cv2.fillPoly(mask, polys, 1)
    return mask.astype(bool)


def fraction_inside(boxes: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Fraction of each xyxy box's area (clipped to the mask) covered by ``mask``; zeros without a mask."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    out = np.zeros(len(boxes))
    if mask is None or not len(boxes):
        return out
    h, w = mask.shape
    integral = cv2.integral(mask.astype(np.uint8))  # (h + 1, w + 1)
    x1 = np.clip(np.floor(boxes[:, 0]), 0, w).astype(int)
    y1 = np.clip(np.floor(boxes[:, 1]), 0, h).astype(int)
    x2 = np.clip(np.ceil(boxes[:, 2]), 0, w).astype(int)
    y2 = np.clip(np.ceil(boxes[:, 3]), 0, h).astype(int)
    area = (x2 - x1) * (y2 - y1)
    inside = integral[y2, x2] - integral[y1, x2] - integral[y2, x1] + integral[y1, x1]
    ok = area > 0
    out[ok] = inside[ok] / area[ok]
    return out


def match_image(
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    gt_boxes: np.ndarray,
    iou_threshold: float,
    ignored: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy COCO matching of one image's detections.

    Args:
        det_boxes: ``(N, 4)`` xyxy.
        det_scores: ``(N,)``.
        gt_boxes: ``(M, 4)`` xyxy.
        iou_threshold: minimum IoU of a match.
        ignored: ``(N,)`` bool, detections that lie in ignore regions (dropped when unmatched).

    Returns:
        ``scores (n,)`` and ``tp (n,)`` bool of the detections that count (sorted by descending score).
    """
    scores = np.asarray(det_scores, np.float64).reshape(-1)
    order = np.argsort(-scores, kind="mergesort")
    ious = box_iou(np.asarray(det_boxes).reshape(-1, 4)[order], gt_boxes)
    ign = np.zeros(len(scores), bool) if ignored is None else np.asarray(ignored, bool)[order]
    taken = np.zeros(ious.shape[1], bool)
    tp = np.zeros(len(order), bool)
    keep = np.ones(len(order), bool)
    for i in range(len(order)):
        cand = np.where(taken, -1.0, ious[i]) if ious.shape[1] else np.zeros(0)
        j = int(np.argmax(cand)) if cand.size else -1
        if j >= 0 and cand[j] >= iou_threshold:
            taken[j] = True
            tp[i] = True
        elif ign[i]:
            keep[i] = False
    return scores[order][keep], tp[keep]


def average_precision(scores: np.ndarray, tp: np.ndarray, num_gt: int) -> tuple[float, float]:
    """COCO 101-point interpolated AP and the final recall of pooled detections.

    Args:
        scores: ``(N,)`` detection scores over all images.
        tp: ``(N,)`` whether each detection is a true positive.
        num_gt: number of ground-truth boxes.

    Returns:
        ``(AP, recall)``; both 0 without ground truth (AP is ``nan`` then if there are detections too).
    """
    if num_gt == 0:
        return (float("nan") if len(scores) else 0.0), 0.0
    if len(scores) == 0:
        return 0.0, 0.0
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    hits = np.asarray(tp, bool)[order]
    ctp = np.cumsum(hits)
    cfp = np.cumsum(~hits)
    recall = ctp / num_gt
    precision = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # precision envelope
    idx = np.searchsorted(recall, np.linspace(0.0, 1.0, 101), side="left")
    sampled = np.where(idx < len(precision), precision[np.minimum(idx, len(precision) - 1)], 0.0)
    return float(np.mean(sampled)), float(recall[-1])


@dataclass
class DetectionMetrics:
    """Pooled detection quality.

    Attributes:
        ap50: AP at IoU 0.5. ap75: AP at IoU 0.75. ap: mean AP over IoU 0.50:0.95.
        recall50: recall at IoU 0.5 of all detections kept.
        num_images, num_gt, num_dets: counts.
        per_threshold: IoU threshold -> AP.
    """

    ap50: float
    ap75: float
    ap: float
    recall50: float
    num_images: int
    num_gt: int
    num_dets: int
    per_threshold: dict[float, float]

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for printing / JSON."""
        return {
            "AP50": self.ap50,
            "AP75": self.ap75,
            "AP": self.ap,
            "recall50": self.recall50,
            "images": self.num_images,
            "gt_boxes": self.num_gt,
            "detections": self.num_dets,
        }


def evaluate_detections(
    detections: Sequence[tuple[np.ndarray, np.ndarray]],
    ground_truth: Sequence[np.ndarray],
    ignore_masks: Sequence[np.ndarray | None] | None = None,
    iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
) -> DetectionMetrics:
    """AP of detections against ground truth, pooled over images.

    Args:
        detections: per image ``(boxes (N, 4) xyxy, scores (N,))``.
        ground_truth: per image ``(M, 4)`` xyxy boxes.
        ignore_masks: per image ``(H, W)`` bool ignore mask or ``None``.
        iou_thresholds: thresholds to average over (must include 0.5 and 0.75 for those fields to be set).

    Raises:
        ValueError: the sequences have different lengths.
    """
    if len(detections) != len(ground_truth) or (ignore_masks is not None and len(ignore_masks) != len(detections)):
        raise ValueError(
            f"detections ({len(detections)}), ground_truth ({len(ground_truth)}) and ignore_masks need one entry "
            "per image"
        )
    num_gt = int(sum(len(np.asarray(g).reshape(-1, 4)) for g in ground_truth))
    ignored = [
        fraction_inside(d[0], None if ignore_masks is None else ignore_masks[i]) >= IGNORE_OVERLAP
        for i, d in enumerate(detections)
    ]
    per: dict[float, float] = {}
    recall50 = 0.0
    for thr in iou_thresholds:
        all_scores, all_tp = [], []
        for (boxes, scores), gt, ign in zip(detections, ground_truth, ignored):
            s, t = match_image(boxes, scores, np.asarray(gt).reshape(-1, 4), float(thr), ign)
            all_scores.append(s)
            all_tp.append(t)
        ap, rec = average_precision(np.concatenate(all_scores), np.concatenate(all_tp), num_gt)
        per[round(float(thr), 2)] = ap
        if abs(thr - 0.5) < 1e-9:
            recall50 = rec
    return DetectionMetrics(
        ap50=per.get(0.5, float("nan")),
        ap75=per.get(0.75, float("nan")),
        ap=float(np.mean(list(per.values()))) if per else float("nan"),
        recall50=recall50,
        num_images=len(detections),
        num_gt=num_gt,
        num_dets=int(sum(len(np.asarray(d[1]).reshape(-1)) for d in detections)),
        per_threshold=per,
    )


def precision_recall_at(
    detections: Sequence[tuple[np.ndarray, np.ndarray]],
    ground_truth: Sequence[np.ndarray],
    score_thresholds: Sequence[float],
    ignore_masks: Sequence[np.ndarray | None] | None = None,
    iou_threshold: float = 0.5,
) -> list[dict[str, float]]:
    """Precision and recall of the detections kept by each score threshold (choosing a tracker's cut-offs).

    Args:
        detections: per image ``(boxes (N, 4), scores (N,))``.
        ground_truth: per image ``(M, 4)`` boxes.
        score_thresholds: detections with ``score >= threshold`` are kept.
        ignore_masks: per image ignore mask or ``None`` (as in :func:`evaluate_detections`).
        iou_threshold: IoU of a match.

    Returns:
        One ``{'score', 'precision', 'recall', 'tp', 'fp'}`` dict per threshold.
    """
    num_gt = int(sum(len(np.asarray(g).reshape(-1, 4)) for g in ground_truth))
    scores, hits = [], []
    for i, ((boxes, sc), gt) in enumerate(zip(detections, ground_truth)):
        ign = fraction_inside(boxes, None if ignore_masks is None else ignore_masks[i]) >= IGNORE_OVERLAP
        s, t = match_image(boxes, sc, np.asarray(gt).reshape(-1, 4), iou_threshold, ign)
        scores.append(s)
        hits.append(t)
    all_s = np.concatenate(scores) if scores else np.zeros(0)
    all_t = np.concatenate(hits) if hits else np.zeros(0, bool)
    out = []
    for thr in score_thresholds:
        # greedy matching in score order: the matches among detections above a cut-off do not depend on the rest
        keep = all_s >= thr
        tp, fp = int(all_t[keep].sum()), int((~all_t[keep]).sum())
        out.append(
            {
                "score": float(thr),
                "precision": tp / max(tp + fp, 1),
                "recall": tp / max(num_gt, 1),
                "tp": tp,
                "fp": fp,
            }
        )
    return out


def collect_detections(
    detector: Any,
    root: str | Path,
    split: str = "val",
    box: str = "bbox",
    frame_stride: int = 1,
    batch_size: int = 8,
    progress: bool = True,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray], list[np.ndarray | None], float]:
    """Run a detector (``detect(frames) -> [(boxes, scores)]``) on a split's labelled frames.

    Args:
        detector: a :class:`kprtrack.stages.Detector` (e.g. :class:`~kprtrack.detect.YOLOXDetector`).
        root: PoseTrack21-layout data set folder.
        split: split name.
        box: ground-truth box key (``bbox`` full extent, or ``bbox_visible``).
        frame_stride: evaluate every n-th frame of each sequence.
        batch_size: frames per ``detect`` call.
        progress: tqdm bar.

    Returns:
        Per frame the detections, the ground-truth boxes and the ignore mask, and the detector's
        throughput in frames per second (``detect`` calls only).
    """
    from tqdm import tqdm

    from kprtrack.synth.dataset import SynthDataset

    ds = SynthDataset(root)
    jobs = [(seq, t) for seq in ds.sequences(split) for t in range(0, len(seq), frame_stride) if seq.is_labeled(t)]
    dets: list[tuple[np.ndarray, np.ndarray]] = []
    gts: list[np.ndarray] = []
    masks: list[np.ndarray | None] = []
    seconds = 0.0
    for start in tqdm(range(0, len(jobs), batch_size), desc=f"detect {split}", disable=not progress, unit="batch"):
        chunk = jobs[start : start + batch_size]
        frames = [seq.frame(t) for seq, t in chunk]
        tick = time.perf_counter()
        dets.extend(detector.detect(frames))
        seconds += time.perf_counter() - tick
        for (seq, t), frame in zip(chunk, frames):
            rows = [[x, y, x + w, y + h] for x, y, w, h in (a[box] for a in seq.annotations(t)) if w > 0 and h > 0]
            gts.append(np.asarray(rows, np.float32).reshape(-1, 4))
            masks.append(ignore_mask(frame.shape[:2], seq.ignore_regions(t)))
    return dets, gts, masks, len(jobs) / max(seconds, 1e-9)


def evaluate_detector(
    detector: Any,
    root: str | Path,
    split: str = "val",
    box: str = "bbox",
    frame_stride: int = 1,
    batch_size: int = 8,
    progress: bool = True,
) -> tuple[DetectionMetrics, float]:
    """:func:`collect_detections` then :func:`evaluate_detections`; returns the metrics and frames per second."""
    dets, gts, masks, fps = collect_detections(detector, root, split, box, frame_stride, batch_size, progress)
    return evaluate_detections(dets, gts, masks), fps

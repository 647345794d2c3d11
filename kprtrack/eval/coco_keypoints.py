"""Person recall, precision and keypoint OKS of predicted poses against a COCO keypoint file.

COCO semantics: OKS uses the COCO sigmas, the annotation's ``area`` as the scale and only the
labelled joints (``v > 0``); people without labelled joints (``num_keypoints == 0``) and crowd
annotations are *ignored*: a prediction overlapping one (box IoU >= 0.5) is neither a hit nor a
false person. Predictions are matched greedily by descending score to the unmatched labelled person
of highest OKS; a match with OKS >= ``hit_oks`` is a hit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kprtrack.boxes import iou_matrix
from kprtrack.track.costs import OKS_SIGMAS

if TYPE_CHECKING:
    from kprtrack.pipeline import Pipeline
    from kprtrack.track.config import OutputFilterConfig


@dataclass(frozen=True)
class CocoImage:
    """One image's annotated people.

    Attributes:
        file_name: image file, relative to the annotation file's folder.
        keypoints: ``(n, 17, 3)`` labelled people, ``x, y, v``.
        boxes: ``(n, 4)`` their xyxy boxes.
        areas: ``(n,)`` their segmentation areas (OKS scale).
        ann_ids: ``(n,)`` their annotation ids.
        ignored_boxes: ``(m, 4)`` xyxy boxes of people without labelled joints and crowds.
    """

    file_name: str
    keypoints: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray
    ann_ids: np.ndarray
    ignored_boxes: np.ndarray


def _xyxy(bbox: list[float]) -> list[float]:
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


def load_coco_keypoints(path: str | os.PathLike[str]) -> list[CocoImage]:
    """The images of a COCO keypoint annotation file, in file order."""
    doc = json.loads(Path(path).read_text())
    by_image: dict[int, list[dict]] = {img["id"]: [] for img in doc["images"]}
    for ann in doc["annotations"]:
        by_image[ann["image_id"]].append(ann)
    out = []
    for img in doc["images"]:
        anns = by_image[img["id"]]
        labelled = [a for a in anns if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0)]
        ignored = [a for a in anns if a not in labelled]
        out.append(
            CocoImage(
                file_name=img["file_name"],
                keypoints=np.array([a["keypoints"] for a in labelled], np.float64).reshape(-1, 17, 3),
                boxes=np.array([_xyxy(a["bbox"]) for a in labelled], np.float64).reshape(-1, 4),
                areas=np.array([a["area"] for a in labelled], np.float64),
                ann_ids=np.array([a["id"] for a in labelled], np.int64),
                ignored_boxes=np.array([_xyxy(a["bbox"]) for a in ignored], np.float64).reshape(-1, 4),
            )
        )
    return out


def coco_oks(pred_xy: np.ndarray, gt: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """COCOeval's OKS of every prediction against every labelled person.

    Args:
        pred_xy: ``(P, 17, 2)`` predicted joint positions.
        gt: ``(G, 17, 3)`` ground truth ``x, y, v``.
        areas: ``(G,)`` ground-truth areas.

    Returns:
        ``(P, G)`` OKS in ``[0, 1]``.
    """
    pred_xy = np.asarray(pred_xy, np.float64).reshape(-1, 17, 2)
    d2 = ((pred_xy[:, None] - gt[None, :, :, :2]) ** 2).sum(-1)  # (P, G, 17)
    e = d2 / ((2 * OKS_SIGMAS) ** 2) / (areas[None, :, None] + np.spacing(1)) / 2
    labelled = (gt[:, :, 2] > 0)[None]
    return (np.exp(-e) * labelled).sum(-1) / np.maximum(labelled.sum(-1), 1)


@dataclass
class PoseMatchResult:
    """Counts over a set of images.

    Attributes:
        people: labelled people.
        predictions: predictions not matched to an ignored person.
        hit_oks: OKS of every hit.
    """

    people: int = 0
    predictions: int = 0
    hit_oks: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Hits per labelled person."""
        return len(self.hit_oks) / max(self.people, 1)

    @property
    def precision(self) -> float:
        """Hits per counted prediction."""
        return len(self.hit_oks) / max(self.predictions, 1)

    @property
    def mean_oks(self) -> float:
        """Mean OKS of the hits (NaN without a hit)."""
        return float(np.mean(self.hit_oks)) if self.hit_oks else float("nan")


def match_image(
    result: PoseMatchResult,
    image: CocoImage,
    boxes: np.ndarray,
    scores: np.ndarray,
    keypoints: np.ndarray,
    hit_oks: float = 0.5,
) -> None:
    """Add one image's predictions (``(N, 4)`` xyxy boxes, ``(N,)`` scores, ``(N, 17, 3)`` poses) to ``result``."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    oks = coco_oks(np.asarray(keypoints)[:, :, :2], image.keypoints, image.areas) if len(image.areas) else None
    taken = np.zeros(len(image.areas), bool)
    ignored_iou = iou_matrix(np.asarray(boxes, np.float64), image.ignored_boxes) if len(image.ignored_boxes) else None
    result.people += len(image.areas)
    for i in order:
        best = -1
        if oks is not None:
            candidates = np.where(taken, -1.0, oks[i])
            best = int(np.argmax(candidates))
            if candidates[best] < hit_oks:
                best = -1
        if best >= 0:
            taken[best] = True
            result.hit_oks.append(float(oks[i, best]))
            result.predictions += 1
        elif ignored_iou is None or ignored_iou[i].max() < 0.5:
            result.predictions += 1


def score_pipeline(
    pipeline: Pipeline, annotations: str | os.PathLike[str], output: OutputFilterConfig | None = None
) -> tuple[PoseMatchResult, float]:
    """Run ``pipeline`` on every photo of a COCO keypoint file, each as a one-frame video, and score it.

    What is scored is what ``kprtrack run`` writes: tracked rows after the output filters, with their
    keypoints converted to COCO order.

    Args:
        pipeline: the pipeline (reset before each photo).
        annotations: the COCO keypoint JSON; image files are relative to its folder.
        output: the output filters (defaults if ``None``).

    Returns:
        ``(result, milliseconds per photo)``.
    """
    import time

    import cv2

    from kprtrack.keypoints import convert_keypoints
    from kprtrack.track.filters import filter_frame

    root = Path(annotations).parent
    images = load_coco_keypoints(annotations)
    result, seconds = PoseMatchResult(), 0.0
    for image in images:
        frame = cv2.cvtColor(cv2.imread(str(root / image.file_name)), cv2.COLOR_BGR2RGB)
        pipeline.reset()
        t0 = time.perf_counter()
        record = pipeline.process(frame, 0)
        seconds += time.perf_counter() - t0
        out = filter_frame(record, output)
        out = out[out.track_ids >= 0]
        keypoints = convert_keypoints(out.keypoints, out.keypoint_format, "coco17")
        match_image(result, image, out.boxes, out.scores, keypoints)
    return result, 1000 * seconds / max(len(images), 1)

"""Optional ultralytics backend: any ultralytics detection model for people, or a YOLO-pose model that
gives boxes and COCO-17 keypoints in one pass.

Install with ``pip install kprtrack[ultralytics]``. ``ultralytics`` is imported only when an
:class:`UltralyticsDetector` is created, with ``YOLO_OFFLINE=1`` set beforehand (unless the caller set
it). Weights are never downloaded: a ``.pt`` path must exist locally; ``*.yaml`` model definitions
(e.g. ``yolo11n.yaml``, ``yolo11n-pose.yaml``) build untrained models offline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kprtrack.boxes import iou_matrix
from kprtrack.structures import check_image


def _import_yolo() -> Any:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    try:
        from ultralytics import YOLO
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the ultralytics backend needs the 'ultralytics' package: pip install 'kprtrack[ultralytics]'"
        ) from exc
    return YOLO


class UltralyticsDetector:
    """People detection (and one-pass pose) with an ultralytics model.

    Implements :class:`kprtrack.stages.Detector`; with a pose model also
    :class:`kprtrack.stages.PoseEstimator` (``estimate`` returns the keypoints of the pose-model person
    that best overlaps each given box).

    Args:
        model: a local ``.pt`` file, a model YAML name/path, or an ``ultralytics.YOLO`` object.
        conf_threshold: minimum confidence.
        iou_threshold: NMS IoU.
        classes: class ids to keep (``(0,)``: person in COCO and pose models); ``None`` = all.
        imgsz: inference size.
        device: ``cpu``, ``cuda``, ``cuda:0``...
        half: float16 inference (CUDA only).
        min_match_iou: ``estimate`` gives zeros to boxes overlapping no pose detection by at least this.

    Raises:
        FileNotFoundError: ``model`` names a weights file that does not exist (no download is attempted).
    """

    keypoint_format = "coco17"

    def __init__(
        self,
        model: str | os.PathLike[str] | Any = "yolo11n.yaml",
        conf_threshold: float = 0.1,
        iou_threshold: float = 0.45,
        classes: Sequence[int] | None = (0,),
        imgsz: int = 640,
        device: str = "cpu",
        half: bool = False,
        min_match_iou: float = 0.3,
    ) -> None:
        if isinstance(model, (str, os.PathLike)):
            path = Path(model)
            if path.suffix not in (".yaml", ".yml") and not path.is_file():
                raise FileNotFoundError(
                    f"ultralytics weights not found: {path} (kprtrack never downloads weights; "
                    "pass a local file or a model YAML such as 'yolo11n.yaml')"
                )
            model = _import_yolo()(str(model))
        if half and not str(device).startswith("cuda"):
            raise ValueError(f"half=True needs a CUDA device, got device={device!r}")
        self.model = model
        self.conf_threshold = float(conf_threshold)
        self.iou_threshold = float(iou_threshold)
        self.classes = None if classes is None else [int(c) for c in classes]
        self.imgsz = int(imgsz)
        self.device = device
        self.half = bool(half)
        self.min_match_iou = float(min_match_iou)
        # frames of the last call and their results, so that ``estimate`` after ``detect`` on the same
        # frame objects costs no second pass (matched by identity, never by content).
        self._cache: list[tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray | None]]] = []

    @property
    def is_pose(self) -> bool:
        """Whether the model predicts keypoints."""
        return getattr(self.model, "task", None) == "pose"

    def _predict(self, frames: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        out: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = [None] * len(frames)  # type: ignore[list-item]
        todo = []
        for i, frame in enumerate(frames):
            check_image(frame, f"frames[{i}]")
            if frame.size == 0:  # no rows or no columns
                kps = np.zeros((0, 17, 3), np.float32) if self.is_pose else None
                out[i] = (np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), kps)
            else:
                todo.append(i)
        if todo:
            # ultralytics reads numpy images as BGR (OpenCV order); pipeline frames are RGB.
            bgr = [np.ascontiguousarray(frames[i][:, :, ::-1]) for i in todo]
            results = self.model.predict(
                bgr,
                conf=self.conf_threshold,
                iou=self.iou_threshold,
                classes=self.classes,
                imgsz=self.imgsz,
                device=self.device,
                half=self.half,
                verbose=False,
            )
            for i, res in zip(todo, results):
                boxes = res.boxes.xyxy.detach().cpu().numpy().astype(np.float32).reshape(-1, 4)
                scores = res.boxes.conf.detach().cpu().numpy().astype(np.float32).reshape(-1)
                kps = None
                if self.is_pose:
                    kps = res.keypoints.data.detach().cpu().numpy().astype(np.float32).reshape(-1, 17, 3)
                order = np.argsort(-scores, kind="stable")
                out[i] = (boxes[order], scores[order], None if kps is None else kps[order])
        self._cache = list(zip(frames, out)) if self.is_pose else []
        return out

    def detect(self, frames: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """People in RGB frames: per frame ``(boxes (N, 4) float32 xyxy, scores (N,) float32)``."""
        return [(b, s) for b, s, _ in self._predict(frames)]

    def detect_pose(self, frames: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Boxes, scores and COCO-17 keypoints ``(N, 17, 3)`` in one pass (pose models only)."""
        if not self.is_pose:
            raise ValueError("detect_pose needs a pose model (task 'pose'), e.g. 'yolo11n-pose.pt'")
        return self._predict(frames)  # type: ignore[return-value]

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Keypoints for given boxes: those of the best-overlapping pose detection (zeros if none).

        Reuses the result of the last :meth:`detect` / :meth:`detect_pose` call when ``frame`` is one of
        the same array objects, so a pipeline calling ``detect`` then ``estimate`` runs the model once.

        Returns:
            ``(N, 17, 3)`` float32 in frame pixels, COCO-17 order.
        """
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        if not self.is_pose:
            raise ValueError("estimate needs a pose model (task 'pose'), e.g. 'yolo11n-pose.pt'")
        cached = [res for f, res in self._cache if f is frame]
        det_boxes, _, det_kps = cached[0] if cached else self.detect_pose([frame])[0]
        out = np.zeros((boxes.shape[0], 17, 3), dtype=np.float32)
        if boxes.shape[0] == 0 or det_boxes.shape[0] == 0:
            return out
        iou = iou_matrix(boxes, det_boxes)
        best = iou.argmax(axis=1)
        ok = iou[np.arange(boxes.shape[0]), best] >= self.min_match_iou
        out[ok] = det_kps[best[ok]]
        return out

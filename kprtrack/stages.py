"""The interfaces of the pipeline's stages.

Every backend (native YOLOX/HRNet/KPR, ultralytics, mmpose, oracles used in tests) implements
one of these protocols, so the pipeline can swap them through configuration; a backend's builder
registers it under a ``kind`` in :mod:`kprtrack.registry`.

Conventions shared by all stages:

* frames are ``(H, W, 3)`` uint8 arrays in **RGB** order (convert with
  ``cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)`` after ``cv2`` decoding);
* boxes are ``(N, 4)`` float32 ``x1, y1, x2, y2`` in the pixels of the frame given;
* keypoints are ``(N, 17, 3)`` float32 ``x, y, confidence`` in frame pixels, in the convention
  the stage declares in ``keypoint_format``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from kprtrack.structures import FrameRecord


@runtime_checkable
class Detector(Protocol):
    """Finds people in frames."""

    def detect(self, frames: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Detect people in a batch of frames.

        Args:
            frames: ``B`` RGB uint8 frames ``(H, W, 3)`` (sizes may differ).

        Returns:
            One ``(boxes (N, 4) float32 xyxy, scores (N,) float32)`` pair per frame.
        """
        ...


@runtime_checkable
class PoseEstimator(Protocol):
    """Estimates one 17-joint pose per person box (top-down)."""

    keypoint_format: str

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Estimate the poses of all boxes of one frame, as one batch.

        Args:
            frame: RGB uint8 ``(H, W, 3)``.
            boxes: ``(N, 4)`` float32 xyxy.

        Returns:
            ``(N, 17, 3)`` float32 ``x, y, score`` in frame pixels.
        """
        ...


@runtime_checkable
class Embedder(Protocol):
    """Describes each person by part embeddings and their visibility (re-identification)."""

    def embed(
        self,
        frame: np.ndarray,
        boxes: np.ndarray,
        keypoints: np.ndarray,
        negatives: Sequence[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Embed all people of one frame in one batch.

        Args:
            frame: RGB uint8 ``(H, W, 3)``.
            boxes: ``(N, 4)`` float32 xyxy.
            keypoints: ``(N, 17, 3)`` positive keypoints of each person, frame pixels.
            negatives: per person an ``(n_i, 17, 3)`` array of the other people's keypoints inside
                its box (frame pixels), or ``None`` to select them automatically.

        Returns:
            ``embeddings (N, P, D)`` float32 and ``visibility (N, P)`` bool.
        """
        ...


@runtime_checkable
class Tracker(Protocol):
    """Links the people of successive frames (assigns track ids)."""

    def update(self, record: FrameRecord) -> FrameRecord:
        """Associate one frame's detections with the tracks.

        Args:
            record: the frame's detections (boxes, scores, keypoints, and embeddings when the tracker
                uses appearance), rows in detector order.

        Returns:
            The same rows, in the same order, with ``track_ids`` set (``-1``: untracked).
        """
        ...

    def reset(self) -> None:
        """Forget every track (call between videos)."""
        ...


@runtime_checkable
class FrameObserver(Protocol):
    """Optional hook of a stage that needs to know which frame comes next (e.g. ground-truth oracles)."""

    def on_frame(self, index: int) -> None:
        """Called by the pipeline with each frame's index before any stage runs on it."""
        ...

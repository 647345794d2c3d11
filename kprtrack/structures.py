"""The per-frame record that flows through the pipeline.

One :class:`FrameRecord` holds the ``N`` people of one frame as aligned numpy arrays. Every
stage returns a new record (records are frozen); row ``i`` of every field always describes the
same detection, from the detector through the tracker to the writers, so no stage ever has to
re-match boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from kprtrack.keypoints import check_convention

_OPTIONAL = ("embeddings", "visibility", "track_ids")


def check_image(image: Any, name: str = "frame") -> np.ndarray:
    """``image`` itself if it is a uint8 ``(H, W, 3)`` array (any size, empty included).

    Raises:
        ValueError: naming ``name``, with the type or dtype and shape found.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{name}: expected a uint8 (H, W, 3) array, got {desc}")
    return image


def _as_array(name: str, value: Any, dtype: np.dtype | type) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"FrameRecord.{name}: cannot convert to {np.dtype(dtype).name}: {exc}") from exc
    arr = np.array(arr, copy=True)  # own the memory: callers cannot mutate a record behind its back
    arr.setflags(write=False)
    return arr


def _check_shape(name: str, arr: np.ndarray, expected: tuple[int | None, ...], text: str) -> None:
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape))
    if not ok:
        raise ValueError(f"FrameRecord.{name}: expected shape {text}, got {tuple(arr.shape)}")


@dataclass(frozen=True, eq=False)
class FrameRecord:
    """The people detected in one frame, as aligned arrays.

    Attributes:
        boxes: ``(N, 4)`` float32 boxes ``x1, y1, x2, y2`` in image pixels (``x2 >= x1``, ``y2 >= y1``).
        scores: ``(N,)`` float32 detection confidences.
        keypoints: ``(N, 17, 3)`` float32 ``x, y, confidence`` in image pixels, in the order
            named by ``keypoint_format``; zeros when no pose was estimated.
        embeddings: optional ``(N, P, D)`` float32 re-identification features (for KPR, ``P = K + 1``:
            foreground then the K parts).
        visibility: optional ``(N, P)`` bool visibility of each embedding entry.
        track_ids: optional ``(N,)`` int64 track ids; ``-1`` for rows not assigned to a track.
        frame_index: index of the frame in its video (0-based).
        keypoint_format: keypoint convention of ``keypoints`` (``coco17`` or ``posetrack21``).

    Raises:
        ValueError: if a field has the wrong shape, a non-finite value or inconsistent length; the
            message names the field and the expected shape.
    """

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray
    embeddings: np.ndarray | None = None
    visibility: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    frame_index: int = 0
    keypoint_format: str = "coco17"

    def __post_init__(self) -> None:
        boxes = _as_array("boxes", self.boxes, np.float32)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        _check_shape("boxes", boxes, (None, 4), "(N, 4)")
        n = boxes.shape[0]
        scores = _as_array("scores", self.scores, np.float32)
        if scores.size == 0:
            scores = scores.reshape(0)
        _check_shape("scores", scores, (n,), f"(N,) with N={n}")
        keypoints = _as_array("keypoints", self.keypoints, np.float32)
        if keypoints.size == 0 and n == 0:
            keypoints = keypoints.reshape(0, 17, 3)
        _check_shape("keypoints", keypoints, (n, 17, 3), f"(N, 17, 3) with N={n}")
        for name, arr in (("boxes", boxes), ("scores", scores), ("keypoints", keypoints)):
            if not np.isfinite(arr).all():
                raise ValueError(f"FrameRecord.{name}: contains NaN or inf")
        if n and (np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1])):
            raise ValueError("FrameRecord.boxes: expected x1 <= x2 and y1 <= y2 (xyxy format)")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "keypoints", keypoints)

        if self.embeddings is not None:
            emb = _as_array("embeddings", self.embeddings, np.float32)
            _check_shape("embeddings", emb, (n, None, None), f"(N, P, D) with N={n}")
            object.__setattr__(self, "embeddings", emb)
        if self.visibility is not None:
            vis = _as_array("visibility", self.visibility, bool)
            p = self.embeddings.shape[1] if self.embeddings is not None else None
            _check_shape("visibility", vis, (n, p), f"(N, P) with N={n}" + (f", P={p}" if p else ""))
            object.__setattr__(self, "visibility", vis)
        if self.track_ids is not None:
            raw = np.asarray(self.track_ids)
            if raw.size and not np.issubdtype(raw.dtype, np.integer):
                if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
                    raise ValueError("FrameRecord.track_ids: expected integer ids")
            ids = _as_array("track_ids", raw, np.int64)
            if ids.size == 0:
                ids = ids.reshape(0)
            _check_shape("track_ids", ids, (n,), f"(N,) with N={n}")
            object.__setattr__(self, "track_ids", ids)
        if not isinstance(self.frame_index, (int, np.integer)) or self.frame_index < 0:
            raise ValueError(f"FrameRecord.frame_index: expected a non-negative int, got {self.frame_index!r}")
        object.__setattr__(self, "frame_index", int(self.frame_index))
        check_convention(self.keypoint_format)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def empty(cls, frame_index: int = 0, keypoint_format: str = "coco17") -> FrameRecord:
        """A record with no people."""
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            keypoints=np.zeros((0, 17, 3), np.float32),
            frame_index=frame_index,
            keypoint_format=keypoint_format,
        )

    @classmethod
    def from_boxes(
        cls, boxes: np.ndarray, scores: np.ndarray, frame_index: int = 0, keypoint_format: str = "coco17"
    ) -> FrameRecord:
        """A record with boxes and scores and all-zero (absent) keypoints."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        return cls(
            boxes=boxes,
            scores=scores,
            keypoints=np.zeros((len(boxes), 17, 3), np.float32),
            frame_index=frame_index,
            keypoint_format=keypoint_format,
        )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def __getitem__(self, index: Any) -> FrameRecord:
        """Select rows by boolean mask, integer array, slice or int; all fields stay aligned."""
        if isinstance(index, (int, np.integer)):
            index = np.array([index])
        elif not isinstance(index, slice):
            index = np.asarray(index)
            if index.dtype == bool:
                if index.shape != (len(self),):
                    raise IndexError(f"boolean mask must have shape ({len(self)},), got {index.shape}")
            elif index.size == 0:
                index = index.astype(np.int64)
            elif not np.issubdtype(index.dtype, np.integer):
                raise IndexError(f"index must be a boolean mask or integer array, got dtype {index.dtype}")
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = value[index] if isinstance(value, np.ndarray) else value
        return FrameRecord(**values)

    def with_keypoints(self, keypoints: np.ndarray, keypoint_format: str | None = None) -> FrameRecord:
        """Return a copy with new ``(N, 17, 3)`` keypoints (and optionally another convention)."""
        return replace(self, keypoints=keypoints, keypoint_format=keypoint_format or self.keypoint_format)

    def with_embeddings(self, embeddings: np.ndarray, visibility: np.ndarray) -> FrameRecord:
        """Return a copy with ``(N, P, D)`` embeddings and ``(N, P)`` visibility."""
        return replace(self, embeddings=embeddings, visibility=visibility)

    def with_track_ids(self, track_ids: np.ndarray) -> FrameRecord:
        """Return a copy with ``(N,)`` track ids (``-1`` = untracked)."""
        return replace(self, track_ids=track_ids)

    def with_scores(self, scores: np.ndarray) -> FrameRecord:
        """Return a copy with new ``(N,)`` scores."""
        return replace(self, scores=scores)

    @property
    def tracked(self) -> FrameRecord:
        """Rows that carry a track id (``track_ids >= 0``); empty if no ids are set."""
        if self.track_ids is None:
            return self[np.zeros(len(self), bool)]
        return self[self.track_ids >= 0]

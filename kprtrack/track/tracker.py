"""KPRTrack: ByteTrack's lifecycle on the KPR part-based appearance distance (optional motion cue)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from kprtrack.structures import FrameRecord
from kprtrack.track.association import FORBIDDEN
from kprtrack.track.base import BaseTracker
from kprtrack.track.config import KPRTrackerConfig
from kprtrack.track.costs import iou_matrix, kpr_tracking_distance, oks_matrix
from kprtrack.track.memory import PartMemory, l2_normalize, update_memories
from kprtrack.track.state import IdCounter, Track, TrackState


class KPRTracker(BaseTracker):
    """Online tracker matching people by their KPR part embeddings.

    The cost of a track and a detection is the KPR tracking distance (half the reference part-based
    distance, in ``[0, 1]``) between the track's part memory (see :mod:`kprtrack.track.memory`) and the
    detection's embeddings; pairs without any mutually visible entry are never matched. With
    ``config.motion`` set to ``iou`` or ``oks``, a box Kalman filter predicts each track and the motion
    similarity shrinks the cost (``kpr * (1 - motion_weight * sim)``) and, for currently tracked tracks,
    gates it (``sim < motion_gate`` forbids the pair).

    Args:
        config: a :class:`~kprtrack.track.config.KPRTrackerConfig` (defaults if ``None``).
        frame_rate: frames per second of the video; scales ``track_buffer``.
        id_counter: source of public ids (a new one starting at 1 by default).

    Example:
        >>> tracker = KPRTracker(frame_rate=25)
        >>> for record in records:  # FrameRecords with embeddings (N, P, D) and visibility (N, P)
        ...     record = tracker.update(record)  # record.track_ids: (N,), -1 = untracked
    """

    config_class: ClassVar[type[KPRTrackerConfig]] = KPRTrackerConfig
    config: KPRTrackerConfig

    def __init__(
        self, config: KPRTrackerConfig | None = None, frame_rate: float = 30.0, id_counter: IdCounter | None = None
    ) -> None:
        super().__init__(config, frame_rate, id_counter)
        self.uses_kalman = self.config.motion != "none"
        self._shape: tuple[int, int] | None = None  # (P, D) of the embeddings seen so far

    def _reset_variant(self) -> None:
        self._shape = None

    def _validate(self, record: FrameRecord) -> None:
        name = type(self).__name__
        if len(record) == 0:
            return
        if record.embeddings is None or record.visibility is None:
            raise ValueError(
                f"{name}.update: the record has no embeddings/visibility; run the re-identification stage "
                "(Embedder) first"
            )
        shape = record.embeddings.shape[1:]
        if self._shape is not None and shape != self._shape:
            raise ValueError(
                f"{name}.update: embeddings have shape (N, P, D) = (N, {shape[0]}, {shape[1]}) but earlier frames "
                f"had (N, {self._shape[0]}, {self._shape[1]}); call reset() before changing the re-id model"
            )
        if not np.isfinite(record.embeddings).all():
            raise ValueError(f"{name}.update: FrameRecord.embeddings contains NaN or inf")
        self._shape = (int(shape[0]), int(shape[1]))

    def _prepare(self, record: FrameRecord) -> np.ndarray | None:
        """``(N, P, D)`` L2-normalised detection embeddings (``None`` for an empty frame)."""
        if len(record) == 0:
            return None
        return l2_normalize(record.embeddings)

    def _cost_matrix(self, tracks: list[Track], record: FrameRecord, frame_data: Any) -> np.ndarray:
        n = len(record)
        if not tracks or n == 0:
            return np.zeros((len(tracks), n), np.float64)
        track_emb = np.stack([t.memory.normalized for t in tracks])
        track_vis = np.stack([t.memory.visibility for t in tracks])
        dist, has_common = kpr_tracking_distance(track_emb, track_vis, frame_data, record.visibility, normalized=True)
        cost = dist.astype(np.float64)
        if self.uses_kalman:
            sim = self._motion_similarity(tracks, record)
            cost *= 1.0 - self.config.motion_weight * sim
            tracked = np.array([t.state is TrackState.TRACKED for t in tracks])
            cost[tracked[:, None] & (sim < self.config.motion_gate)] = FORBIDDEN
        cost[~has_common] = FORBIDDEN
        return cost

    def _motion_similarity(self, tracks: list[Track], record: FrameRecord) -> np.ndarray:
        """``(T, N)`` IoU (or OKS) between each track's prediction and each detection."""
        predicted = self._boxes(tracks)
        if self.config.motion == "iou":
            return iou_matrix(predicted, record.boxes)
        last_boxes = np.stack([t.box for t in tracks])
        keypoints = _move_keypoints(np.stack([t.keypoints for t in tracks]), last_boxes, predicted)
        return oks_matrix(keypoints, predicted, record.keypoints, record.boxes)

    def _init_variant(self, track: Track, record: FrameRecord, row: int, frame_data: Any) -> None:
        track.memory = PartMemory(frame_data[row], record.visibility[row], self.config.ema_alpha)

    def _update_variant(self, tracks: list[Track], record: FrameRecord, rows: np.ndarray, frame_data: Any) -> None:
        update_memories([t.memory for t in tracks], frame_data[rows], record.visibility[rows])


def _move_keypoints(keypoints: np.ndarray, boxes: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Map ``(M, 17, 3)`` keypoints from their ``(M, 4)`` boxes to the ``(M, 4)`` predicted boxes.

    Shifts by the change of box center and scales by the change of box size; confidences are kept.
    """
    out = np.array(keypoints, np.float64, copy=True)
    boxes = np.asarray(boxes, np.float64)
    predicted = np.asarray(predicted, np.float64)
    src_c = (boxes[:, None, :2] + boxes[:, None, 2:]) / 2
    dst_c = (predicted[:, None, :2] + predicted[:, None, 2:]) / 2
    src_wh = np.maximum(boxes[:, None, 2:] - boxes[:, None, :2], 1e-6)
    scale = (predicted[:, None, 2:] - predicted[:, None, :2]) / src_wh
    out[..., :2] = (out[..., :2] - src_c) * scale + dst_c
    return out

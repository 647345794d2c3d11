"""The IoU-only ByteTrack baseline: same lifecycle as KPRTrack, cost ``1 - IoU`` on Kalman-predicted boxes."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from kprtrack.structures import FrameRecord
from kprtrack.track.association import Pass
from kprtrack.track.base import BaseTracker
from kprtrack.track.config import ByteTrackIoUConfig
from kprtrack.track.costs import iou_matrix
from kprtrack.track.state import Track


class ByteTrackIoU(BaseTracker):
    """ByteTrack without appearance, for comparison experiments (ignores embeddings).

    Args:
        config: a :class:`~kprtrack.track.config.ByteTrackIoUConfig` (defaults if ``None``).
        frame_rate: frames per second of the video; scales ``track_buffer``.
        id_counter: source of public ids (a new one starting at 1 by default).
    """

    config_class: ClassVar[type[ByteTrackIoUConfig]] = ByteTrackIoUConfig
    config: ByteTrackIoUConfig
    uses_kalman = True

    def _cost_matrix(self, tracks: list[Track], record: FrameRecord, frame_data: Any) -> np.ndarray:
        return 1.0 - iou_matrix(self._boxes(tracks), record.boxes)

    def _pass_cost(self, step: Pass, cost: np.ndarray, rows: np.ndarray, record: FrameRecord) -> np.ndarray:
        if self.config.fuse_score and step in (Pass.HIGH, Pass.UNCONFIRMED):
            return 1.0 - (1.0 - cost) * record.scores[rows].astype(np.float64)[None, :]
        return cost

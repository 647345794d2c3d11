"""Track states, the id counter and the per-track record the trackers keep."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from kprtrack.track.kalman import BoxKalmanState
from kprtrack.track.memory import PartMemory


class TrackState(Enum):
    """Lifecycle of a track.

    ``NEW``: created from an unmatched detection, not confirmed yet (no public id).
    ``TRACKED``: confirmed and matched in the latest frame.
    ``LOST``: confirmed, not matched in the latest frame; kept for re-identification.
    ``REMOVED``: dropped (unconfirmed and missed, or lost for too long); no longer stored.
    """

    NEW = "new"
    TRACKED = "tracked"
    LOST = "lost"
    REMOVED = "removed"


class IdCounter:
    """Hands out track ids ``start, start + 1, ...``; inject one to share ids between trackers.

    Args:
        start: the first id (default 1).
    """

    def __init__(self, start: int = 1) -> None:
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"IdCounter.start: expected a non-negative integer, got {start!r}")
        self.start = start
        self._next = start

    def __call__(self) -> int:
        """Return a fresh id."""
        value = self._next
        self._next += 1
        return value

    def reset(self) -> None:
        """Start again from ``start``."""
        self._next = self.start

    @property
    def issued(self) -> int:
        """How many ids were handed out since construction or the last reset."""
        return self._next - self.start


@dataclass(eq=False)
class Track:
    """One tracklet.

    Attributes:
        key: internal serial number (unique within its tracker, also for unconfirmed tracks).
        state: lifecycle state.
        box: ``(4,)`` float32 xyxy box of the latest matched detection.
        keypoints: ``(17, 3)`` keypoints of the latest matched detection.
        score: score of the latest matched detection.
        start_frame: tracker frame number (1-based) of creation.
        last_frame: tracker frame number of the latest match.
        hits: matched frames in a row while unconfirmed; total matched frames once confirmed.
        track_id: public id, ``-1`` until the track is confirmed.
        memory: part-appearance memory (KPR tracker) or ``None``.
        kalman: box Kalman state (motion cue / IoU tracker) or ``None``.
    """

    key: int
    state: TrackState
    box: np.ndarray
    keypoints: np.ndarray
    score: float
    start_frame: int
    last_frame: int
    hits: int = 1
    track_id: int = -1
    memory: PartMemory | None = None
    kalman: BoxKalmanState | None = field(default=None, repr=False)

    @property
    def confirmed(self) -> bool:
        """Whether the track has a public id."""
        return self.track_id >= 0

    @property
    def age(self) -> int:
        """Frames since creation (``last_frame - start_frame``)."""
        return self.last_frame - self.start_frame

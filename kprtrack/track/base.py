"""ByteTrack's tracklet lifecycle and multi-pass association, independent of the cost used.

A variant (:class:`kprtrack.track.KPRTracker`, :class:`kprtrack.track.ByteTrackIoU`) only says how to
cost tracks against detections and what to remember per track. Each call of :meth:`BaseTracker.update`
is one frame:

1. ``HIGH``: detections with ``score >= high_thresh`` vs tracked and lost (confirmed) tracks;
2. ``LOW``: detections with ``low_thresh <= score < high_thresh`` vs the tracked tracks still unmatched;
   tracked tracks left unmatched become lost;
3. ``UNCONFIRMED``: new (unconfirmed) tracks vs the high detections left; unmatched new tracks are removed;
4. ``NEW``: high detections still left with ``score >= new_track_thresh`` start new tracks;

then lost tracks older than the buffer are removed (and, if configured, duplicates). Removed tracks are
dropped at once, so the stored tracks are bounded by the people seen within the buffer.
"""

from __future__ import annotations

import itertools
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from kprtrack.structures import FrameRecord
from kprtrack.track import kalman
from kprtrack.track.association import Pass, linear_assignment
from kprtrack.track.config import TrackerConfig
from kprtrack.track.costs import iou_matrix
from kprtrack.track.state import IdCounter, Track, TrackState


def _indices(tracks: list[Track], *states: TrackState) -> np.ndarray:
    """``(M,)`` int indices of the ``tracks`` in one of ``states``."""
    return np.array([i for i, t in enumerate(tracks) if t.state in states], int)


@dataclass
class _Frame:
    """What the steps of one :meth:`BaseTracker.update` share.

    Attributes:
        record: the frame's detections.
        tracks: the tracks stored at the start of the frame (indices refer to this list).
        cost: ``(T, N)`` cost of every stored track vs every row.
        frame_data: the variant's per-frame data (:meth:`BaseTracker._prepare`).
        matched: stored-track index -> row, in the order the passes matched them (new tracks appended).
    """

    record: FrameRecord
    tracks: list[Track]
    cost: np.ndarray
    frame_data: Any
    matched: dict[int, int] = field(default_factory=dict)


class BaseTracker(ABC):
    """Online multi-person tracker with ByteTrack's lifecycle; subclasses define the cost.

    Args:
        config: the variant's config dataclass (defaults if ``None``).
        frame_rate: frames per second of the video; scales ``track_buffer``.
        id_counter: where public track ids come from; by default a new counter per tracker, so ids are
            ``1, 2, ...`` for every tracker instance. Pass one shared counter to several trackers to get
            ids unique across them.

    Raises:
        TypeError: if ``config`` is not an instance of the variant's config class.
        ValueError: if ``frame_rate`` is not positive.
    """

    config_class: ClassVar[type[TrackerConfig]] = TrackerConfig
    #: Whether the variant keeps a box Kalman filter per track.
    uses_kalman: bool = False

    def __init__(
        self, config: TrackerConfig | None = None, frame_rate: float = 30.0, id_counter: IdCounter | None = None
    ) -> None:
        if config is None:
            config = self.config_class()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__}: expected a {self.config_class.__name__}, got {type(config).__name__}"
            )
        if id_counter is not None and not isinstance(id_counter, IdCounter):
            raise TypeError(f"{type(self).__name__}: id_counter must be an IdCounter, got {type(id_counter).__name__}")
        self._check_frame_rate(frame_rate)
        self.config = config
        self.id_counter = id_counter if id_counter is not None else IdCounter()
        self.frame_rate = float(frame_rate)
        self.max_time_lost = config.max_time_lost(self.frame_rate)
        self._tracks: list[Track] = []
        self._frame = 0
        self._last_frame_index = -1
        self._keys = itertools.count()

    # ------------------------------------------------------------------ public API
    @property
    def tracks(self) -> list[Track]:
        """Every stored track (new, tracked and lost), oldest first. Do not modify."""
        return list(self._tracks)

    @property
    def frame_count(self) -> int:
        """Frames processed since construction or the last :meth:`reset`."""
        return self._frame

    def reset(self, frame_rate: float | None = None) -> None:
        """Forget every track and restart ids at the counter's start (call before each new video).

        Args:
            frame_rate: the new video's frame rate; keeps the current one if ``None``.
        """
        if frame_rate is not None:
            self._check_frame_rate(frame_rate)
            self.max_time_lost = self.config.max_time_lost(frame_rate)
            self.frame_rate = float(frame_rate)
        self._tracks = []
        self._frame = 0
        self._last_frame_index = -1
        self._keys = itertools.count()
        self.id_counter.reset()
        self._reset_variant()

    def update(self, record: FrameRecord) -> FrameRecord:
        """Track the people of the next frame.

        Args:
            record: the frame's detections (``N`` rows); the variant says which optional fields it needs.

        Returns:
            A copy of ``record`` with ``track_ids`` ``(N,)`` set for every row, in the input order: the id of
            the confirmed track the row was matched to, else ``-1``.

        Raises:
            TypeError: if ``record`` is not a :class:`~kprtrack.structures.FrameRecord`.
            ValueError: if the record lacks a field the variant needs, its shapes disagree with earlier
                frames, or its ``frame_index`` went backwards without :meth:`reset`.
        """
        self._start_frame(record)
        frame_data = self._prepare(record)
        tracks = self._tracks
        if self.uses_kalman and tracks:
            kalman.predict([t.kalman for t in tracks], [t.state is not TrackState.TRACKED for t in tracks])
        cost = self._cost_matrix(tracks, record, frame_data)  # (T, N), all stored tracks vs all rows
        frame = _Frame(record, tracks, cost, frame_data)
        cfg = self.config
        high = np.flatnonzero(record.scores >= cfg.high_thresh)
        low = np.flatnonzero((record.scores >= cfg.low_thresh) & (record.scores < cfg.high_thresh))

        unmatched_pool, high_left = self._pass_high(frame, high)
        self._pass_low(frame, unmatched_pool, low)
        high_left = self._pass_unconfirmed(frame, high_left)
        self._apply_matches(frame)
        tracks = tracks + self._start_tracks(frame, high_left)
        self._retire(tracks)

        track_ids = np.full(len(record), -1, np.int64)
        for i, row in frame.matched.items():
            if tracks[i].state is TrackState.TRACKED:
                track_ids[row] = tracks[i].track_id
        self._tracks = [t for t in tracks if t.state is not TrackState.REMOVED]
        return record.with_track_ids(track_ids)

    def _start_frame(self, record: FrameRecord) -> None:
        """Check ``record`` (type, frame order, what the variant needs) and count the frame."""
        if not isinstance(record, FrameRecord):
            raise TypeError(f"{type(self).__name__}.update: expected a FrameRecord, got {type(record).__name__}")
        if record.frame_index < self._last_frame_index:
            raise ValueError(
                f"{type(self).__name__}.update: frame_index went backwards ({self._last_frame_index} -> "
                f"{record.frame_index}); call reset() before tracking a new video"
            )
        self._validate(record)
        self._last_frame_index = record.frame_index
        self._frame += 1

    def _check_frame_rate(self, frame_rate: float) -> None:
        if isinstance(frame_rate, bool) or not isinstance(frame_rate, numbers.Real) or not frame_rate > 0:
            raise ValueError(f"{type(self).__name__}: frame_rate must be a positive number, got {frame_rate!r}")

    # ------------------------------------------------------------------ association passes
    def _pass_high(self, frame: _Frame, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """1. High-confidence detections vs tracked and lost tracks.

        Returns:
            The indices of the tracked / lost tracks left unmatched, and the high rows left.
        """
        pool = _indices(frame.tracks, TrackState.TRACKED, TrackState.LOST)
        rest_pool, rest_high = self._associate(Pass.HIGH, frame, pool, high)
        return pool[rest_pool], high[rest_high]

    def _pass_low(self, frame: _Frame, unmatched: np.ndarray, low: np.ndarray) -> None:
        """2. Low-confidence detections vs the tracked tracks still unmatched; those left become lost."""
        still_tracked = np.array([i for i in unmatched if frame.tracks[i].state is TrackState.TRACKED], int)
        rest_tracked, _ = self._associate(Pass.LOW, frame, still_tracked, low)
        for i in still_tracked[rest_tracked]:
            frame.tracks[i].state = TrackState.LOST

    def _pass_unconfirmed(self, frame: _Frame, high_left: np.ndarray) -> np.ndarray:
        """3. Unconfirmed (new) tracks vs the high-confidence rows left; new tracks left unmatched are removed.

        Returns:
            The high rows still left.
        """
        unconfirmed = _indices(frame.tracks, TrackState.NEW)
        rest_new, rest_high = self._associate(Pass.UNCONFIRMED, frame, unconfirmed, high_left)
        for i in unconfirmed[rest_new]:
            frame.tracks[i].state = TrackState.REMOVED
        return high_left[rest_high]

    def _associate(
        self, step: Pass, frame: _Frame, track_idx: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One named pass: match ``track_idx`` against detection ``rows``; the matches go to ``frame.matched``.

        Returns:
            Positions (into ``track_idx`` / ``rows``) left unmatched.
        """
        sub = frame.cost[np.ix_(track_idx, rows)]
        sub = self._pass_cost(step, sub, rows, frame.record)
        pairs, rest_tracks, rest_rows = linear_assignment(sub, self._threshold(step))
        frame.matched.update({int(track_idx[a]): int(rows[b]) for a, b in pairs})
        return rest_tracks, rest_rows

    # ------------------------------------------------------------------ lifecycle steps
    def _apply_matches(self, frame: _Frame) -> None:
        """Update every matched track from its row: lifecycle one by one, Kalman and variant state batched."""
        for i, row in frame.matched.items():
            self._apply_match(frame.tracks[i], frame.record, row)
        if frame.matched:
            updated = [frame.tracks[i] for i in frame.matched]
            rows = np.fromiter(frame.matched.values(), np.int64, len(frame.matched))
            if self.uses_kalman:
                kalman.update([t.kalman for t in updated], frame.record.boxes[rows])
            self._update_variant(updated, frame.record, rows, frame.frame_data)

    def _start_tracks(self, frame: _Frame, high_left: np.ndarray) -> list[Track]:
        """4. New tracks from the high-confidence rows left that score at least ``new_track_thresh``.

        Returns:
            The created tracks; ``frame.matched`` records each at its index after the stored tracks.
        """
        created: list[Track] = []
        for row in high_left:
            if frame.record.scores[row] >= self.config.new_track_thresh:
                created.append(self._create_track(frame.record, int(row), frame.frame_data))
                frame.matched[len(frame.tracks) + len(created) - 1] = int(row)
        return created

    def _retire(self, tracks: list[Track]) -> None:
        """Remove lost tracks older than the buffer, then (if configured) duplicates."""
        for t in tracks:
            if t.state is TrackState.LOST and self._frame - t.last_frame > self.max_time_lost:
                t.state = TrackState.REMOVED
        if self.config.duplicate_iou is not None:
            self._remove_duplicates(tracks, self.config.duplicate_iou)

    def _confirm(self, track: Track) -> None:
        track.track_id = self.id_counter()
        track.state = TrackState.TRACKED

    def _apply_match(self, track: Track, record: FrameRecord, row: int) -> None:
        track.box = record.boxes[row].copy()
        track.keypoints = record.keypoints[row].copy()
        track.score = float(record.scores[row])
        track.last_frame = self._frame
        track.hits += 1
        if track.state is TrackState.NEW:
            if track.hits >= self.config.min_hits:
                self._confirm(track)
        else:
            track.state = TrackState.TRACKED

    def _create_track(self, record: FrameRecord, row: int, frame_data: Any) -> Track:
        box = record.boxes[row].copy()
        track = Track(
            key=next(self._keys),
            state=TrackState.NEW,
            box=box,
            keypoints=record.keypoints[row].copy(),
            score=float(record.scores[row]),
            start_frame=self._frame,
            last_frame=self._frame,
            kalman=kalman.initiate(box) if self.uses_kalman else None,
        )
        self._init_variant(track, record, row, frame_data)
        first = self._frame == 1 and self.config.confirm_on_first_frame
        if first or self.config.min_hits <= 1:
            self._confirm(track)
        return track

    def _remove_duplicates(self, tracks: list[Track], min_iou: float) -> None:
        """ByteTrack's step: a tracked and a lost track overlapping above ``min_iou``: drop the younger."""
        tracked = [t for t in tracks if t.state in (TrackState.TRACKED, TrackState.NEW)]
        lost = [t for t in tracks if t.state is TrackState.LOST]
        if not tracked or not lost:
            return
        iou = iou_matrix(self._boxes(tracked), self._boxes(lost))
        for a, b in zip(*np.nonzero(iou > min_iou)):
            ta, tb = tracked[a], lost[b]
            if ta.state is TrackState.REMOVED or tb.state is TrackState.REMOVED:
                continue
            if ta.age > tb.age:
                tb.state = TrackState.REMOVED
            else:
                ta.state = TrackState.REMOVED

    def _boxes(self, tracks: list[Track]) -> np.ndarray:
        """``(M, 4)`` current boxes: the Kalman mean if the variant has one, else the last matched box."""
        if not tracks:
            return np.zeros((0, 4), np.float32)
        if self.uses_kalman:
            return kalman.boxes([t.kalman for t in tracks])
        return np.stack([t.box for t in tracks])

    def _threshold(self, step: Pass) -> float:
        cfg = self.config
        return {
            Pass.HIGH: cfg.match_thresh,
            Pass.LOW: cfg.low_match_thresh,
            Pass.UNCONFIRMED: cfg.unconfirmed_match_thresh,
        }[step]

    # ------------------------------------------------------------------ variant hooks
    def _validate(self, record: FrameRecord) -> None:  # noqa: B027 - optional hook
        """Raise ``ValueError`` if ``record`` lacks what the variant needs."""

    def _prepare(self, record: FrameRecord) -> Any:
        """Per-frame detection data shared by the cost and the track updates."""
        return None

    @abstractmethod
    def _cost_matrix(self, tracks: list[Track], record: FrameRecord, frame_data: Any) -> np.ndarray:
        """``(T, N)`` cost of every stored track vs every detection row (lower is better)."""

    def _pass_cost(self, step: Pass, cost: np.ndarray, rows: np.ndarray, record: FrameRecord) -> np.ndarray:
        """Adjust the cost sub-matrix of one pass (e.g. fuse the detection scores)."""
        return cost

    def _init_variant(self, track: Track, record: FrameRecord, row: int, frame_data: Any) -> None:  # noqa: B027
        """Set up variant state (e.g. appearance memory) for a track created from ``row``."""

    def _update_variant(  # noqa: B027
        self, tracks: list[Track], record: FrameRecord, rows: np.ndarray, frame_data: Any
    ) -> None:
        """Update variant state of the matched ``tracks`` from their detection ``rows`` (in order)."""

    def _reset_variant(self) -> None:  # noqa: B027
        """Forget variant state on :meth:`reset`."""

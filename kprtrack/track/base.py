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
from typing import Any, ClassVar

import numpy as np

from kprtrack.structures import FrameRecord
from kprtrack.track import kalman
from kprtrack.track.association import Pass, linear_assignment
from kprtrack.track.config import TrackerConfig
from kprtrack.track.costs import iou_matrix
from kprtrack.track.state import IdCounter, Track, TrackState


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
        cfg = self.config
        n = len(record)
        track_ids = np.full(n, -1, np.int64)
        scores = record.scores
        frame_data = self._prepare(record)

        tracks = self._tracks
        if self.uses_kalman and tracks:
            kalman.predict([t.kalman for t in tracks], [t.state is not TrackState.TRACKED for t in tracks])

        high = np.flatnonzero(scores >= cfg.high_thresh)
        low = np.flatnonzero((scores >= cfg.low_thresh) & (scores < cfg.high_thresh))
        pool = np.array([i for i, t in enumerate(tracks) if t.state in (TrackState.TRACKED, TrackState.LOST)], int)
        unconfirmed = np.array([i for i, t in enumerate(tracks) if t.state is TrackState.NEW], int)
        cost = self._cost_matrix(tracks, record, frame_data)  # (T, N), all stored tracks vs all rows
        matched_row: dict[int, int] = {}

        # 1. high-confidence detections vs tracked + lost tracks
        matches, rest_pool, rest_high = self._associate(Pass.HIGH, cost, pool, high, record)
        matched_row.update(matches)
        high_left = high[rest_high]

        # 2. low-confidence detections vs the tracked tracks still unmatched
        still_tracked = np.array([i for i in pool[rest_pool] if tracks[i].state is TrackState.TRACKED], int)
        matches, rest_tracked, _ = self._associate(Pass.LOW, cost, still_tracked, low, record)
        matched_row.update(matches)
        for i in still_tracked[rest_tracked]:
            tracks[i].state = TrackState.LOST

        # 3. unconfirmed tracks vs the remaining high-confidence detections
        matches, rest_new, rest_high = self._associate(Pass.UNCONFIRMED, cost, unconfirmed, high_left, record)
        matched_row.update(matches)
        for i in unconfirmed[rest_new]:
            tracks[i].state = TrackState.REMOVED
        high_left = high_left[rest_high]

        for i, row in matched_row.items():
            self._apply_match(tracks[i], record, row)
        if matched_row:  # batched state updates of every matched track
            updated = [tracks[i] for i in matched_row]
            rows = np.fromiter(matched_row.values(), np.int64, len(matched_row))
            if self.uses_kalman:
                kalman.update([t.kalman for t in updated], record.boxes[rows])
            self._update_variant(updated, record, rows, frame_data)

        # 4. new tracks from the remaining high-confidence detections
        created = []
        for row in high_left:
            if scores[row] >= cfg.new_track_thresh:
                track = self._create_track(record, int(row), frame_data)
                created.append(track)
                matched_row[len(tracks) + len(created) - 1] = int(row)
        tracks = tracks + created

        # lifecycle: drop lost tracks past the buffer, then duplicates
        for t in tracks:
            if t.state is TrackState.LOST and self._frame - t.last_frame > self.max_time_lost:
                t.state = TrackState.REMOVED
        if cfg.duplicate_iou is not None:
            self._remove_duplicates(tracks, cfg.duplicate_iou)

        for i, row in matched_row.items():
            t = tracks[i]
            if t.state is TrackState.TRACKED:
                track_ids[row] = t.track_id
        self._tracks = [t for t in tracks if t.state is not TrackState.REMOVED]
        return record.with_track_ids(track_ids)

    def _check_frame_rate(self, frame_rate: float) -> None:
        if isinstance(frame_rate, bool) or not isinstance(frame_rate, numbers.Real) or not frame_rate > 0:
            raise ValueError(f"{type(self).__name__}: frame_rate must be a positive number, got {frame_rate!r}")

    # ------------------------------------------------------------------ lifecycle steps
    def _associate(
        self, step: Pass, cost: np.ndarray, track_idx: np.ndarray, rows: np.ndarray, record: FrameRecord
    ) -> tuple[dict[int, int], np.ndarray, np.ndarray]:
        """One named pass: match ``track_idx`` against detection ``rows``.

        Returns:
            ``{track index: row}`` matches, and positions (into ``track_idx`` / ``rows``) left unmatched.
        """
        sub = cost[np.ix_(track_idx, rows)]
        sub = self._pass_cost(step, sub, rows, record)
        pairs, rest_tracks, rest_rows = linear_assignment(sub, self._threshold(step))
        return {int(track_idx[a]): int(rows[b]) for a, b in pairs}, rest_tracks, rest_rows

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

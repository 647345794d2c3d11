"""Online re-finding of the queried person, frame by frame: the tracker's ids first, KPR distance to re-find.

Per frame, every detection's **distance** to the person is the smaller of its KPR tracking distance
(:func:`kprtrack.reid.distance.tracking_distance`: half the part-based distance, in ``[0, 1]``) to

* the **query**: the clicked person's embedding, computed with the click prompts, fixed; and
* the **memory**: a per-part moving average of the person's confident detections
  (:class:`kprtrack.track.memory.PartMemory`, the tracker's memory rules), updated only with picks at
  most ``update_distance`` away, so that a wrong pick does not drift it.

Which detection is the person:

1. on the clicked frame, the clicked detection;
2. **following**: the detection that carries the pipeline tracker's id of the last pick, unless its
   distance exceeds ``drop_distance`` (a likely identity switch of the tracker);
3. **re-finding** (the person was absent, or their track ended): the closest detection whose distance is
   at most ``refind_distance``, among detections whose track id is not known to be somebody else.
   Track ids *known to be somebody else* are those seen beside a confident pick of the person (the
   same person is never twice in a frame), and those of people excluded by negative clicks; a
   detection closer to an excluded person than to the target is never picked.

Otherwise the person is absent in the frame (occluded or out of view).

Frames before the clicked frame are processed the same way (the query starts the memory); once the
clicked frame gives the person's track id, :meth:`FollowMatcher.revise` assigns every earlier frame
holding that id to the person (the tracker linked them).

``confidence = 1 - distance`` of the pick, clipped to ``[0, 1]`` (``1`` on the clicked frame): an
uncalibrated score on the embedder's distance scale, documented in README ("Follow this person").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from kprtrack.follow.query import PROMPT_MODES, Query
from kprtrack.follow.result import FollowFrame
from kprtrack.structures import FrameRecord
from kprtrack.track.memory import PartMemory, l2_normalize


@dataclass(frozen=True)
class FollowOptions:
    """How the person is re-found.

    Attributes:
        refind_distance: a detection of an unknown track farther than this is not the person; raising it
            finds the person again sooner after an occlusion, and picks look-alikes more often.
        drop_distance: the followed track is dropped when its detection is farther than this (the
            tracker may have switched identities); raising it trusts the tracker more.
        update_distance: only picks at most this far update the appearance memory; raising it adapts
            faster to pose and lighting changes, at the risk of learning a wrong person.
        ema_alpha: memory momentum (the tracker's ``ema_alpha``).
        prompt_mode: how the clicks become the query's prompt (:data:`kprtrack.follow.query.PROMPT_MODES`).
    """

    refind_distance: float = 0.2
    drop_distance: float = 0.45
    update_distance: float = 0.2
    ema_alpha: float = 0.9
    prompt_mode: str = "clicks+pose"

    def __post_init__(self) -> None:
        for name in ("refind_distance", "drop_distance", "update_distance", "ema_alpha"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name}: expected a value in [0, 1], got {value}")
        if self.prompt_mode not in PROMPT_MODES:
            raise ValueError(f"prompt_mode: expected one of {', '.join(PROMPT_MODES)}, got {self.prompt_mode!r}")

    def to_json(self) -> dict[str, object]:
        """The options as a plain dict."""
        return asdict(self)


def _distances(embeddings: np.ndarray, visibility: np.ndarray, record: FrameRecord) -> np.ndarray:
    """``(M, N)`` KPR tracking distances of ``M`` people to the record's ``N`` detections."""
    from kprtrack.reid.distance import tracking_distance

    return np.asarray(tracking_distance(embeddings, visibility, record.embeddings, record.visibility), np.float64)


@dataclass(frozen=True)
class _Seen:
    """What :meth:`FollowMatcher.revise` needs of a frame before the clicked one."""

    record: FrameRecord
    distance: np.ndarray


class FollowMatcher:
    """Finds the queried person in successive frames (bookkeeping only: no model, no I/O).

    Args:
        query: the clicked person (:func:`kprtrack.follow.query.build_query`).
        options: see :class:`FollowOptions`.
    """

    def __init__(self, query: Query, options: FollowOptions | None = None) -> None:
        self.query = query
        self.options = options or FollowOptions()
        self.memory = self._fresh_memory()
        self.track_id = -1
        self.clicked_track_id = -1
        self.others: set[int] = set()
        self._before_click: list[_Seen] = []
        self._clicked = False

    def _fresh_memory(self) -> PartMemory:
        return PartMemory(l2_normalize(self.query.embeddings), self.query.visibility, self.options.ema_alpha)

    def distances(self, record: FrameRecord) -> np.ndarray:
        """``(N,)`` distance of each detection to the person (the smaller of query and memory distances)."""
        memory = _distances(self.memory.normalized[None], self.memory.visibility[None], record)[0]
        anchor = _distances(self.query.embeddings[None], self.query.visibility[None], record)[0]
        return np.minimum(memory, anchor)

    def _check(self, record: FrameRecord) -> None:
        if record.embeddings is None or record.visibility is None:
            raise ValueError("following needs the detections' embeddings: the pipeline has no appearance embedder")
        if record.embeddings.shape[1:] != self.query.embeddings.shape:
            got, want = record.embeddings.shape[1:], self.query.embeddings.shape
            raise ValueError(f"embeddings of shape {got} do not match the query's {want}")

    def _choose(self, record: FrameRecord, dist: np.ndarray, ids: np.ndarray) -> int | None:
        """Row of the person (following, then re-finding), or ``None``."""
        opts = self.options
        if self.track_id >= 0:
            rows = np.flatnonzero(ids == self.track_id)
            if len(rows) and dist[rows[0]] <= opts.drop_distance:
                return int(rows[0])
        allowed = np.array([int(i) < 0 or int(i) not in self.others for i in ids], bool)
        if len(self.query.excluded_embeddings):
            other = _distances(self.query.excluded_embeddings, self.query.excluded_visibility, record).min(axis=0)
            allowed &= other >= dist
        cost = np.where(allowed, dist, np.inf)
        row = int(np.argmin(cost))
        return row if cost[row] <= opts.refind_distance else None

    def step(self, record: FrameRecord, clicked_row: int | None = None) -> FollowFrame:
        """Find the person in one frame.

        Args:
            record: the frame's detections with ``embeddings``, ``visibility`` and (for following)
                ``track_ids``; frames in increasing order.
            clicked_row: on the clicked frame, the row of the clicked detection: it is the person
                (confidence 1), and the memory restarts from the query.

        Raises:
            ValueError: the record has detections but no embeddings, or embeddings of another shape
                than the query's.
        """
        clicked = clicked_row is not None
        if len(record) == 0:
            self.track_id = -1
            return FollowFrame(record.frame_index, False, clicked=clicked)
        self._check(record)
        dist = self.distances(record)
        ids = record.track_ids if record.track_ids is not None else np.full(len(record), -1, np.int64)
        if not self._clicked and not clicked:
            self._before_click.append(_Seen(replace(record, embeddings=None), dist))  # light: no embeddings
        if clicked:
            self._clicked = True
            self.memory = self._fresh_memory()
            row: int | None = int(clicked_row)
            self.clicked_track_id = int(ids[row])
            self.others.discard(self.clicked_track_id)
        else:
            row = self._choose(record, dist, ids)
        if row is None:
            self.track_id = -1
            return FollowFrame(record.frame_index, False)
        confident = clicked or dist[row] <= self.options.update_distance
        if confident:
            self.others.update(int(i) for k, i in enumerate(ids) if k != row and i >= 0)
            if not clicked:
                self.memory.update(l2_normalize(record.embeddings[row]), record.visibility[row])
        self.track_id = int(ids[row])
        return self._frame(record, row, dist[row], clicked)

    @staticmethod
    def _frame(record: FrameRecord, row: int, distance: float, clicked: bool = False) -> FollowFrame:
        return FollowFrame(
            frame=record.frame_index,
            present=True,
            confidence=1.0 if clicked else float(np.clip(1.0 - distance, 0.0, 1.0)),
            distance=float(distance),
            box=record.boxes[row].copy(),
            keypoints=record.keypoints[row].copy(),
            visibility=record.visibility[row].copy() if record.visibility is not None else None,
            track_id=int(record.track_ids[row]) if record.track_ids is not None else -1,
            row=row,
            clicked=clicked,
        )

    def revise(self, frames: list[FollowFrame]) -> list[FollowFrame]:
        """Frames before the clicked one that hold the clicked track's id become the person's.

        Args:
            frames: this matcher's outputs, in order.

        Returns:
            The same list with those frames replaced (the others unchanged).
        """
        if self.clicked_track_id < 0 or not self._before_click:
            return list(frames)
        by_frame = {seen.record.frame_index: seen for seen in self._before_click}
        out = []
        for f in frames:
            seen = by_frame.get(f.frame)
            ids = seen.record.track_ids if seen is not None else None
            if ids is not None and (ids == self.clicked_track_id).any():
                row = int(np.flatnonzero(ids == self.clicked_track_id)[0])
                f = replace(self._frame(seen.record, row, seen.distance[row]))
            out.append(f)
        return out

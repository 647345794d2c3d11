"""The online tracking pipeline: detect -> pose -> KPR embeddings -> tracker, frame by frame.

Each frame is processed as soon as it is decoded and yields one :class:`FrameRecord`; nothing is
accumulated, so memory does not grow with the video's length. Decoding of the next frames
overlaps with compute through the bounded prefetch queue of :class:`kprtrack.video.FrameSource`;
with ``overlap`` the detection, pose and appearance stages of consecutive frames also run at the
same time, each in a worker thread (:mod:`kprtrack.overlap`), the tracker staying sequential.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kprtrack.stages import Detector, Embedder, FrameObserver, PoseEstimator, Tracker
from kprtrack.structures import FrameRecord

if TYPE_CHECKING:
    from kprtrack.pipeline_config import PipelineConfig
    from kprtrack.video import FrameSource

logger = logging.getLogger(__name__)

STAGES = ("decode", "detect", "pose", "reid", "track")


@dataclass
class StageTimer:
    """Cumulative wall time per stage, in seconds."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0

    def ms_per_frame(self) -> dict[str, float]:
        """Average milliseconds per frame of each stage."""
        n = max(self.frames, 1)
        return {k: 1000 * v / n for k, v in self.seconds.items()}


def check_frame(frame: Any, frame_index: int) -> None:
    """Raise a ``ValueError`` naming the frame unless it is an RGB uint8 ``(H, W, 3)`` array with pixels."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame {frame_index}: expected a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        hint = " (scale to 0..255 and convert with .astype(np.uint8))" if frame.dtype.kind in "fiu" else ""
        raise ValueError(f"frame {frame_index}: expected dtype uint8, got {frame.dtype}{hint}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        hint = ""
        if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 4)):
            hint = " (convert grayscale or RGBA frames to RGB first, e.g. with cv2.cvtColor)"
        elif frame.ndim == 3 and frame.shape[0] == 3:
            hint = " (channels first? use frame.transpose(1, 2, 0))"
        raise ValueError(f"frame {frame_index}: expected an RGB (H, W, 3) frame, got shape {frame.shape}{hint}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"frame {frame_index}: empty frame of shape {frame.shape}")


def detections(output: Any, frame_index: int) -> tuple[np.ndarray, np.ndarray]:
    """A detector's ``(boxes, scores)`` for one frame as ``(N, 4)`` and ``(N,)`` float32, finite rows only.

    Raises:
        ValueError: the arrays do not have those shapes (naming the frame).
    """
    boxes, scores = (np.asarray(a, np.float32) for a in output)
    if boxes.size == 0 and scores.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != (boxes.shape[0],):
        raise ValueError(
            f"frame {frame_index}: the detector returned boxes of shape {boxes.shape} and scores of shape "
            f"{scores.shape}; expected (N, 4) and (N,)"
        )
    finite = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
    if not finite.all():
        logger.warning(
            "frame %d: dropped %d of %d detections with a NaN or infinite box or score",
            frame_index, int((~finite).sum()), len(finite),
        )  # fmt: skip
        boxes, scores = boxes[finite], scores[finite]
    return boxes, scores


class Pipeline:
    """Online multi-person pose tracker.

    Args:
        detector: finds people (:class:`kprtrack.stages.Detector`).
        pose: estimates their keypoints (:class:`kprtrack.stages.PoseEstimator`).
        embedder: KPR re-identification (:class:`kprtrack.stages.Embedder`), or ``None`` for
            trackers that need no appearance (e.g. the IoU baseline).
        tracker: associates detections over time (:class:`kprtrack.stages.Tracker`).
        max_people: keep at most this many highest-scoring detections per frame (bounds compute).
        overlap: default of :meth:`track`'s ``overlap``: run detection, pose and appearance of
            consecutive frames at the same time in worker threads (same records as without).
    """

    def __init__(
        self,
        detector: Detector,
        pose: PoseEstimator,
        embedder: Embedder | None,
        tracker: Tracker,
        max_people: int = 100,
        overlap: bool = False,
    ) -> None:
        self.detector = detector
        self.pose = pose
        self.embedder = embedder
        self.tracker = tracker
        self.max_people = max_people
        self.overlap = overlap
        self.timer = StageTimer()

    @classmethod
    def from_config(
        cls, config: PipelineConfig | str | Path | None = None, overrides: Iterable[str] = (), **kwargs: Any
    ) -> Pipeline:
        """Build the stages named by a config (a :class:`PipelineConfig`, a YAML path or ``None`` for defaults).

        Args:
            config: the configuration.
            overrides: ``key.sub=value`` strings applied on top (like ``--set``).
            **kwargs: extra keyword arguments for :func:`kprtrack.assembly.build_pipeline` (e.g. ``gt_path``
                for oracle stages, ``frame_rate``).
        """
        from kprtrack.assembly import build_pipeline
        from kprtrack.pipeline_config import PipelineConfig, load_pipeline_config

        if not isinstance(config, PipelineConfig):
            config = load_pipeline_config(config, list(overrides))
        elif overrides:
            raise ValueError("overrides apply to a config file or name, not to a PipelineConfig object")
        return build_pipeline(config, **kwargs)

    def reset(self) -> None:
        """Forget all tracks (call between videos)."""
        self.tracker.reset()
        self.timer = StageTimer()

    def _notify(self, index: int) -> None:
        """Tell each distinct stage that observes frames (:class:`~kprtrack.stages.FrameObserver`) the next index."""
        seen = set()
        for stage in (self.detector, self.pose, self.embedder):
            if isinstance(stage, FrameObserver) and id(stage) not in seen:
                stage.on_frame(index)
                seen.add(id(stage))

    def process(self, frame: np.ndarray, frame_index: int) -> FrameRecord:
        """Run every stage on one RGB frame and return its tracked record.

        Args:
            frame: RGB uint8 ``(H, W, 3)``.
            frame_index: index of the frame in its video.

        Returns:
            A record whose rows are the frame's detections (detector order), with keypoints,
            embeddings (when an embedder is set) and ``track_ids`` (``-1`` for untracked rows).
            Detections with a NaN or infinite box or score are dropped (with a logged warning).

        Raises:
            ValueError: ``frame`` is not an RGB uint8 ``(H, W, 3)`` array, or the detector returned
                arrays of the wrong shape (the message names the frame).
        """
        self._notify(frame_index)
        item = self._detect(_Work(frame_index, frame))  # checks the frame first
        return self._track(self._embed(self._pose(item))).record

    def _detect(self, item: _Work) -> _Work:
        """Check the frame and find its people (at most ``max_people``, the highest scores)."""
        check_frame(item.frame, item.index)
        t0 = time.perf_counter()
        boxes, scores = detections(self.detector.detect([item.frame])[0], item.index)
        if len(scores) > self.max_people:
            keep = np.sort(np.argsort(-scores, kind="stable")[: self.max_people])
            boxes, scores = boxes[keep], scores[keep]
        item.boxes, item.scores = boxes, scores
        self.timer.seconds["detect"] += time.perf_counter() - t0
        return item

    def _pose(self, item: _Work) -> _Work:
        """Keypoints of the detections: the frame's record, rows in detector order."""
        t0 = time.perf_counter()
        keypoints = self.pose.estimate(item.frame, item.boxes)
        item.record = FrameRecord(
            boxes=item.boxes,
            scores=item.scores,
            keypoints=keypoints,
            frame_index=item.index,
            keypoint_format=self.pose.keypoint_format,
        )
        self.timer.seconds["pose"] += time.perf_counter() - t0
        return item

    def _embed(self, item: _Work) -> _Work:
        """Appearance embeddings of the record's people (nothing without an embedder)."""
        t0 = time.perf_counter()
        if self.embedder is not None:
            record = item.record
            embeddings, visibility = self.embedder.embed(item.frame, record.boxes, record.keypoints)
            item.record = record.with_embeddings(embeddings, visibility)
        self.timer.seconds["reid"] += time.perf_counter() - t0
        return item

    def _track(self, item: _Work) -> _Work:
        """Track ids from the tracker (always called in frame order, one frame at a time)."""
        t0 = time.perf_counter()
        item.record = self.tracker.update(item.record)
        self.timer.seconds["track"] += time.perf_counter() - t0
        self.timer.frames += 1
        return item

    def _observes_frames(self) -> bool:
        return any(isinstance(stage, FrameObserver) for stage in (self.detector, self.pose, self.embedder))

    def track(
        self,
        source: FrameSource | str | Path | Iterable[np.ndarray],
        overlap: bool | None = None,
        **source_kwargs: Any,
    ) -> Iterator[FrameRecord]:
        """Track a whole video online, yielding one record per frame.

        Args:
            source: a :class:`FrameSource`, a path (video file, image folder, PoseTrack21 sequence
                folder) or any iterable of RGB frames.
            overlap: run the stages of consecutive frames at the same time (see
                :meth:`track_with_frames`); ``None``: the pipeline's ``overlap`` setting.
            **source_kwargs: ``start``, ``end``, ``max_frames`` when ``source`` is a path.
        """
        for _, record in self.track_with_frames(source, overlap, **source_kwargs):
            yield record

    def track_with_frames(
        self,
        source: FrameSource | str | Path | Iterable[np.ndarray],
        overlap: bool | None = None,
        **source_kwargs: Any,
    ) -> Iterator[tuple[np.ndarray, FrameRecord]]:
        """Like :meth:`track`, but yield ``(rgb_frame, record)`` pairs (e.g. for drawing).

        With ``overlap``, detection, pose and appearance each run in a worker thread
        (:func:`kprtrack.overlap.run_in_threads`, two frames at most waiting between two of them):
        while frame ``t`` is embedded, frame ``t + 1`` is in the pose stage and frame ``t + 2`` in
        the detector. Every stage still sees the frames one at a time and in order, and the tracker
        runs in the calling thread, so the records are the same as without overlap; an error is
        raised after the records of all earlier frames were yielded. Pipelines with a stage that
        observes frame indices (:class:`~kprtrack.stages.FrameObserver`, e.g. oracle stages) always
        run sequentially. Per-stage times (:attr:`timer`) are then each worker's busy time.
        """
        from kprtrack.overlap import run_in_threads
        from kprtrack.video import FrameSource

        if isinstance(source, (str, Path)):
            source = FrameSource(source, **source_kwargs)
        frames = iter(source) if isinstance(source, FrameSource) else enumerate(source)
        overlap = self.overlap if overlap is None else overlap
        try:
            if overlap and not self._observes_frames():
                steps = (self._detect, self._pose, self._embed)
                for item in run_in_threads(self._timed_frames(frames), steps, queue_size=2, name="kprtrack"):
                    yield item.frame, self._track(item).record
            else:
                for item in self._timed_frames(frames):
                    self._notify(item.index)
                    yield item.frame, self._track(self._embed(self._pose(self._detect(item)))).record
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # stop the decoding thread now, also when a stage raised

    def _timed_frames(self, frames: Iterator[tuple[int, np.ndarray]]) -> Iterator[_Work]:
        """The frames as work items, the time spent waiting for each counted as ``decode``."""
        while True:
            t0 = time.perf_counter()
            try:
                index, frame = next(frames)
            except StopIteration:
                return
            self.timer.seconds["decode"] += time.perf_counter() - t0
            yield _Work(index, frame)


@dataclass
class _Work:
    """One frame on its way through the stages (filled in stage by stage)."""

    index: int
    frame: np.ndarray
    boxes: np.ndarray | None = None
    scores: np.ndarray | None = None
    record: FrameRecord | None = None

"""Models loaded once per worker: a pipeline builder that reuses the stages built for an earlier video.

A worker tracks many videos with one configuration. The detector, pose estimator and embedder hold
no per-video state, so they are built once; each video gets a fresh tracker (built for the video's
frame rate, as :func:`kprtrack.assembly.build_pipeline` would). Stages that do observe frames
(:class:`kprtrack.stages.FrameObserver`, e.g. the ground-truth oracle, which reads one sequence's
annotations) are rebuilt for every video.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kprtrack.stages import FrameObserver

if TYPE_CHECKING:
    from kprtrack.pipeline import Pipeline
    from kprtrack.pipeline_config import PipelineConfig


class PipelineCache:
    """Callable with :func:`kprtrack.assembly.build_pipeline`'s signature, for :func:`kprtrack.run.run_video`.

    Attributes:
        builds: how many times the models were built (1 for a worker that ran any number of videos
            with one configuration and no per-video stages).
    """

    def __init__(self) -> None:
        self._base: Pipeline | None = None
        self._config: PipelineConfig | None = None
        self.builds = 0

    def _reusable(self, config: PipelineConfig) -> bool:
        base = self._base
        if base is None or config != self._config:
            return False
        return not any(isinstance(stage, FrameObserver) for stage in (base.detector, base.pose, base.embedder))

    def __call__(self, config: PipelineConfig, frame_rate: float = 30.0, gt_path: str | Path | None = None) -> Pipeline:
        """The pipeline for one video: cached detector, pose estimator and embedder, a new tracker.

        Args:
            config: the pipeline configuration (a different one rebuilds every stage).
            frame_rate: the video's frame rate (the tracker's lost-track buffer scales with it).
            gt_path: the sequence's ground truth, for oracle stages.
        """
        from kprtrack.assembly import build_pipeline, build_tracker
        from kprtrack.pipeline import Pipeline
        from kprtrack.registry import BuildContext

        if not self._reusable(config):
            self._base = build_pipeline(config, frame_rate=frame_rate, gt_path=gt_path)
            self._config = config
            self.builds += 1
            return self._base
        base = self._base
        context = BuildContext(config, frame_rate, gt_path, keypoint_format=base.pose.keypoint_format)
        return Pipeline(
            detector=base.detector,
            pose=base.pose,
            embedder=base.embedder,
            tracker=build_tracker(config, context),
            max_people=config.max_people,
        )

"""Running the pipeline over one video and writing its outputs (the engine of ``kprtrack run``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kprtrack.keypoints import convert_keypoints
from kprtrack.structures import FrameRecord

if TYPE_CHECKING:
    from kprtrack.pipeline import Pipeline


@dataclass
class RunOptions:
    """What to run and where to write.

    Attributes:
        video: video file, image folder or PoseTrack21 sequence folder.
        out: PoseTrack21 prediction file.
        config: config file or name in ``configs/`` (``None``: defaults).
        overrides: ``key=value`` config overrides.
        render: optional overlay video.
        mot: optional MOTChallenge text file.
        start, end, max_frames: frame range.
        gt_path: ground truth for oracle stages (found automatically for sequence folders).
        progress: show a progress bar.
    """

    video: Path
    out: Path
    config: str | Path | None = None
    overrides: list[str] = field(default_factory=list)
    render: Path | None = None
    mot: Path | None = None
    start: int = 0
    end: int | None = None
    max_frames: int | None = None
    gt_path: Path | None = None
    progress: bool = False


@dataclass
class RunSummary:
    """What a run did."""

    frames: int
    tracks: int
    annotations: int
    persons_per_frame: float
    seconds: float
    stage_ms: dict[str, float]
    outputs: list[Path]

    def format(self) -> str:
        """A human-readable multi-line summary."""
        fps = self.frames / self.seconds if self.seconds > 0 else float("inf")
        stages = ", ".join(f"{k} {v:.1f}" for k, v in self.stage_ms.items())
        lines = [
            f"frames: {self.frames} in {self.seconds:.1f} s ({fps:.2f} frames/s)",
            f"tracks: {self.tracks}, written poses: {self.annotations}, "
            f"persons per frame: {self.persons_per_frame:.2f}",
            f"ms per frame: {stages}",
        ]
        lines += [f"wrote {p}" for p in self.outputs]
        return "\n".join(lines)


def to_posetrack21(record: FrameRecord) -> FrameRecord:
    """The record with keypoints in the posetrack21 convention (unchanged if already)."""
    if record.keypoint_format == "posetrack21":
        return record
    return record.with_keypoints(
        convert_keypoints(record.keypoints, record.keypoint_format, "posetrack21"), "posetrack21"
    )


def run_video(options: RunOptions, build_pipeline: Callable[..., Pipeline] | None = None) -> RunSummary:
    """Track one video and write the predictions (and optionally MOT rows and an overlay video).

    Args:
        options: what to run and where to write.
        build_pipeline: called as ``build_pipeline(config, frame_rate=..., gt_path=...)`` to make the
            video's pipeline (default :meth:`Pipeline.from_config`); ``kprtrack batch`` passes one that
            reuses the models loaded for an earlier video.

    Raises:
        ConfigError, VideoSourceError, WeightsNotFoundError, OSError: with messages naming what failed.
    """
    from tqdm import tqdm

    from kprtrack.io.atomic import atomic_open
    from kprtrack.io.mot import mot_rows
    from kprtrack.io.posetrack21 import PredictionWriter
    from kprtrack.pipeline import Pipeline
    from kprtrack.pipeline_config import load_pipeline_config
    from kprtrack.render import TrackPainter
    from kprtrack.track.filters import filter_frame
    from kprtrack.video import FrameSource, VideoWriter

    config = load_pipeline_config(options.config, options.overrides)
    source = FrameSource(options.video, start=options.start, end=options.end, max_frames=options.max_frames)
    info = source.info
    gt_path = options.gt_path or info.gt_path
    pipeline = (build_pipeline or Pipeline.from_config)(config, frame_rate=info.fps, gt_path=gt_path)
    writer = PredictionWriter(options.out, info.images)
    painter = TrackPainter(trail_length=int(info.fps), keypoint_threshold=config.output.joint_thresh)
    video_out = VideoWriter(options.render, info.fps, (info.width, info.height)) if options.render else None
    persons = 0
    tracks: set[int] = set()
    t0 = time.perf_counter()
    bar = tqdm(total=len(source), unit="frame", desc=info.name, disable=not options.progress, dynamic_ncols=True)
    try:
        for frame, record in pipeline.track_with_frames(source):
            out = filter_frame(to_posetrack21(record), config.output)
            writer.add(info.images[record.frame_index - source.start]["id"], out)
            persons += len(record)
            tracks.update(int(t) for t in out.track_ids if t >= 0)
            if video_out is not None:
                video_out.write(painter.draw(frame, out))
            bar.update(1)
    finally:
        bar.close()
        if video_out is not None:
            video_out.close()
    frames = pipeline.timer.frames
    outputs = [options.out]
    n_ann = writer.close(min_track_length=config.output.min_tracklet_length)
    if options.mot is not None:
        with atomic_open(options.mot) as f:
            for _, rec in writer.records(config.output.min_tracklet_length):
                for row in mot_rows(rec):
                    f.write(row + "\n")
        outputs.append(options.mot)
    if options.render is not None:
        outputs.append(options.render)
    return RunSummary(
        frames=frames,
        tracks=len(tracks),
        annotations=n_ann,
        persons_per_frame=persons / max(frames, 1),
        seconds=time.perf_counter() - t0,
        stage_ms=pipeline.timer.ms_per_frame(),
        outputs=outputs,
    )

"""Running the pipeline over one video and writing its outputs (the engine of ``kprtrack run``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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
        progress: show progress (a bar on a terminal, a line every 10 s otherwise; see kprtrack.progress).
        offline: never download missing weights (as ``KPRTRACK_OFFLINE=1``).
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
    offline: bool = False


@dataclass
class RunSummary:
    """What a run did.

    Attributes:
        frames: frames processed and written.
        total: frames the run was asked to process (``None`` if unknown).
        stopped: why the run ended before ``total`` (``"interrupted"`` or the input error), else ``None``.
    """

    frames: int
    tracks: int
    annotations: int
    persons_per_frame: float
    seconds: float
    stage_ms: dict[str, float]
    outputs: list[Path]
    total: int | None = None
    stopped: str | None = None

    def format(self) -> str:
        """A human-readable multi-line summary."""
        fps = self.frames / self.seconds if self.seconds > 0 else float("inf")
        stages = ", ".join(f"{k} {v:.1f}" for k, v in self.stage_ms.items())
        lines = []
        if self.stopped is not None:
            how = "interrupted" if self.stopped == "interrupted" else "stopped"
            reason = "" if self.stopped == "interrupted" else f" ({self.stopped})"
            written = "outputs hold these frames" if self.outputs else "nothing written"
            lines.append(f"{how} after {self.frames} of {self.total} frames{reason}; {written}")
        lines += [
            f"frames: {self.frames} in {self.seconds:.1f} s ({fps:.2f} frames/s)",
            f"tracks: {self.tracks}, written poses: {self.annotations}, "
            f"people written per frame: {self.persons_per_frame:.2f}",
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


def run_video(
    options: RunOptions,
    notify: Callable[[str], None] | None = None,
    build_pipeline: Callable[..., Pipeline] | None = None,
) -> RunSummary:
    """Track one video and write the predictions (and optionally MOT rows and an overlay video).

    Missing official weights are downloaded on first use unless ``options.offline`` or
    ``KPRTRACK_OFFLINE=1`` (see :func:`kprtrack.weights.ensure`).

    Args:
        options: what to run and where to write.
        notify: receives one line naming the models, once they are loaded.
        build_pipeline: called as ``build_pipeline(config, frame_rate=..., gt_path=...)`` to make the
            video's pipeline (default :meth:`Pipeline.from_config`); ``kprtrack batch`` passes one that
            reuses the models loaded for an earlier video.

    Every output is written atomically. If the run stops early, because of Ctrl-C (or SIGTERM under
    the CLI) or because the input breaks mid-way (a damaged frame), the outputs are finished with the
    frames done so far (the prediction file then lists only those images; nothing is written if no
    frame was done) before the error is raised with the summary attached.

    Raises:
        ConfigError, VideoSourceError, WeightsNotFoundError, ChecksumError, OSError: with messages naming
            what failed (:class:`~kprtrack.weights.WeightsUnavailableError` when official weights are
            missing and could not be downloaded).
        RunInterrupted: interrupted (a ``KeyboardInterrupt``) after finishing the outputs; ``.summary``.
        RunStoppedError: the input broke mid-way, after finishing the outputs; ``.summary``.
    """
    from kprtrack.errors import RunInterrupted, RunStoppedError
    from kprtrack.io.atomic import atomic_open
    from kprtrack.io.mot import mot_rows
    from kprtrack.io.posetrack21 import PredictionWriter
    from kprtrack.pipeline import Pipeline
    from kprtrack.pipeline_config import describe_models, load_pipeline_config
    from kprtrack.progress import Progress
    from kprtrack.render import TrackPainter
    from kprtrack.track.filters import filter_frame
    from kprtrack.video import FrameSource, VideoSourceError, VideoWriter
    from kprtrack.weights import offline

    config = load_pipeline_config(options.config, options.overrides)
    source = FrameSource(options.video, start=options.start, end=options.end, max_frames=options.max_frames)
    info = source.info
    gt_path = options.gt_path or info.gt_path
    with offline(options.offline):
        pipeline = (build_pipeline or Pipeline.from_config)(config, frame_rate=info.fps, gt_path=gt_path)
    if notify is not None:
        notify(f"models: {describe_models(config)}")
    writer = PredictionWriter(options.out, info.images)
    painter = TrackPainter(trail_length=int(info.fps), keypoint_threshold=config.output.joint_thresh)
    video_out = VideoWriter(options.render, info.fps, (info.width, info.height), fit=True) if options.render else None
    persons = done = 0
    tracks: set[int] = set()
    stop: BaseException | None = None
    t0 = time.perf_counter()
    bar = Progress(len(source), desc=info.name, enabled=options.progress)
    try:
        for frame, record in pipeline.track_with_frames(source):
            out = filter_frame(to_posetrack21(record), config.output)
            writer.add(info.images[record.frame_index - source.start]["id"], out)
            persons += int((out.track_ids >= 0).sum())  # the people written (tracked, after the filters)
            tracks.update(int(t) for t in out.track_ids if t >= 0)
            if video_out is not None:
                video_out.write(painter.draw(frame, out))
            done += 1
            bar.update(1)
    except (KeyboardInterrupt, VideoSourceError) as exc:
        stop = exc  # finish the outputs with the frames done
    except BaseException:
        if video_out is not None:
            video_out.abort()
        raise
    finally:
        bar.close()
    if video_out is not None and stop is not None:
        done = video_out.frames  # interrupted between the overlay's write and the count: trust the overlay
    outputs: list[Path] = []
    n_ann = 0
    if done == 0:
        if video_out is not None:
            video_out.abort()
    else:
        writer.truncate(done)
        if video_out is not None:
            video_out.close()
        n_ann = writer.close(min_track_length=config.output.min_tracklet_length)
        outputs.append(options.out)
        if options.mot is not None:
            with atomic_open(options.mot) as f:
                for _, rec in writer.records(config.output.min_tracklet_length):
                    for row in mot_rows(rec):
                        f.write(row + "\n")
            outputs.append(options.mot)
        if options.render is not None:
            outputs.append(options.render)
    summary = RunSummary(
        frames=done,
        tracks=len(tracks),
        annotations=n_ann,
        persons_per_frame=persons / max(done, 1),
        seconds=time.perf_counter() - t0,
        stage_ms=pipeline.timer.ms_per_frame(),
        outputs=outputs,
        total=len(source),
        stopped=None if stop is None else "interrupted" if isinstance(stop, KeyboardInterrupt) else str(stop),
    )
    if isinstance(stop, KeyboardInterrupt):
        raise RunInterrupted(summary) from stop
    if stop is not None:
        raise RunStoppedError(str(stop), summary) from stop
    return summary


#: The config ``kprtrack run`` falls back to when the default (paper) weights are unavailable.
FALLBACK_CONFIG = "real"


def fallback_config() -> Path | None:
    """``configs/real.yaml`` if it exists, else ``None``."""
    from kprtrack.pipeline_config import configs_dir

    path = configs_dir() / f"{FALLBACK_CONFIG}.yaml"
    return path if path.is_file() else None


def run_with_fallback(options: RunOptions, notify: Callable[[str], None]) -> RunSummary:
    """:func:`run_video`; if the default config's official weights are unavailable, fall back to ``real``.

    The fallback applies only when no config was chosen (``options.config is None``): the missing
    file, its URL and how to place it by hand are reported in one line through ``notify``, then the
    video is tracked with :func:`fallback_config`.

    Args:
        options: what to run.
        notify: receives the one-line notice (the CLI prints it to stderr).

    Raises:
        WeightsUnavailableError: with a chosen config, or when there is no fallback config (the
            message then says so); other errors as :func:`run_video`.
    """
    from kprtrack.weights import WeightsUnavailableError

    try:
        return run_video(options, notify)
    except WeightsUnavailableError as exc:
        if options.config is not None:
            raise
        fallback = fallback_config()
        if fallback is None:
            raise WeightsUnavailableError(
                f"{exc} No fallback config: configs/{FALLBACK_CONFIG}.yaml does not exist "
                "(`--config demo` runs the shipped small models)."
            ) from exc
        notify(f"{exc} Falling back to the '{FALLBACK_CONFIG}' config ({fallback}).")
        return run_video(replace(options, config=fallback), notify)

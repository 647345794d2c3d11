"""Follow one clicked person through a video: the engine of ``kprtrack follow`` and of the web page.

::

    result = follow_video("match.mp4", Clicks.create(40, [(312, 150), (318, 210)]), config="demo")
    Path("follow.json").write_text(result.dumps())

Steps: the clicked frame is decoded and run through the pipeline's stages (then the pipeline is reset),
the clicks select a detection and become its KPR prompts (:mod:`kprtrack.follow.query`); then the
whole video is tracked online by the pipeline and each frame's detections are matched to the person
(:class:`kprtrack.follow.matcher.FollowMatcher`). The pipeline comes from
:meth:`kprtrack.pipeline.Pipeline.from_config`; any config with an appearance embedder works (one
without prompts uses the clicks only to select the person).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kprtrack.follow.clicks import Clicks, FollowError
from kprtrack.follow.matcher import FollowMatcher, FollowOptions
from kprtrack.follow.result import FollowFrame, FollowResult

#: ``on_progress(done_frames, total_frames)``.
Progress = Callable[[int, int], None]


@dataclass
class RenderOptions:
    """Optional drawn outputs.

    Attributes:
        video: overlay video (``.mp4``: MPEG-4 part 2; ``.webm``: VP8, plays in browsers; ``.avi``: MJPG).
        heatmaps: blend the followed person's KPR part attention into the overlay (one extra
            single-crop forward per frame where the person is found).
        frames_dir: also write every overlay frame as ``NNNNNN.jpg`` there.
    """

    video: Path | None = None
    heatmaps: bool = True
    frames_dir: Path | None = None


@dataclass
class FollowRequest:
    """Everything one follow run needs.

    Attributes:
        video: video file or image folder.
        clicks: the user's clicks.
        config: pipeline config file or name in ``configs/``.
        overrides: ``key=value`` config overrides.
        options: the matcher's options.
        render: optional drawn outputs.
    """

    video: Path
    clicks: Clicks
    config: str | Path = "demo"
    overrides: list[str] = field(default_factory=list)
    options: FollowOptions = field(default_factory=FollowOptions)
    render: RenderOptions = field(default_factory=RenderOptions)

    def __post_init__(self) -> None:
        self.video = Path(self.video)


def read_frame(video: str | Path, index: int) -> np.ndarray:
    """RGB frame ``index`` of a video file or image folder.

    Raises:
        VideoSourceError: the input cannot be read, or has no such frame.
    """
    from kprtrack.video import FrameSource, VideoSourceError

    for _, frame in FrameSource(video, start=index, max_frames=1):
        return frame
    raise VideoSourceError(f"{video}: cannot decode frame {index}")


def _clicked_row(record: Any, box: np.ndarray) -> int | None:
    """Row of ``record`` whose box is ``box`` (the clicked detection, found again in the tracking pass)."""
    from kprtrack.boxes import iou_matrix

    if len(record) == 0:
        return None
    iou = iou_matrix(np.asarray(box, np.float64)[None], record.boxes)[0]
    row = int(np.argmax(iou))
    return row if iou[row] >= 0.5 else None


def follow_video(request: FollowRequest, on_progress: Progress | None = None) -> FollowResult:
    """Follow the clicked person through ``request.video``.

    Args:
        request: video, clicks, config, options and outputs.
        on_progress: called after each frame with ``(done, total)``.

    Raises:
        FollowError: a click outside the frame, a frame out of range, no person at the clicks, or a
            config without an appearance embedder.
        VideoSourceError, ConfigError, WeightsNotFoundError, OSError: as :func:`kprtrack.run.run_video`.
    """
    from kprtrack.follow.query import build_query
    from kprtrack.follow.render import FollowPainter, part_attention, part_names
    from kprtrack.pipeline import Pipeline
    from kprtrack.pipeline_config import load_pipeline_config
    from kprtrack.video import FrameSource, VideoWriter

    source = FrameSource(request.video)
    info = source.info
    clicks = request.clicks
    clicks.check(info.num_frames, info.width, info.height)
    config = load_pipeline_config(request.config, request.overrides)
    pipeline = Pipeline.from_config(config, frame_rate=info.fps)
    embedder = pipeline.embedder
    if embedder is None:
        raise FollowError(
            f"config {request.config}: reid.kind is 'none'; following a person needs an appearance embedder"
        )
    clicked_frame = read_frame(request.video, clicks.frame)
    clicked_record = pipeline.process(clicked_frame, clicks.frame)
    pipeline.reset()
    query = build_query(embedder, clicked_frame, clicked_record, clicks, request.options.prompt_mode)
    matcher = FollowMatcher(query, request.options)
    render = request.render
    drawing = render.video is not None or render.frames_dir is not None
    painter = FollowPainter(part_names(embedder), keypoint_threshold=config.output.joint_thresh)
    writer = VideoWriter(render.video, info.fps, (info.width, info.height)) if render.video is not None else None
    if render.frames_dir is not None:
        render.frames_dir.mkdir(parents=True, exist_ok=True)
    frames: list[FollowFrame] = []
    try:
        for frame, record in pipeline.track_with_frames(source):
            row = _clicked_row(record, query.box) if record.frame_index == clicks.frame else None
            followed = matcher.step(record, row)
            frames.append(followed)
            if drawing:
                attention = None
                if render.heatmaps and followed.present:
                    prompt = (query.keypoints, query.negatives) if followed.clicked else (None, None)
                    attention = part_attention(embedder, frame, record, followed.row, *prompt)
                _write(painter.draw(frame, record, followed, attention), record.frame_index, writer, render.frames_dir)
            if on_progress is not None:
                on_progress(len(frames), info.num_frames)
    finally:
        if writer is not None:
            writer.close()
    frames = matcher.revise(frames)
    return FollowResult(
        video={
            "name": info.name,
            "frames": info.num_frames,
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
        },
        clicks=clicks.to_json(),
        query={
            "box": np.round(query.box.astype(float), 2).tolist(),
            "keypoints": np.round(query.keypoints.astype(float), 2).tolist(),
            "keypoint_format": clicked_record.keypoint_format,
            "prompts_used": query.prompts_used,
            "negative_prompt_joints": int((query.negatives[..., 2] > 0).sum()),
            "excluded": len(query.excluded_embeddings),
        },
        config=str(request.config),
        options=request.options.to_json(),
        frames=frames,
    )


def _write(image: np.ndarray, index: int, writer: Any, frames_dir: Path | None) -> None:
    import cv2

    if writer is not None:
        writer.write(image)
    if frames_dir is not None:
        path = frames_dir / f"{index:06d}.jpg"
        if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]):
            raise OSError(f"cannot write {path}")

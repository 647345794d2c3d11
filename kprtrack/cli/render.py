"""``kprtrack render``: draw tracks over a video."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click


@click.command("render")
@click.argument("video", type=click.Path(path_type=Path))
@click.argument("tracks", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Overlay video (.mp4 or .avi).")
@click.option(
    "--frames", "frames_dir", type=click.Path(file_okay=False, path_type=Path), help="Also dump PNG frames here."
)
@click.option("--trail", default=0, show_default=True, help="Trail length in frames (0: no trails).")
@click.option("--min-score", default=0.3, show_default=True, help="Do not draw joints below this score.")
@click.option("--start", default=0, show_default=True, help="First frame (must match the one used by `run`).")
@click.option("--max-frames", type=int, default=None, help="Render at most this many frames.")
@click.option(
    "--attention", "attention_track", type=int, default=None, help="Overlay KPR part attention of this track id."
)
@click.option("--part", default="all", show_default=True, help="Attention of one part (head, torso, ...) or all.")
@click.option("--config", default="demo", show_default=True, help="Pipeline config whose KPR model draws --attention.")
def command(
    video: Path,
    tracks: Path,
    out: Path | None,
    frames_dir: Path | None,
    trail: int,
    min_score: float,
    start: int,
    max_frames: int | None,
    attention_track: int | None,
    part: str,
    config: str,
) -> None:
    """Draw the boxes, skeletons and ids of TRACKS (a PoseTrack21 prediction file written by
    `kprtrack run`) over VIDEO (video file, image folder or PoseTrack21 sequence folder).

    Frames and prediction images are paired in order: the i-th image entry of TRACKS is drawn
    over the i-th frame read from VIDEO starting at --start.
    """
    import cv2

    from kprtrack.errors import KprtrackError
    from kprtrack.io.outputs import check_outputs
    from kprtrack.io.posetrack21 import read_predictions
    from kprtrack.progress import Progress
    from kprtrack.render import TrackPainter
    from kprtrack.video import IMAGE_SUFFIXES, FrameSource, VideoWriter

    if out is None and frames_dir is None:
        raise click.UsageError("give --out VIDEO and/or --frames DIR")
    png = frames_dir / "000000.png" if frames_dir is not None else None  # what --frames writes
    check_outputs({"--out": out, "--frames": png}, [video, tracks], IMAGE_SUFFIXES)
    records = read_predictions(tracks).to_records()
    source = FrameSource(video, start=start, max_frames=max_frames)
    if not records:
        raise KprtrackError(f"{tracks}: no images")
    painter = TrackPainter(trail_length=trail, keypoint_threshold=min_score)
    attention = None
    if attention_track is not None:
        from kprtrack.assembly import build_embedder
        from kprtrack.config import ConfigError
        from kprtrack.pipeline_config import load_pipeline_config
        from kprtrack.registry import BuildContext
        from kprtrack.render import AttentionPainter

        pipeline_config = load_pipeline_config(config)
        context = BuildContext(pipeline_config, keypoint_format="posetrack21")
        embedder = build_embedder(pipeline_config, context)
        if embedder is None:
            raise ConfigError(f"config {config!r} has no re-identification model (reid.kind: none)")
        try:
            attention = AttentionPainter(embedder, attention_track, part)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--part") from exc
    info = source.info
    n = 0
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(VideoWriter(out, info.fps, (info.width, info.height), fit=True)) if out else None
        bar = stack.enter_context(Progress(min(len(source), len(records)), desc="render"))
        for (index, frame), record in zip(source, records):
            drawn = painter.draw(frame, record)
            if attention is not None:
                drawn = attention.draw(frame, drawn, record)
            if writer is not None:
                writer.write(drawn)
            if frames_dir is not None:
                png = frames_dir / f"{index:06d}.png"
                if not cv2.imwrite(str(png), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)):
                    raise OSError(f"cannot write {png}")
            n += 1
            bar.update(1)
    click.echo(
        f"rendered {n} frames" + (f" -> {out}" if out else "") + (f", PNGs in {frames_dir}" if frames_dir else "")
    )

"""``kprtrack follow``: follow one person, chosen by clicks on a frame, through a video."""

from __future__ import annotations

from pathlib import Path

import click


def _points(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[tuple[float, float]]:
    from kprtrack.follow.clicks import FollowError, parse_point

    try:
        return [parse_point(v) for v in values]
    except FollowError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc


@click.command("follow")
@click.argument("video", type=click.Path(path_type=Path))
@click.option("--frame", "frame_index", required=True, type=int, help="Index of the frame the points are on.")
@click.option(
    "--point",
    "positives",
    multiple=True,
    required=True,
    callback=_points,
    metavar="X,Y",
    help="A point (pixels) on the person to follow; repeat for several (e.g. head and hips).",
)
@click.option(
    "--negative",
    "negatives",
    multiple=True,
    callback=_points,
    metavar="X,Y",
    help="A point on somebody who is NOT the person (e.g. the one in front); repeatable.",
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="follow.json to write."
)
@click.option("--config", default="demo", show_default=True, help="Pipeline config: a YAML file or a name in configs/.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a pipeline config key.")
@click.option("--device", default=None, help="cpu, cuda or cuda:N (overrides the config).")
@click.option(
    "--render",
    "render_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write an overlay video (.mp4, .webm or .avi) with the person highlighted.",
)
@click.option("--no-heatmaps", is_flag=True, help="Do not draw the KPR part attention in the overlay.")
@click.option(
    "--prompt-mode",
    type=click.Choice(["clicks+pose", "clicks", "pose"]),
    default="clicks+pose",
    show_default=True,
    help="How the points become the KPR prompt: the estimated pose with the clicked joints moved onto the "
    "points, the clicked joints only, or the estimated pose only.",
)
@click.option(
    "--refind-distance",
    type=click.FloatRange(0, 1),
    default=0.2,
    show_default=True,
    help="KPR distance under which a lost person is found again (higher: found sooner, more look-alikes).",
)
def command(
    video: Path,
    frame_index: int,
    positives: list[tuple[float, float]],
    negatives: list[tuple[float, float]],
    out: Path,
    config: str,
    overrides: tuple[str, ...],
    device: str | None,
    render_path: Path | None,
    no_heatmaps: bool,
    prompt_mode: str,
    refind_distance: float,
) -> None:
    """Follow the person under the --point clicks of frame --frame through VIDEO.

    The points select the detection whose box holds them, and become KPR keypoint prompts for it
    (--negative points become negative prompts: "not this one"). The person is then followed through
    the whole video, online: along the tracker's track while it lasts, and re-found by KPR part
    distance after occlusions or after leaving the frame. --out gets one entry per frame: present or
    not, box, keypoints, part visibility and a confidence (1 - KPR distance).

    Example: kprtrack follow match.mp4 --frame 40 --point 312,150 --point 318,210 --out follow.json
    """
    from kprtrack.config import ConfigError
    from kprtrack.follow.api import FollowRequest, RenderOptions, follow_video
    from kprtrack.follow.clicks import Clicks, FollowError
    from kprtrack.follow.matcher import FollowOptions
    from kprtrack.io.atomic import atomic_write_text, check_writable
    from kprtrack.video import VideoSourceError
    from kprtrack.weights import WeightsNotFoundError

    if not video.exists():
        raise click.ClickException(f"video not found: {video}")
    try:
        for path in (out, render_path):
            if path is not None:
                check_writable(path)
        clicks = Clicks.create(frame_index, positives, negatives)
        request = FollowRequest(
            video=video,
            clicks=clicks,
            config=config,
            overrides=list(overrides) + ([f"device={device}"] if device else []),
            options=FollowOptions(prompt_mode=prompt_mode, refind_distance=refind_distance),
            render=RenderOptions(video=render_path, heatmaps=not no_heatmaps),
        )
        from tqdm import tqdm

        with tqdm(unit="frame", desc="follow", dynamic_ncols=True) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = follow_video(request, progress)
        atomic_write_text(out, result.dumps())
    except (FollowError, ConfigError, VideoSourceError, WeightsNotFoundError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    summary = result.to_json()["summary"]
    click.echo(
        f"followed in {summary['present_frames']} of {len(result.frames)} frames "
        f"(mean confidence {summary['mean_confidence']:.2f}); prompts "
        f"{'used' if result.query['prompts_used'] else 'not used by this embedder'}"
    )
    click.echo(f"wrote {out}" + (f" and {render_path}" if render_path else ""))

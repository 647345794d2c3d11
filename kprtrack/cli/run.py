"""``kprtrack run``: track people in a video and write PoseTrack21 predictions."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("run")
@click.argument("video", type=click.Path(path_type=Path))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PoseTrack21 JSON to write."
)
@click.option(
    "--config",
    "config",
    default=None,
    help="Pipeline config: a YAML file or a name in configs/ (e.g. 'demo'). Default: the paper's setting.",
)
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key, e.g. reid.use_prompts=false."
)
@click.option("--device", default=None, help="cpu, cuda or cuda:N (overrides the config).")
@click.option(
    "--render", "render_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write an overlay video."
)
@click.option(
    "--mot", "mot_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write MOTChallenge rows."
)
@click.option("--start", default=0, show_default=True, help="First frame index.")
@click.option("--end", type=int, default=None, help="Stop before this frame index.")
@click.option("--max-frames", type=int, default=None, help="Process at most this many frames.")
@click.option(
    "--gt", "gt_path", type=click.Path(dir_okay=False, path_type=Path), help="Ground truth for oracle stages."
)
@click.option(
    "--offline",
    is_flag=True,
    help="Never download missing weights (also KPRTRACK_OFFLINE=1); see `kprtrack weights download --help`.",
)
def command(
    video: Path,
    out: Path,
    config: str | None,
    overrides: tuple[str, ...],
    device: str | None,
    render_path: Path | None,
    mot_path: Path | None,
    start: int,
    end: int | None,
    max_frames: int | None,
    gt_path: Path | None,
    offline: bool,
) -> None:
    """Track the people of VIDEO (a video file, an image folder or a PoseTrack21 sequence folder)
    and write PoseTrack21 predictions to --out.

    For a PoseTrack21 sequence folder (images/<split>/<seq>/) whose ground truth lies at
    posetrack_data/<split>/<seq>.json, the predictions use the ground truth's image ids, so
    `kprtrack eval` can score them directly.

    Official weights missing from the weights folders are downloaded on first use (checked
    against their checksums) unless --offline. Without --config, if they cannot be had, one line
    names the missing file, its URL and how to place it by hand, and the run falls back to the
    'real' config (configs/real.yaml) when it exists. Ctrl-C, SIGTERM or a frame that cannot be
    decoded end the run early with outputs holding the frames done (see the README, "Errors and
    exit codes").
    """
    from kprtrack.errors import RunInterrupted, RunStoppedError
    from kprtrack.io.outputs import check_outputs
    from kprtrack.run import RunOptions, run_with_fallback
    from kprtrack.video import IMAGE_SUFFIXES

    check_outputs({"--out": out, "--render": render_path, "--mot": mot_path}, [video, gt_path], IMAGE_SUFFIXES)
    try:
        summary = run_with_fallback(
            RunOptions(
                video=video,
                out=out,
                config=config,
                overrides=list(overrides) + ([f"device={device}"] if device else []),
                render=render_path,
                mot=mot_path,
                start=start,
                end=end,
                max_frames=max_frames,
                gt_path=gt_path,
                progress=True,
                offline=offline,
            ),
            notify=lambda line: click.echo(f"kprtrack: {line}", err=True),
        )
    except (RunInterrupted, RunStoppedError) as exc:
        click.echo(exc.summary.format())  # the outputs hold the frames done; the error line follows
        raise
    click.echo(summary.format())

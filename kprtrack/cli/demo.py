"""``kprtrack demo``: synthetic clip -> tracking with the shipped weights -> evaluation -> overlay."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("--out", default="kprtrack_demo", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--frames", default=150, show_default=True, type=click.IntRange(min=10),
    help="Length of the synthetic clip (640x360, 25 fps; at least 10).",
)  # fmt: skip
@click.option("--seed", default=7, show_default=True, type=click.IntRange(min=0), help="Seed of the synthetic clip.")
@click.option("--config", default="demo", show_default=True, help="Pipeline config (name in configs/ or a file).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key.")
@click.option("--no-render", is_flag=True, help="Skip the overlay video.")
def command(out: Path, frames: int, seed: int, config: str, overrides: tuple[str, ...], no_render: bool) -> None:
    """Run the whole system on a fresh machine, without any download.

    Generates a synthetic multi-person clip with ground truth, tracks it with the small models
    shipped in weights/ (configs/demo.yaml: YOLOX detector, HRNet pose, KPR re-identification,
    KPRTrack), scores the result like the official PoseTrack21 kit (keypoint HOTA, DetA, AssA,
    identity switches) and renders an overlay video.
    """
    import time

    from kprtrack.demo import run_demo
    from kprtrack.errors import RunInterrupted, RunStoppedError

    t0 = time.perf_counter()
    try:
        result = run_demo(out, frames=frames, seed=seed, config=config, overrides=list(overrides), render=not no_render)
    except (RunInterrupted, RunStoppedError) as exc:
        click.echo(exc.summary.format())
        raise
    click.echo(result.run.format())
    click.echo("")
    click.echo(result.report)
    h = result.hota
    click.echo(f"\nkeypoint HOTA {100 * h['HOTA']:.1f}  DetA {100 * h['DetA']:.1f}  AssA {100 * h['AssA']:.1f}")
    click.echo(f"\ndemo finished in {time.perf_counter() - t0:.0f} s; files in {result.folder}/:")
    click.echo(f"  input video       {result.video}")
    click.echo(f"  ground truth      {result.ground_truth}")
    click.echo(f"  predictions       {result.predictions}")
    click.echo(f"  scores            {result.results}")
    if result.overlay is not None:
        click.echo(f"  overlay video     {result.overlay}")

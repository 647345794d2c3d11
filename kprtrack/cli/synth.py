"""``kprtrack synth``: generate the synthetic multi-person world, or print its difficulty report."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("synth")
@click.option(
    "--preset",
    type=click.Choice(["tiny", "val", "train"]),
    default="val",
    show_default=True,
    help="tiny: seconds, for tests; val: the evaluation split; train: more identities and frames (docs/synth.md).",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Generate the preset into this folder.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Master seed (default: the configuration's).")
@click.option(
    "--occlusion",
    type=click.FloatRange(0.0, 0.95),
    default=None,
    help="Target share of multi-person boxes (boxes holding another person's keypoints); default: the preset's.",
)
@click.option(
    "--stats",
    "stats_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Print the difficulty report of the data set in this folder (after generating, if --out is given).",
)
@click.option("--overwrite", is_flag=True, help="Replace existing output of the same splits.")
@click.option("--no-video", is_flag=True, help="Do not write the .mp4 files.")
@click.option("--no-masks", is_flag=True, help="Do not write instance masks and parsing maps.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def command(
    preset: str,
    out: Path | None,
    seed: int | None,
    occlusion: float | None,
    stats_dir: Path | None,
    overwrite: bool,
    no_video: bool,
    no_masks: bool,
    quiet: bool,
) -> None:
    """Generate synthetic videos with PoseTrack21 ground truth, instance masks and part maps.

    The world reproduces what makes multi-person tracking hard: several people inside one box,
    front/back occlusion, teammates in the same kit, people leaving and coming back. Output is
    deterministic in --seed. See docs/synth.md.
    """
    if out is None and stats_dir is None:
        raise click.UsageError("give --out DIR to generate data and/or --stats DIR to report on existing data")
    if out is not None:
        from kprtrack.progress import Progress
        from kprtrack.synth.config import make_config
        from kprtrack.synth.writer import write_dataset

        overrides: dict[str, object] = {"seed": seed, "occlusion": occlusion}
        if no_video:
            overrides["write_video"] = False
        if no_masks:
            overrides["write_masks"] = False
        try:
            cfg = make_config(preset, **overrides)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
        total = sum(s.num_sequences * s.num_frames for s in cfg.splits)
        with Progress(total, desc=f"synth {preset}", enabled=not quiet) as bar:
            meta = write_dataset(cfg, out, overwrite=overwrite, on_frame=lambda: bar.update(1))
        for split, info in meta["splits"].items():
            if split in {s.name for s in cfg.splits}:
                click.echo(f"{split}: {len(info['sequences'])} sequences written to {out}")
    if stats_dir is not None:
        from kprtrack.synth.stats import dataset_stats, format_stats

        click.echo(format_stats(dataset_stats(stats_dir)))

"""``kprtrack eval``: score PoseTrack21 predictions like the official kit (keypoint HOTA), plus
pose CLEAR-MOT (IDSW/MOTA) and person-box metrics. ``tools/eval_posetrack21.py`` runs this command.
"""

from __future__ import annotations

from pathlib import Path

import click


def _split(values: tuple[str, ...]) -> tuple[str, ...] | None:
    names = tuple(n.strip() for v in values for n in v.split(",") if n.strip())
    return names or None


@click.command("eval")
@click.option(
    "--gt", "gt_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Folder of ground-truth sequence files (<sequence>.json, PoseTrack21 layout).",
)  # fmt: skip
@click.option(
    "--pred", "pred_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Folder of prediction files with the same names.",
)  # fmt: skip
@click.option(
    "--seqs", multiple=True, metavar="NAMES",
    help="Evaluate only these sequences (file names, .json optional); repeat the option or separate with commas.",
)  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write results.json here (fractions).")
@click.option("--allow-missing", is_flag=True, help="Score a missing prediction file as empty predictions.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Save the per-alpha HOTA/DetA/AssA PNG.")
@click.option(
    "--missing-frame-fn", type=click.Choice(["sequence", "frame"]), default=None,
    help="FN added by a labelled frame without predictions: 'sequence' = the kit's rule (whole sequence's GT "
    "joints, default), 'frame' = only that frame's GT joints.",
)  # fmt: skip
@click.option(
    "--clear-protocol", type=click.Choice(["posetrack21", "poseval"]), default=None,
    help="Frames/joints of the pose MOTA/IDSW: 'posetrack21' = the kit's labelled frames (default), "
    "'poseval' = reproduce poseval's MOTA exactly.",
)  # fmt: skip
@click.option("--no-boxes", is_flag=True, help="Skip the person-box metrics.")
@click.option("--detailed", is_flag=True, help="Also write the per-alpha x per-joint arrays to results.json.")
@click.option("--quiet", is_flag=True, help="Do not print the table.")
def command(
    gt_dir: Path,
    pred_dir: Path,
    seqs: tuple[str, ...],
    out: Path | None,
    allow_missing: bool,
    plot: Path | None,
    missing_frame_fn: str | None,
    clear_protocol: str | None,
    no_boxes: bool,
    detailed: bool,
    quiet: bool,
) -> None:
    """Evaluate the predictions in --pred against the ground truth in --gt.

    Keypoint HOTA reproduces the official PoseTrack21 kit (HOTAeypoints) number for number,
    its quirks included; malformed inputs give an error naming the file, record and field.
    See docs/eval.md for the exact definitions.
    """
    from kprtrack.eval.evaluate import evaluate_folders
    from kprtrack.eval.options import EvalOptions
    from kprtrack.io.outputs import check_outputs

    defaults = EvalOptions()
    options = EvalOptions(
        allow_missing=allow_missing,
        missing_frame_fn=missing_frame_fn or defaults.missing_frame_fn,
        clear_protocol=clear_protocol or defaults.clear_protocol,
        boxes=not no_boxes,
        sequences=_split(seqs),
    )
    check_outputs({"--out": out, "--plot": plot}, [gt_dir, pred_dir], (".json",))
    result = evaluate_folders(gt_dir, pred_dir, options)

    from kprtrack.eval.report import format_report, write_json

    if not quiet:
        click.echo(format_report(result))
    if out is not None:
        write_json(result, out, detailed=detailed)
        click.echo(f"wrote {out}")
    if plot is not None:
        from kprtrack.eval.plot import save_alpha_curve

        save_alpha_curve(result.combined.hota, plot)
        click.echo(f"wrote {plot}")

"""``kprtrack batch``: track many videos or sequences on Ray (or a local process pool), then optionally score them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kprtrack.batch.report import BatchReport
    from kprtrack.batch.scheduler import BatchEvent


class _Progress:
    """A tqdm bar over inputs on a terminal, one plain line per finished input otherwise."""

    def __init__(self, total: int) -> None:
        from tqdm import tqdm

        self.total = total
        self.count = 0
        self.skipped = 0
        self.tty = sys.stderr.isatty()
        self.bar = tqdm(total=total, unit="video", desc="batch", disable=not self.tty, dynamic_ncols=True)

    def _line(self, text: str) -> None:
        if self.tty:
            self.bar.write(text, file=sys.stderr)
        else:
            click.echo(f"[{self.count}/{self.total}] {text}", err=True)

    def __call__(self, event: BatchEvent) -> None:
        o = event.outcome
        if event.kind == "retry":
            self._line(f"retry {o.name} (attempt {o.attempts + 1}): {o.reason}")
            return
        self.count += 1
        self.bar.update(1)
        if event.kind == "skipped":
            self.skipped += 1  # reported once, in the final table
        elif event.kind == "done":
            if not self.tty:
                self._line(f"done {o.name}: {o.frames} frames in {o.seconds:.1f} s")
        else:
            self._line(f"failed {o.name}: {o.reason}")

    def close(self) -> None:
        self.bar.close()


def _evaluate(report: BatchReport, gt_dir: Path, out_dir: Path) -> str:
    """Score the complete outputs against ``gt_dir``; the headline lines."""
    from kprtrack.eval.evaluate import evaluate_folders
    from kprtrack.eval.loading import EvalInputError
    from kprtrack.eval.options import EvalOptions
    from kprtrack.eval.report import pct
    from kprtrack.io.posetrack21 import PoseTrackFormatError

    if not gt_dir.is_dir():
        raise click.ClickException(f"--eval: ground-truth folder not found: {gt_dir}")
    available = {p.stem for p in gt_dir.glob("*.json")}
    complete = [o.name for o in report.outcomes if o.status in ("done", "skipped")]
    names = [n for n in complete if n in available]
    lines = []
    if len(names) < len(complete):
        lines.append(f"not in {gt_dir} (not scored): {', '.join(n for n in complete if n not in available)}")
    if not names:
        raise click.ClickException(f"--eval: no complete output has a ground-truth file in {gt_dir}")
    try:
        result = evaluate_folders(gt_dir, out_dir, EvalOptions(sequences=tuple(names)))
    except (EvalInputError, PoseTrackFormatError, FileNotFoundError) as exc:
        raise click.ClickException(f"--eval: {exc}") from exc
    s = result.combined.hota.summary()
    clear = result.combined.clear(result.options.clear_protocol)
    head = (
        f"eval ({len(names)} sequences): keypoint HOTA {pct(s['HOTA'])}, DetA {pct(s['DetA'])}, "
        f"AssA {pct(s['AssA'])}; pose MOTA {pct(clear['MOTA'])}, IDSW {clear['IDSW']}"
    )
    boxes = result.combined.boxes
    if boxes is not None:
        head += f"; box HOTA {pct(boxes['HOTA'])}, IDF1 {pct(boxes['IDF1'])}"
    lines.append(head)
    return "\n".join(lines)


@click.command("batch")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: one <name>.json per input (PoseTrack21 predictions).",
)  # fmt: skip
@click.option("--config", default=None, help="Pipeline config: a YAML file or a name in configs/ (e.g. 'demo').")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key.")
@click.option("--device", default=None, help="cpu, cuda or cuda:N (overrides the config).")
@click.option("--start", default=0, show_default=True, help="First frame index of every input.")
@click.option("--end", type=int, default=None, help="Stop before this frame index.")
@click.option("--max-frames", type=int, default=None, help="Process at most this many frames per input.")
@click.option("--local", "local", is_flag=True, help="Run on a process pool on this machine instead of Ray.")
@click.option(
    "--address", default=None, metavar="ADDR",
    help="Ray cluster to use: ray://HOST:10001 (Ray Client) or 'auto' (the cluster this machine belongs to). "
    "Default: a private Ray instance on this machine.",
)  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Workers (default: CPUs / --num-cpus).")
@click.option(
    "--num-cpus", type=click.IntRange(min=1), default=1, show_default=True,
    help="CPUs per worker (also its torch threads).",
)  # fmt: skip
@click.option(
    "--num-gpus", type=click.FloatRange(min=0), default=0.0, show_default=True,
    help="GPUs per worker (Ray only; fractions share a GPU). Add --device cuda.",
)  # fmt: skip
@click.option(
    "--max-retries", type=click.IntRange(min=0), default=2, show_default=True,
    help="Resubmissions of an input whose worker died (killed, out of memory, node lost).",
)  # fmt: skip
@click.option(
    "--retry-errors", type=click.IntRange(min=0), default=0, show_default=True,
    help="Resubmissions of an input that failed with an error (e.g. an unreadable video).",
)  # fmt: skip
@click.option(
    "--max-in-flight", type=click.IntRange(min=1), default=None,
    help="Inputs submitted at once (default: twice the workers); bounds memory with thousands of inputs.",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Redo inputs whose outputs are already complete.")
@click.option(
    "--eval", "eval_dir", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="GT_DIR",
    help="Afterwards score the outputs against this folder of PoseTrack21 ground truth (<name>.json).",
)  # fmt: skip
def command(
    inputs: tuple[Path, ...],
    out_dir: Path,
    config: str | None,
    overrides: tuple[str, ...],
    device: str | None,
    start: int,
    end: int | None,
    max_frames: int | None,
    local: bool,
    address: str | None,
    workers: int | None,
    num_cpus: int,
    num_gpus: float,
    max_retries: int,
    retry_errors: int,
    max_in_flight: int | None,
    force: bool,
    eval_dir: Path | None,
) -> None:
    """Track every video or sequence of INPUTS, one task per input, and write <out>/<name>.json each.

    INPUTS are video files and folders: a folder of images is one sequence; a PoseTrack21 root
    contributes every images/<split>/<seq> folder; any other folder contributes the videos and
    image folders inside it. Each worker loads the models once and tracks its inputs one after
    the other; each prediction file is written atomically.

    A rerun skips inputs whose outputs are complete for the same configuration and frame range
    (resume); --force redoes them. A worker that dies is replaced and its input retried
    (--max-retries); an input that fails with an error is reported with the reason and the others
    go on. The exit status is 2 if any input failed (as for any input problem; see "Errors and exit codes").

    Runs on Ray (pip install "kprtrack[ray]"): a private local instance by default, or an existing
    cluster with --address; --local uses a process pool on this machine instead.

    \b
    Examples:
      kprtrack batch synth_val/images/val --out preds --config demo --eval synth_val/posetrack_data/val
      kprtrack batch matches/ --out preds --local --workers 2
      kprtrack batch /data/videos --out /data/preds --address ray://head:10001 --num-gpus 1 --device cuda
    """
    from kprtrack.batch.inputs import BatchInputError, discover_inputs
    from kprtrack.batch.ray_backend import RayClusterError, RayNotInstalledError
    from kprtrack.batch.runner import BatchOptions, run_batch
    from kprtrack.config import ConfigError

    if eval_dir is not None and (start or end is not None or max_frames is not None):
        raise click.UsageError("--eval scores whole sequences: drop --start/--end/--max-frames")
    try:
        options = BatchOptions(
            out_dir=out_dir,
            config=config,
            overrides=list(overrides) + ([f"device={device}"] if device else []),
            start=start,
            end=end,
            max_frames=max_frames,
            backend="local" if local else "ray",
            address=address,
            workers=workers,
            num_cpus=num_cpus,
            num_gpus=num_gpus,
            max_retries=max_retries,
            error_retries=retry_errors,
            max_in_flight=max_in_flight,
            force=force,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    progress: Any = None
    try:
        items = discover_inputs(inputs)
        progress = _Progress(len(items))
        report = run_batch(items, options, on_event=progress)
    except (BatchInputError, ConfigError, OSError, RayNotInstalledError, RayClusterError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if progress is not None:
            progress.close()
    click.echo(report.format())
    if eval_dir is not None:
        click.echo(_evaluate(report, eval_dir, out_dir))
    if report.failed:
        sys.exit(2)

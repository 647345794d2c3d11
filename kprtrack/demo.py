"""``kprtrack demo``: the whole system on a fresh machine, with no download.

Generates a synthetic validation clip (with ground truth), tracks it with the project's shipped
small weights (``configs/demo.yaml``), scores the predictions like the PoseTrack21 kit and
renders an overlay video.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kprtrack.run import RunOptions, RunSummary, run_video


@dataclass
class DemoResult:
    """Where the demo wrote its files and what it measured."""

    folder: Path
    video: Path
    ground_truth: Path
    predictions: Path
    overlay: Path | None
    results: Path
    run: RunSummary
    hota: dict[str, float]
    report: str


def run_demo(
    out: str | Path = "kprtrack_demo",
    frames: int = 150,
    seed: int = 7,
    config: str = "demo",
    overrides: list[str] | None = None,
    render: bool = True,
    progress: bool = True,
) -> DemoResult:
    """Generate a clip, track it, evaluate and render.

    Args:
        out: output folder (created; an earlier demo there is replaced).
        frames: length of the clip (640x360, 25 fps).
        seed: seed of the synthetic clip.
        config: pipeline config (name in ``configs/`` or path).
        overrides: ``key=value`` config overrides.
        render: write the overlay video.
        progress: show progress (a bar on a terminal, plain lines in a log; see kprtrack.progress).
    """
    from kprtrack.eval.evaluate import evaluate_folders
    from kprtrack.eval.options import EvalOptions
    from kprtrack.eval.report import format_report
    from kprtrack.io.atomic import atomic_write_text
    from kprtrack.synth.config import SplitSpec, make_config
    from kprtrack.synth.writer import write_dataset

    folder = Path(out)
    data = folder / "data"
    if frames < 10:
        raise ValueError(f"the demo clip needs at least 10 frames, got {frames}")
    cfg = make_config("val", splits=(SplitSpec("val", 1, frames, 6, 6, 8),), seed=seed, write_masks=False)
    write_dataset(cfg, data, overwrite=True)
    seq = sorted((data / "images" / "val").iterdir())[0]
    gt_dir = data / "posetrack_data" / "val"
    pred_dir = folder / "predictions"
    predictions = pred_dir / f"{seq.name}.json"
    overlay = folder / "overlay.mp4" if render else None
    summary = run_video(
        RunOptions(
            video=seq,
            out=predictions,
            config=config,
            overrides=list(overrides or []),
            render=overlay,
            mot=folder / "tracks_mot.txt",
            progress=progress,
        )
    )
    result = evaluate_folders(gt_dir, pred_dir, EvalOptions(sequences=(seq.name,)))
    results_path = folder / "results.json"
    atomic_write_text(results_path, json.dumps(result.to_json(), indent=1))
    return DemoResult(
        folder=folder,
        video=sorted((data / "videos").rglob("*.mp4"))[0],
        ground_truth=gt_dir / f"{seq.name}.json",
        predictions=predictions,
        overlay=overlay,
        results=results_path,
        run=summary,
        hota=dict(result.combined.hota.summary()),
        report=format_report(result),
    )

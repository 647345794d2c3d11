#!/usr/bin/env python
"""Box tracking quality of a pipeline config on real MOT17 clips (``../shared/real/mot17_mini``).

Runs the pipeline on every sequence, scores the MOT rows with TrackEval in the MOT17 protocol
(``kprtrack.eval.motchallenge``) and, for comparison, scores the same tracks with ``kprtrack eval``'s
box metrics (``kprtrack.eval.boxes``, the kit's rules: distractors as ignore regions) on the
PoseTrack21-style box-only ground truth. Several variants (config overrides) can
be compared in one run; frames/s is the pipeline's own time (decode included).

Examples::

    python tools/eval_real_tracking.py --config real
    python tools/eval_real_tracking.py --config real \\
        --variant appearance= \\
        --variant "motion_only=reid.kind=none;tracker.kind=bytetrack_iou;tracker.params={}"

The MOT17 frames are research-only: this script reads them, it never copies them.
"""

from __future__ import annotations

import argparse
import configparser
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "real" / "mot17_mini"


def track_sequence(
    pipeline, images: Path, gt_json: Path | None = None, pred_json: Path | None = None
) -> tuple[str, int, float]:
    """Track one sequence; returns its MOT rows, frame count and seconds.

    With ``gt_json`` and ``pred_json``, also writes PoseTrack21 predictions with the ground truth's image ids.
    """
    from kprtrack.io.mot import mot_rows
    from kprtrack.io.posetrack21 import PredictionWriter, read_ground_truth
    from kprtrack.run import to_posetrack21

    gt = read_ground_truth(gt_json) if gt_json is not None else None
    writer = PredictionWriter(pred_json, gt.images) if gt is not None and pred_json is not None else None
    rows: list[str] = []
    pipeline.reset()
    t0 = time.perf_counter()
    frames = 0
    for record in pipeline.track(images):
        rows += mot_rows(record)
        if writer is not None:
            writer.add(gt.images[record.frame_index]["id"], to_posetrack21(record))
        frames += 1
    seconds = time.perf_counter() - t0
    if writer is not None:
        writer.close()
    return "".join(r + "\n" for r in rows), frames, seconds


def sequence_names(gt_mot: Path) -> list[str]:
    """The sequences listed in ``<gt_mot>/seqmap.txt`` (after its ``name`` header)."""
    return [line.strip() for line in (gt_mot / "seqmap.txt").read_text().splitlines()[1:] if line.strip()]


def subsample(data: Path, stride: int, out: Path) -> Path:
    """A copy of the clip set keeping every ``stride``-th frame (renumbered; images linked, not copied).

    Larger steps between frames stress the association (people move further, boxes overlap less);
    only the MOTChallenge ground truth is written, so only TrackEval scores the result.
    """
    gt_mot = data / "gt" / "mot"
    for name in sequence_names(gt_mot):
        info = configparser.ConfigParser()
        info.optionxform = str  # keep the keys' case
        info.read(gt_mot / name / "seqinfo.ini")
        length = int(info["Sequence"]["seqLength"])
        kept = list(range(1, length + 1, stride))
        renumber = {old: new for new, old in enumerate(kept, start=1)}
        images = out / "images" / name
        images.mkdir(parents=True)
        for old, new in renumber.items():
            (images / f"{new:06d}.jpg").symlink_to(data / "images" / name / f"{old:06d}.jpg")
        rows = []
        for line in (gt_mot / name / "gt" / "gt.txt").read_text().split():
            frame, rest = line.split(",", 1)
            if int(frame) in renumber:
                rows.append(f"{renumber[int(frame)]},{rest}")
        (out / "gt" / "mot" / name / "gt").mkdir(parents=True)
        (out / "gt" / "mot" / name / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
        info["Sequence"]["seqLength"] = str(len(kept))
        info["Sequence"]["frameRate"] = str(float(info["Sequence"]["frameRate"]) / stride)
        with open(out / "gt" / "mot" / name / "seqinfo.ini", "w") as f:
            info.write(f)
    (out / "gt" / "mot" / "seqmap.txt").write_text((gt_mot / "seqmap.txt").read_text())
    return out


def evaluate_variant(data: Path, config: str, overrides: list[str], threads: int) -> dict[str, float]:
    """Track every sequence with one variant and score it both ways (TrackEval only for subsampled clips)."""
    from kprtrack.eval.boxes import evaluate_boxes, sequence_data
    from kprtrack.eval.loading import load_sequence
    from kprtrack.eval.motchallenge import evaluate_mot
    from kprtrack.pipeline import Pipeline

    gt_mot = data / "gt" / "mot"
    gt_pt = data / "gt" / "posetrack21_boxonly"
    predictions, box_data, frames, seconds = {}, {}, 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name in sequence_names(gt_mot):
            info = configparser.ConfigParser()
            info.read(gt_mot / name / "seqinfo.ini")
            fps = float(info["Sequence"]["frameRate"])
            pipeline = Pipeline.from_config(config, [*overrides, f"threads={threads}"], frame_rate=fps)
            pred = Path(tmp) / f"{name}.json"
            gt_json = gt_pt / f"{name}.json" if gt_pt.is_dir() else None  # subsampled clips have none
            rows, n, dt = track_sequence(pipeline, data / "images" / name, gt_json, pred)
            if gt_json is not None:
                box_data[name] = sequence_data(load_sequence(gt_json, pred))
            predictions[name] = rows
            frames += n
            seconds += dt
        mot = evaluate_mot(gt_mot, predictions)["COMBINED"]
    ours = evaluate_boxes(box_data)[1]["HOTA"] if box_data else float("nan")
    return {**mot, "kprtrack_eval_HOTA": ours, "frames_per_s": frames / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the mot17_mini folder")
    parser.add_argument("--config", default="real")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=KEY=VALUE;...",
        help="a named set of config overrides (separated by ;); default: the config as it is",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stride", type=int, default=1, help="keep every N-th frame (a lower frame rate)")
    args = parser.parse_args()
    variants = {}
    for item in args.variant or ["config="]:
        name, _, rest = item.partition("=")
        variants[name] = [s for s in rest.split(";") if s]
    print(f"{'variant':<22} {'HOTA':>6} {'DetA':>6} {'AssA':>6} {'IDF1':>6} {'MOTA':>6} {'IDs':>4} "
          f"{'FP':>5} {'FN':>5} {'ours':>6} {'fps':>6}")
    tmp = tempfile.TemporaryDirectory()
    data = subsample(args.data, args.stride, Path(tmp.name)) if args.stride > 1 else args.data
    for name, overrides in variants.items():
        r = evaluate_variant(data, args.config, overrides, args.threads)
        print(
            f"{name:<22} {r['HOTA']:6.3f} {r['DetA']:6.3f} {r['AssA']:6.3f} {r['IDF1']:6.3f} {r['MOTA']:6.3f} "
            f"{r['IDSW']:4d} {r['FP']:5d} {r['FN']:5d} {r['kprtrack_eval_HOTA']:6.3f} {r['frames_per_s']:6.2f}"
        )
    print("HOTA..FN: TrackEval, MOT17 protocol; 'ours': kprtrack eval box HOTA on the PoseTrack21-style box-only gt")


if __name__ == "__main__":
    main()

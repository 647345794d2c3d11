#!/usr/bin/env python
"""The paper's claim in our world: KPR with prompts vs KPR without prompts vs an IoU-only ByteTrack.

Generates a synthetic validation set with heavy multi-person occlusion, runs the detector and the
pose model once per frame (shared by all variants, so they see identical detections), then each
variant's re-identification and tracker, writes PoseTrack21 predictions per variant and scores
them with the evaluator (keypoint HOTA / DetA / AssA, pose IDSW, box IDF1 / IDSW). Prints a
Markdown table.

Variants (``--variants``):

* ``kpr_prompts``: ``configs/demo.yaml`` (the shipped KPR, trained with prompts, used with prompts);
* ``kpr_no_prompts``: the same tracker with the KPR trained *without* the prompt tokenizer
  (``--no-prompt-weights``), used without prompts;
* ``kpr_prompts_motion``: ``kpr_prompts`` plus the optional IoU motion cue (``tracker.params.motion=iou``);
* ``bytetrack_iou``: IoU-only ByteTrack, no appearance.

Example::

    python tools/compare_trackers.py --sequences 6 --frames 150 --occlusion 0.7 \\
        --no-prompt-weights weights/kpr_synth_nano_k8_noprompt.pth.tar
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402


def build_variants(args: argparse.Namespace) -> dict[str, dict]:
    from kprtrack.assembly import build_embedder
    from kprtrack.pipeline_config import load_pipeline_config
    from kprtrack.registry import BuildContext

    variants = {}
    for name in args.variants:
        overrides = list(args.set)
        if name == "kpr_no_prompts":
            if not args.no_prompt_weights:
                raise SystemExit("kpr_no_prompts needs --no-prompt-weights FILE")
            overrides += [f"reid.weights={args.no_prompt_weights}", "reid.use_prompts=false"]
        elif name == "kpr_prompts_motion":
            overrides += ["tracker.params.motion=iou"]
        elif name == "bytetrack_iou":
            overrides += ["reid.kind=none", "tracker.kind=bytetrack_iou", "tracker.params={}"]
        elif name != "kpr_prompts":
            raise SystemExit(f"unknown variant {name}")
        cfg = load_pipeline_config(args.config, overrides)
        context = BuildContext(cfg, keypoint_format="posetrack21")
        variants[name] = {"config": cfg, "embedder": build_embedder(cfg, context)}
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="demo", help="base pipeline config (detector, pose, KPR, tracker)")
    parser.add_argument("--variants", nargs="+", default=["kpr_prompts", "kpr_no_prompts", "bytetrack_iou"])
    parser.add_argument("--no-prompt-weights", default=None, help="KPR checkpoint trained without prompts")
    parser.add_argument("--sequences", type=int, default=6)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--occlusion", type=float, default=0.7, help="share of multi-person boxes in the data")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the generated evaluation data")
    parser.add_argument("--data", type=Path, default=None, help="use this generated dataset instead")
    parser.add_argument("--oracle", action="store_true", help="ground-truth boxes and poses (isolates re-id + tracker)")
    parser.add_argument("--set", action="append", default=[], help="config override for every variant")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from tqdm import tqdm

    from kprtrack.assembly import build_detector, build_pose, build_tracker
    from kprtrack.eval.evaluate import evaluate_folders
    from kprtrack.eval.options import EvalOptions
    from kprtrack.io.posetrack21 import PredictionWriter
    from kprtrack.oracle import GroundTruthOracle
    from kprtrack.registry import BuildContext
    from kprtrack.run import to_posetrack21
    from kprtrack.structures import FrameRecord
    from kprtrack.synth.config import SplitSpec, make_config
    from kprtrack.synth.writer import write_dataset
    from kprtrack.track.filters import filter_frame
    from kprtrack.video import FrameSource

    variants = build_variants(args)
    base = next(iter(variants.values()))["config"]
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            split = SplitSpec("val", args.sequences, args.frames, 6, 6, 8)
            cfg = make_config("val", splits=(split,), seed=args.seed, occlusion=args.occlusion, write_masks=False)
            write_dataset(cfg, data)
        gt_dir = data / "posetrack_data" / "val"
        seqs = sorted((data / "images" / "val").iterdir())
        detector = None if args.oracle else build_detector(base)
        pose = None if args.oracle else build_pose(base)
        t0 = time.perf_counter()
        for seq in seqs:
            source = FrameSource(seq)
            oracle = GroundTruthOracle(source.info.gt_path) if args.oracle else None
            det, est = (oracle, oracle) if args.oracle else (detector, pose)
            trackers = {
                n: build_tracker(v["config"], BuildContext(v["config"], frame_rate=source.info.fps))
                for n, v in variants.items()
            }
            writers = {n: PredictionWriter(Path(tmp) / n / f"{seq.name}.json", source.info.images) for n in variants}
            for index, frame in tqdm(source, desc=seq.name, unit="frame"):
                if oracle is not None:
                    oracle.on_frame(index)
                boxes, scores = det.detect([frame])[0]
                kps = est.estimate(frame, boxes)
                rec = FrameRecord(boxes, scores, kps, frame_index=index, keypoint_format=est.keypoint_format)
                for name, v in variants.items():
                    r = rec
                    if v["embedder"] is not None:
                        r = r.with_embeddings(*v["embedder"].embed(frame, r.boxes, r.keypoints))
                    out = filter_frame(to_posetrack21(trackers[name].update(r)), v["config"].output)
                    writers[name].add(source.info.images[index]["id"], out)
            for w in writers.values():
                w.close()
        elapsed = time.perf_counter() - t0
        rows = []
        for name in variants:
            res = evaluate_folders(gt_dir, Path(tmp) / name, EvalOptions())
            h = res.combined.hota.summary()
            clear = res.combined.clear(res.options.clear_protocol)
            boxes = res.combined.boxes or {}
            rows.append((name, h, clear, boxes))
    stages = "ground-truth boxes and poses" if args.oracle else f"detector/pose from {args.config}"
    print(f"\n{len(seqs)} sequences x {args.frames} frames, occlusion {args.occlusion}, seed {args.seed}; {stages}; "
          f"{elapsed:.0f} s\n")  # fmt: skip
    print("| variant | HOTA | DetA | AssA | pose IDSW | pose MOTA | box IDF1 | box IDSW |")
    print("|---|---|---|---|---|---|---|---|")
    for name, h, clear, boxes in rows:
        print(
            f"| {name} | {100 * h['HOTA']:.1f} | {100 * h['DetA']:.1f} | {100 * h['AssA']:.1f} | "
            f"{clear.get('IDSW', float('nan')):.0f} | {100 * clear.get('MOTA', float('nan')):.1f} | "
            f"{100 * boxes.get('IDF1', float('nan')):.1f} | {boxes.get('IDSW', float('nan')):.0f} |"
        )


if __name__ == "__main__":
    main()

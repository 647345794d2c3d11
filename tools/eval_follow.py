#!/usr/bin/env python
"""Follow accuracy on synthetic multi-person-occlusion clips: keypoint prompts vs no prompts.

Generates synthetic validation clips with heavy multi-person occlusion (or reads ``--data``), runs
the detector and the pose model once per frame (shared by all variants), then, per embedder
variant, the re-identification model and the pipeline's tracker. Every ground-truth person seen in
at least ``--min-frames`` frames becomes one query: a simulated user clicks on two of the person's
visible joints (neck and hips first; ``--negative`` adds a click on the most overlapping other
person) on the frame where the person is detected and their box holds the most joints of other people
(the ambiguous case), and the person is followed through the whole clip (:mod:`kprtrack.follow`).

Scores (see :mod:`kprtrack.follow.evaluate`), pooled over all queries' frames:

* accuracy: share of the followed frames whose box is the clicked person's (IoU >= 0.5);
* recall: share of the person's annotated frames that are followed correctly;
* selected: share of queries whose clicks selected the right detection.

Variants (``--variants``):

* ``prompts``: the shipped KPR (trained with prompts, ``configs/demo.yaml``); the query's prompt is the
  estimated pose with the clicked joints moved onto the clicks, the negative click a negative prompt;
* ``prompts_pose``: the same, but the query's prompt is the estimated pose only (clicks only select);
* ``prompts_clicks``: the same, but the query's prompt holds only the clicked joints;
* ``no_prompts``: the KPR trained without prompts (``--no-prompt-weights``), used without prompts
  (clicks only select the person);
* ``prompts_off``: the shipped prompt-trained KPR used without prompts (prompt-optional mode).

Example::

    python tools/eval_follow.py --threads 1 --sequences 6 --frames 150 --occlusion 0.7 --seed 1234
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

#: variant -> (embedder, prompt mode)
VARIANTS = {
    "prompts": ("kpr", "clicks+pose"),
    "prompts_pose": ("kpr", "pose"),
    "prompts_clicks": ("kpr", "clicks"),
    "no_prompts": ("kpr_noprompt", "clicks+pose"),
    "prompts_off": ("kpr_off", "clicks+pose"),
}


@dataclass
class Tally:
    """Pooled counts of one variant."""

    queries: int = 0
    selected: int = 0
    reported: int = 0
    correct: int = 0
    annotated: int = 0
    per_query: list[float] = field(default_factory=list)
    confidence: list[tuple[float, bool]] = field(default_factory=list)

    def add(self, score) -> None:
        self.queries += 1
        self.selected += score.query_correct
        self.reported += score.reported
        self.correct += score.correct
        self.annotated += score.annotated
        self.per_query.append(score.accuracy)


def embedder_overrides(name: str, no_prompt_weights: str) -> list[str]:
    if name == "kpr":
        return []
    if name == "kpr_noprompt":
        return [f"reid.weights={no_prompt_weights}", "reid.use_prompts=false"]
    if name == "kpr_off":
        return ["reid.use_prompts=false"]
    raise SystemExit(f"unknown embedder {name}")


def collect(seq: Path, detector, pose, embedders: dict, configs: dict):
    """Per embedder: the tracked records of every frame (detections and poses shared)."""
    from tqdm import tqdm

    from kprtrack.assembly import build_tracker
    from kprtrack.registry import BuildContext
    from kprtrack.structures import FrameRecord
    from kprtrack.video import FrameSource

    source = FrameSource(seq)
    trackers = {n: build_tracker(configs[n], BuildContext(configs[n], frame_rate=source.info.fps)) for n in embedders}
    records: dict[str, list] = {n: [] for n in embedders}
    for index, frame in tqdm(source, desc=seq.name, unit="frame", leave=False):
        boxes, scores = detector.detect([frame])[0]
        kps = pose.estimate(frame, boxes)
        rec = FrameRecord(boxes, scores, kps, frame_index=index, keypoint_format=pose.keypoint_format)
        for name, embedder in embedders.items():
            r = rec.with_embeddings(*embedder.embed(frame, rec.boxes, rec.keypoints))
            records[name].append(trackers[name].update(r))
    return records


def read_frame(seq: Path, index: int) -> np.ndarray:
    from kprtrack.video import FrameSource

    return next(iter(FrameSource(seq, start=index, max_frames=1)))[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="demo", help="pipeline config (detector, pose, KPR, tracker)")
    parser.add_argument("--variants", nargs="+", default=["prompts", "prompts_pose", "no_prompts"], choices=VARIANTS)
    parser.add_argument("--no-prompt-weights", default="kpr_synth_nano_k8_noprompt")
    parser.add_argument("--sequences", type=int, default=6)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--occlusion", type=float, default=0.7, help="share of multi-person boxes in the data")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the generated clips")
    parser.add_argument("--data", type=Path, default=None, help="use this generated data set (val split) instead")
    parser.add_argument("--min-frames", type=int, default=20, help="people annotated in fewer frames are not queried")
    parser.add_argument(
        "--negative", action="store_true", help="also score each variant with a negative click on the occluder"
    )
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="FollowOptions field")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from kprtrack.assembly import build_detector, build_embedder, build_pose
    from kprtrack.follow.evaluate import crowded_frame, detected_frames, gt_identity, score_follow, simulate_clicks
    from kprtrack.follow.matcher import FollowMatcher, FollowOptions
    from kprtrack.follow.query import build_query
    from kprtrack.io.posetrack21 import read_ground_truth
    from kprtrack.pipeline_config import load_pipeline_config
    from kprtrack.registry import BuildContext
    from kprtrack.synth.config import SplitSpec, make_config
    from kprtrack.synth.writer import write_dataset

    base_options = FollowOptions()
    for item in args.set:
        key, _, value = item.partition("=")
        base_options = replace(base_options, **{key: type(getattr(base_options, key))(value)})
    names = sorted({VARIANTS[v][0] for v in args.variants})
    configs = {n: load_pipeline_config(args.config, embedder_overrides(n, args.no_prompt_weights)) for n in names}
    base = configs[names[0]]
    detector, pose = build_detector(base), build_pose(base)
    embedders = {
        n: build_embedder(configs[n], BuildContext(configs[n], keypoint_format=pose.keypoint_format)) for n in names
    }
    rows = [(v, False) for v in args.variants] + ([(v, True) for v in args.variants] if args.negative else [])
    tallies = {row: Tally() for row in rows}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            split = SplitSpec("val", args.sequences, args.frames, 6, 6, 8)
            cfg = make_config(
                "val", splits=(split,), seed=args.seed, occlusion=args.occlusion, write_masks=False, write_video=False
            )
            write_dataset(cfg, data)
        seqs = sorted((data / "images" / "val").iterdir())
        for seq in seqs:
            gt = read_ground_truth(data / "posetrack_data" / "val" / f"{seq.name}.json").to_records()
            records = collect(seq, detector, pose, embedders, configs)
            ids = sorted({int(t) for r in gt for t in r.track_ids})
            for target in ids:
                if sum(target in r.track_ids for r in gt) < args.min_frames:
                    continue
                detected = detected_frames(next(iter(records.values())), gt, target)  # detections are shared
                n = crowded_frame(gt, target, allowed=detected)
                if n is None:
                    continue
                frame = read_frame(seq, n)
                for variant, negative in rows:
                    clicks = simulate_clicks(gt[n], target, negative=negative)
                    emb_name, mode = VARIANTS[variant]
                    recs = records[emb_name]
                    options = replace(base_options, prompt_mode=mode)
                    try:
                        query = build_query(embedders[emb_name], frame, recs[n], clicks, options.prompt_mode)
                    except ValueError:  # no detection at the clicks: the query fails, nothing is followed
                        tallies[variant, negative].add(score_follow([], gt, target))
                        continue
                    matcher = FollowMatcher(query, options)
                    out = matcher.revise([matcher.step(r, query.row if r.frame_index == n else None) for r in recs])
                    tallies[variant, negative].add(score_follow(out, gt, target))
                    tallies[variant, negative].confidence += [
                        (f.confidence, gt_identity(f.box, gt[f.frame]) == target)
                        for f in out
                        if f.present and not f.clicked
                    ]
    elapsed = time.perf_counter() - t0
    print(
        f"\n{len(seqs)} sequences x {args.frames} frames, occlusion {args.occlusion}, seed {args.seed}, "
        f"options {base_options.to_json()}; {elapsed:.0f} s\n"
    )
    print("| variant | clicks | queries | selected | accuracy | recall | mean per-query accuracy | queries >= 90 % |")
    print("|---|---|---|---|---|---|---|---|")
    for (variant, negative), t in tallies.items():
        acc = t.correct / max(t.reported, 1)
        rec = t.correct / max(t.annotated, 1)
        per = np.asarray(t.per_query)
        print(
            f"| {variant} | {'2 positive + 1 negative' if negative else '2 positive'} | "
            f"{t.queries} | {100 * t.selected / max(t.queries, 1):.1f} | {100 * acc:.1f} | "
            f"{100 * rec:.1f} | {100 * per.mean():.1f} | {100 * (per >= 0.9).mean():.1f} |"
        )
    print("\nShare of followed frames that are the right person, by confidence (clicked frames excluded):\n")
    edges = (0.0, 0.7, 0.75, 0.8, 0.85, 0.9, 1.01)
    labels = [f"[{a:.2f}, {min(b, 1):.2f}{']' if b > 1 else ')'}" for a, b in zip(edges[:-1], edges[1:])]
    print("| variant | clicks | " + " | ".join(labels) + " |")
    print("|---|---|" + "---|" * len(labels))
    for (variant, negative), t in tallies.items():
        conf = np.array([c for c, _ in t.confidence])
        ok = np.array([k for _, k in t.confidence], bool)
        cells = []
        for a, b in zip(edges[:-1], edges[1:]):
            sel = (conf >= a) & (conf < b)
            cells.append(f"{100 * ok[sel].mean():.0f} % of {sel.sum()}" if sel.any() else "-")
        print(f"| {variant} | {'2 positive + 1 negative' if negative else '2 positive'} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

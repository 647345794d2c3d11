#!/usr/bin/env python
"""Benchmark the PoseTrack21 evaluation: N sequences x F frames x P people (generated here).

Usage: ``python tools/bench_eval.py [--sequences 10] [--frames 150] [--people 10] [--repeat 3]``

Writes synthetic GT and predictions (noise, missed and extra detections, identity switches,
ignore regions on some frames) to a temporary folder, then times the full evaluation
(reading + validation + keypoint HOTA + pose CLEAR-MOT + box metrics) and prints the best of
``--repeat`` runs, plus a per-stage breakdown.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from kprtrack.eval.boxes import evaluate_boxes, sequence_data  # noqa: E402
from kprtrack.eval.clear_frames import posetrack21_counts  # noqa: E402
from kprtrack.eval.evaluate import evaluate_folders  # noqa: E402
from kprtrack.eval.hota_keypoints import evaluate_sequence  # noqa: E402
from kprtrack.eval.kit_view import kit_view  # noqa: E402
from kprtrack.eval.loading import find_sequences, load_sequence  # noqa: E402

# a standing stick figure in the PoseTrack21 joint order (ears unannotated in GT)
FIGURE = np.array(
    [(0, -60), (0, -40), (0, -85), (0, 0), (0, 0), (-25, -30), (25, -30), (-35, 0), (35, 0),
     (-40, 30), (40, 30), (-15, 40), (15, 40), (-15, 90), (15, 90), (-15, 140), (15, 140)], float,
)  # fmt: skip


def _image_id(vid: int, t: int) -> int:
    return int(f"1{vid:06d}{t:04d}")


def _person(center: np.ndarray, scale: float, rng: np.random.Generator, noise: float, gt: bool) -> list[float]:
    pts = center + FIGURE * scale + rng.normal(0, noise, FIGURE.shape)
    conf = np.ones(17) if gt else rng.uniform(0.3, 1.0, 17)
    kps = np.column_stack([pts, conf])
    if gt:
        kps[3:5] = 0
    return [round(float(v), 2) for v in kps.ravel()]


def make_sequence(vid: int, frames: int, people: int, seed: int) -> tuple[dict, dict]:
    """One synthetic GT document and its prediction document."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([100, 150], [1180, 500], (people, 2))
    velocity = rng.normal(0, 2.0, (people, 2))
    scale = rng.uniform(0.7, 1.3, people)
    id_map = np.arange(people) + 100
    images, gt_anns, pred_anns = [], [], []
    for t in range(frames):
        img_id = _image_id(vid, t)
        regions = ([[0, 90, 90, 0]], [[0, 0, 720, 720]]) if t % 10 == 0 else ([], [])
        images.append(
            {"id": img_id, "file_name": f"images/val/{vid:06d}_mpii_test/{t:06d}.jpg", "frame_id": img_id,
             "vid_id": vid, "nframes": frames, "is_labeled": True, "has_labeled_person": True,
             "ignore_regions_x": regions[0], "ignore_regions_y": regions[1]}
        )  # fmt: skip
        if t == frames // 2:  # two predicted tracks swap identities
            id_map[[0, 1]] = id_map[[1, 0]]
        for k in range(people):
            center = start[k] + velocity[k] * t
            head = [center[0] - 20 * scale[k], center[1] - 95 * scale[k], 40 * scale[k], 50 * scale[k]]
            box = [center[0] - 60 * scale[k], center[1] - 100 * scale[k], 120 * scale[k], 260 * scale[k]]
            gt_anns.append(
                {"id": len(gt_anns), "image_id": img_id, "track_id": k, "person_id": k, "category_id": 1,
                 "keypoints": _person(center, scale[k], rng, 0.0, True), "bbox": box, "bbox_head": head}
            )  # fmt: skip
            if rng.random() < 0.05:  # missed detection
                continue
            pred_anns.append(
                {"image_id": img_id, "track_id": int(id_map[k]), "category_id": 1, "scores": [0.9] * 17,
                 "keypoints": _person(center, scale[k], rng, 4.0 * scale[k], False),
                 "bbox": [round(v + rng.normal(0, 3), 2) for v in box]}
            )  # fmt: skip
        if rng.random() < 0.1:  # a false positive
            center = rng.uniform([100, 150], [1180, 500])
            pred_anns.append(
                {"image_id": img_id, "track_id": 999, "category_id": 1, "scores": [0.5] * 17,
                 "keypoints": _person(center, 1.0, rng, 2.0, False),
                 "bbox": [center[0] - 60, center[1] - 100, 120, 260]}
            )  # fmt: skip
    gt = {"images": images, "annotations": gt_anns, "categories": []}
    pred = {"images": [{"id": i["id"], "file_name": i["file_name"]} for i in images], "annotations": pred_anns}
    return gt, pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequences", type=int, default=10)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        gdir, pdir = Path(tmp, "gt"), Path(tmp, "pred")
        gdir.mkdir()
        pdir.mkdir()
        for s in range(args.sequences):
            gt, pred = make_sequence(900200 + s, args.frames, args.people, seed=s)
            name = f"{900200 + s:06d}_mpii_test.json"
            (gdir / name).write_text(json.dumps(gt))
            (pdir / name).write_text(json.dumps(pred))

        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = evaluate_folders(gdir, pdir)
            times.append(time.perf_counter() - t0)

        stages = dict.fromkeys(("read+validate", "kit view", "keypoint HOTA", "pose CLEAR-MOT", "box metrics"), 0.0)
        box_data = {}
        for name, g, p in find_sequences(gdir, pdir):
            t0 = time.perf_counter()
            seq = load_sequence(g, p)
            t1 = time.perf_counter()
            view = kit_view(seq)
            t2 = time.perf_counter()
            evaluate_sequence(view)
            t3 = time.perf_counter()
            posetrack21_counts(view)
            t4 = time.perf_counter()
            box_data[name] = sequence_data(seq)
            stages["read+validate"] += t1 - t0
            stages["kit view"] += t2 - t1
            stages["keypoint HOTA"] += t3 - t2
            stages["pose CLEAR-MOT"] += t4 - t3
            stages["box metrics"] += time.perf_counter() - t4
        t0 = time.perf_counter()
        evaluate_boxes(box_data)
        stages["box metrics"] += time.perf_counter() - t0

    s = result.combined.hota.summary()
    c = result.combined.clear("posetrack21")
    b = result.combined.boxes
    print(f"{args.sequences} sequences x {args.frames} frames x {args.people} people")
    print(f"evaluation wall time: best {min(times):.2f} s, runs {', '.join(f'{t:.2f}' for t in times)}")
    print("stages (one run): " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
    print(f"keypoint HOTA {100 * s['HOTA']:.2f}  DetA {100 * s['DetA']:.2f}  AssA {100 * s['AssA']:.2f}")
    print(f"pose MOTA {100 * c['MOTA']:.2f}  IDSW {c['IDSW']}")
    print(f"box HOTA {100 * b['HOTA']:.2f}  MOTA {100 * b['MOTA']:.2f}  IDF1 {100 * b['IDF1']:.2f}  IDSW {b['IDSW']}")


if __name__ == "__main__":
    main()

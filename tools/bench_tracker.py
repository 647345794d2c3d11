"""Benchmark the trackers: per-frame association time, and identity quality on a synthetic scene.

Usage::

    python tools/bench_tracker.py                 # timing: 30 tracks x 30 detections, P = 9 (K = 8), D = 512
    python tools/bench_tracker.py --quality       # also IDF1 / id switches of every variant on a synthetic scene

Timing runs on one CPU thread. "update" is the whole :meth:`update` call (cost matrix, the four passes, memory
and Kalman updates); "cost" is the KPR distance matrix alone, numpy (what the tracker uses) vs the torch
reference :func:`kprtrack.reid.distance.tracking_distance`, whose results it must equal.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from kprtrack.reid.distance import tracking_distance
from kprtrack.structures import FrameRecord
from kprtrack.track import ByteTrackIoU, ByteTrackIoUConfig, KPRTracker, KPRTrackerConfig
from kprtrack.track.association import linear_assignment
from kprtrack.track.base import BaseTracker
from kprtrack.track.costs import kpr_tracking_distance

VARIANTS: dict[str, Callable[[], BaseTracker]] = {
    "kpr": lambda: KPRTracker(KPRTrackerConfig()),
    "kpr+iou": lambda: KPRTracker(KPRTrackerConfig(motion="iou")),
    "kpr+oks": lambda: KPRTracker(KPRTrackerConfig(motion="oks")),
    "bytetrack_iou": lambda: ByteTrackIoU(ByteTrackIoUConfig()),
}


def _timeit(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and mean milliseconds of ``fn`` over ``repeats`` calls (after 20 warm-up calls)."""
    for _ in range(20):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), statistics.fmean(times)


def _crowd(rng: np.random.Generator, people: int, parts: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    ident = rng.normal(size=(people, parts, dim)).astype(np.float32)
    ident /= np.linalg.norm(ident, axis=-1, keepdims=True)
    boxes = np.stack([np.array([60.0 * i, 100, 60.0 * i + 50, 260], np.float32) for i in range(people)])
    return ident, boxes


def _record(rng, ident, boxes, index, visible: float = 0.8) -> FrameRecord:
    n, p, d = ident.shape
    emb = ident + (0.1 / np.sqrt(d)) * rng.standard_normal(ident.shape, dtype=np.float32)
    vis = rng.random((n, p)) < visible
    vis[:, 0] = True
    kp = np.zeros((n, 17, 3), np.float32)
    kp[..., 0] = boxes[:, None, 0] + np.linspace(5, 45, 17)
    kp[..., 1] = boxes[:, None, 1] + np.linspace(5, 155, 17)
    kp[..., 2] = 0.9
    return FrameRecord(boxes, np.full(n, 0.9, np.float32), kp, emb, vis, frame_index=index)


def bench_timing(tracks: int, dets: int, parts: int, dim: int, frames: int) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    ident, boxes = _crowd(rng, max(tracks, dets), parts, dim)
    records = [_record(rng, ident[:dets], boxes[:dets], i) for i in range(frames + 40)]

    print(f"# {tracks} tracks x {dets} detections, P = {parts} entries (K = {parts - 1}), D = {dim}, 1 thread")
    # writable copies: torch.from_numpy warns on the read-only arrays of a FrameRecord
    q = np.array(records[0].embeddings[:tracks])
    qv = np.array(records[0].visibility[:tracks])
    g, gv = np.array(records[1].embeddings), np.array(records[1].visibility)
    diff = np.abs(kpr_tracking_distance(q, qv, g, gv)[0] - tracking_distance(q, qv, g, gv)).max()
    med_t, mean_t = _timeit(lambda: tracking_distance(q, qv, g, gv), frames)
    med_n, mean_n = _timeit(lambda: kpr_tracking_distance(q, qv, g, gv), frames)
    cost, _ = kpr_tracking_distance(q, qv, g, gv)
    med_a, mean_a = _timeit(lambda: linear_assignment(cost, 0.2), frames)
    print(f"cost matrix, torch reference : median {med_t:.3f} ms, mean {mean_t:.3f} ms")
    print(f"cost matrix, numpy (tracker) : median {med_n:.3f} ms, mean {mean_n:.3f} ms (max |diff| {diff:.1e})")
    print(f"lapjv with cost_limit         : median {med_a:.3f} ms, mean {mean_a:.3f} ms")

    for name, make in VARIANTS.items():
        tracker = make()
        tracker.update(records[0][:tracks])  # tracks are confirmed in the first frame
        it = iter(records[1:])
        med, mean = _timeit(lambda tracker=tracker, it=it: tracker.update(next(it)), frames)
        stored = len(tracker.tracks)
        print(f"update() {name:<14}: median {med:.3f} ms, mean {mean:.3f} ms per frame ({stored} tracks stored)")


# ---------------------------------------------------------------------------------------------------- quality
def synthetic_scene(seed: int, people: int = 12, frames: int = 600, dim: int = 128):
    """People walking left/right across a 1280-px stage, occluding each other, leaving and coming back.

    Returns a list of ``(FrameRecord, gt_ids (N,))``. Occluded people (overlapped by someone nearer the
    camera) get a lower score, fewer visible parts and noisier features.
    """
    rng = np.random.default_rng(seed)
    parts = 9
    ident = rng.normal(size=(people, parts, dim)).astype(np.float32)
    ident /= np.linalg.norm(ident, axis=-1, keepdims=True)
    x = rng.uniform(0, 1280, people)
    v = rng.choice([-1, 1], people) * rng.uniform(2, 6, people)
    depth = rng.uniform(0, 1, people)  # larger = nearer the camera
    y = 150 + 200 * depth
    h = 150 + 150 * depth
    away = np.zeros(people, int)
    out = []
    for t in range(frames):
        x = x + v
        v = np.where((x < 0) | (x > 1280), -v, v)
        leaving = (away == 0) & (rng.random(people) < 0.004)
        away[leaving] = rng.integers(5, 90, leaving.sum())
        away = np.maximum(away - 1, 0)
        present = np.flatnonzero(away == 0)
        boxes = np.stack([x - 0.2 * h, y - h / 2, x + 0.2 * h, y + h / 2], 1)[present].astype(np.float32)
        occ = np.zeros(len(present))
        for a in range(len(present)):
            for b in range(len(present)):
                if depth[present[b]] > depth[present[a]]:
                    ix = max(0.0, min(boxes[a, 2], boxes[b, 2]) - max(boxes[a, 0], boxes[b, 0]))
                    occ[a] = max(occ[a], ix / (boxes[a, 2] - boxes[a, 0]))
        keep = occ < 0.9  # fully hidden people are not detected
        present, boxes, occ = present[keep], boxes[keep], occ[keep]
        n = len(present)
        noise = (0.15 + 0.6 * occ)[:, None, None] / np.sqrt(dim)
        emb = ident[present] + noise.astype(np.float32) * rng.standard_normal((n, parts, dim), dtype=np.float32)
        vis = rng.random((n, parts)) > (0.1 + 0.7 * occ)[:, None]
        vis[:, 0] = True
        scores = np.clip(0.95 - 0.7 * occ + rng.normal(0, 0.05, n), 0.05, 1.0).astype(np.float32)
        kp = np.zeros((n, 17, 3), np.float32)
        kp[..., 0] = boxes[:, None, 0] + (boxes[:, None, 2] - boxes[:, None, 0]) * np.linspace(0.2, 0.8, 17)
        kp[..., 1] = boxes[:, None, 1] + (boxes[:, None, 3] - boxes[:, None, 1]) * np.linspace(0.05, 0.95, 17)
        kp[..., :2] += rng.normal(0, 3, (n, 17, 2))
        kp[..., 2] = 0.9
        out.append((FrameRecord(boxes, scores, kp, emb, vis, frame_index=t), present))
    return out


def identity_metrics(gt: list[np.ndarray], pred: list[np.ndarray]) -> dict[str, float]:
    """IDF1 (detections are ground truth, untracked rows count as misses), id switches, tracked fraction."""
    gt_all = np.concatenate(gt)
    pred_all = np.concatenate(pred)
    tracked = pred_all >= 0
    gt_ids, gi = np.unique(gt_all, return_inverse=True)
    pr_ids, pi = np.unique(pred_all[tracked], return_inverse=True)
    co = np.zeros((len(gt_ids), len(pr_ids)))
    np.add.at(co, (gi[tracked], pi), 1)
    matches, _, _ = linear_assignment(-co, 0.0) if co.size else (np.zeros((0, 2), int), None, None)
    idtp = co[matches[:, 0], matches[:, 1]].sum() if len(matches) else 0.0
    idf1 = 2 * idtp / (len(gt_all) + tracked.sum())
    switches = 0
    last: dict[int, int] = {}
    for g, p in zip(gt, pred):
        for gid, pid in zip(g.tolist(), p.tolist()):
            if pid < 0:
                continue
            if gid in last and last[gid] != pid:
                switches += 1
            last[gid] = pid
    return {"idf1": idf1, "id_switches": switches, "tracked": tracked.mean(), "ids": len(pr_ids)}


def bench_quality(seeds: int) -> None:
    print(f"\n# synthetic scene: 12 people, 600 frames, occlusions and exits; mean over {seeds} seeds")
    scenes = [synthetic_scene(s) for s in range(seeds)]
    for name, make in VARIANTS.items():
        results = []
        for scene in scenes:
            tracker = make()
            pred = [tracker.update(rec).track_ids for rec, _ in scene]
            results.append(identity_metrics([g for _, g in scene], pred))
        mean = {k: float(np.mean([r[k] for r in results])) for k in results[0]}
        print(
            f"{name:<14}: IDF1 {mean['idf1']:.3f}  id switches {mean['id_switches']:.1f}  "
            f"rows tracked {mean['tracked']:.3f}  ids {mean['ids']:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=30)
    parser.add_argument("--dets", type=int, default=30)
    parser.add_argument("--parts", type=int, default=9, help="embedding entries P = K + 1")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--frames", type=int, default=300, help="timed repetitions")
    parser.add_argument("--quality", action="store_true", help="also run the synthetic identity benchmark")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    bench_timing(args.tracks, args.dets, args.parts, args.dim, args.frames)
    if args.quality:
        bench_quality(args.seeds)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Person detection of a COCO YOLOX checkpoint on the real assets: input sizes, score thresholds, speed.

Usage::

    python tools/eval_real_detector.py                                  # yolox_nano_coco, default sizes
    python tools/eval_real_detector.py --sizes 416 608x1088 --draw /tmp/realdet_draw --draw-size 608x1088
    python tools/eval_real_detector.py --sizes 416 --denormals          # denormal counts, flush-to-zero timing

Data (``--real``, default ``../shared/real``):

* ``coco_keypoints/test_coco.json``: 4 COCO photos, 14 annotated persons.
* ``mot17_mini``: 22 MOT17 frames; ground truth = rows with class 1 and flag 1. Rows of the distractor
  classes (2 person on vehicle, 7 static person, 8 distractor, 12 reflection) become rectangular ignore
  regions, as in the set's PoseTrack21-style JSON: an unmatched detection with at least half of its area
  inside them is not counted (:mod:`kprtrack.detect.evaluate`'s rule).

A person is found when a detection matches it at IoU >= 0.5 (COCO greedy matching in score order).
For every input size the table gives recall, precision and the number of false boxes at ``--score``,
AP50 (detections down to 0.01) and the milliseconds per ``detect`` call (letterbox, network, NMS,
rescale; batch 1, ``--threads`` torch threads, after warm-up; median CPU time of the calling thread and
fastest wall time) on a 640x360 and a 1920x1080 frame.
Then precision / recall per score threshold (``--scores``) for each size, to choose the tracker's
high / low thresholds, and MOT17 recall per sequence. Timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from kprtrack.detect.detector import YOLOXDetector  # noqa: E402
from kprtrack.detect.evaluate import evaluate_detections, ignore_mask, precision_recall_at  # noqa: E402
from kprtrack.weights import resolve  # noqa: E402

#: MOT17 ground-truth classes whose detections are not false positives (TrackEval's distractors).
MOT_DISTRACTORS = (2, 7, 8, 12)
#: frame sizes (W, H) timed.
TIMED_FRAMES = ((640, 360), (1920, 1080))
DEFAULT_SIZES = ("320", "416", "512", "640", "384x640", "448x800", "608x1088", "736x1280")


@dataclass
class Frame:
    """One evaluated frame: RGB pixels, person boxes ``(M, 4)`` xyxy and an optional ignore mask."""

    name: str
    group: str
    rgb: np.ndarray
    gt: np.ndarray
    ignore: np.ndarray | None


def parse_size(text: str) -> tuple[int, int]:
    """``416`` -> ``(416, 416)``; ``384x640`` -> ``(384, 640)`` (height x width)."""
    parts = [int(p) for p in text.lower().split("x")]
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected N or HxW")
    return parts[0], parts[1]


def _rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path))
    if img is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return np.ascontiguousarray(img[..., ::-1])


def load_coco(root: Path) -> list[Frame]:
    """The photos of ``coco_keypoints/test_coco.json`` with their person boxes (all annotations, xyxy)."""
    data = json.loads((root / "test_coco.json").read_text())
    boxes: dict[int, list[list[float]]] = {img["id"]: [] for img in data["images"]}
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        boxes[ann["image_id"]].append([x, y, x + w, y + h])
    return [
        Frame(name, "coco", _rgb(root / name), np.asarray(boxes[img["id"]]).reshape(-1, 4), None)
        for img in data["images"]
        for name in [img["file_name"]]
    ]


def load_mot(root: Path) -> list[Frame]:
    """Every frame of ``mot17_mini``: pedestrians (class 1, flag 1) and the distractor ignore regions."""
    frames = []
    for seq_dir in sorted((root / "gt" / "mot").iterdir()):
        if not seq_dir.is_dir():
            continue
        rows = np.loadtxt(seq_dir / "gt" / "gt.txt", delimiter=",", ndmin=2)
        for path in sorted((root / "images" / seq_dir.name).glob("*.jpg")):
            t = int(path.stem)
            at = rows[rows[:, 0] == t]
            xyxy = np.concatenate([at[:, 2:4], at[:, 2:4] + at[:, 4:6]], axis=1)
            people = xyxy[(at[:, 7] == 1) & (at[:, 6] == 1)]
            distractors = xyxy[np.isin(at[:, 7], MOT_DISTRACTORS)]
            rgb = _rgb(path)
            polygons = [np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]) for x1, y1, x2, y2 in distractors]
            ignore = ignore_mask(rgb.shape[:2], polygons)
            frames.append(Frame(f"{seq_dir.name}/{path.name}", seq_dir.name, rgb, people, ignore))
    return frames


def detect_all(det: YOLOXDetector, frames: list[Frame]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``detect`` on every frame, one at a time."""
    return [det.detect([f.rgb])[0] for f in frames]


def pr_at(dets: list, frames: list[Frame], scores: list[float]) -> list[dict[str, float]]:
    """Precision / recall / tp / fp at IoU 0.5 for each score threshold."""
    return precision_recall_at(dets, [f.gt for f in frames], scores, [f.ignore for f in frames])


def ap50(dets: list, frames: list[Frame]) -> float:
    """COCO 101-point AP at IoU 0.5."""
    return evaluate_detections(dets, [f.gt for f in frames], [f.ignore for f in frames], (0.5,)).ap50


def time_detect(det: YOLOXDetector, frame: np.ndarray, iters: int, warmup: int = 2) -> tuple[float, float]:
    """Milliseconds of ``det.detect([frame])`` after ``warmup`` calls: (median CPU time, fastest wall time).

    The CPU time is the calling thread's (``time.thread_time``; with one torch thread all work runs
    there), which other processes competing for the cores hardly change; the fastest wall time is the
    least disturbed run.
    """
    for _ in range(warmup):
        det.detect([frame])
    cpu, wall = [], []
    for _ in range(iters):
        tick, tock = time.perf_counter(), time.thread_time()
        det.detect([frame])
        cpu.append(time.thread_time() - tock)
        wall.append(time.perf_counter() - tick)
    return 1000.0 * float(np.median(cpu)), 1000.0 * float(np.min(wall))


def count_denormals(det: YOLOXDetector, frames: list[Frame]) -> tuple[int, int, int, int]:
    """``(denormal weights, weights, denormal activations, activations)`` over the leaf modules' outputs."""
    tiny = torch.finfo(torch.float32).tiny
    weights = torch.cat([t.detach().flatten() for t in det.model.state_dict().values() if t.is_floating_point()])
    counts = [0, 0]

    def hook(_module: torch.nn.Module, _inputs: object, out: torch.Tensor) -> None:
        counts[0] += int(((out != 0) & (out.abs() < tiny)).sum())
        counts[1] += out.numel()

    leaves = [m for m in det.model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        detect_all(det, frames)
    finally:
        for h in handles:
            h.remove()
    return int(((weights != 0) & (weights.abs() < tiny)).sum()), weights.numel(), counts[0], counts[1]


def draw(frame: Frame, boxes: np.ndarray, scores: np.ndarray, path: Path) -> None:
    """Ground truth in green, ignore regions darkened, detections in red with their scores; written as PNG."""
    img = np.ascontiguousarray(frame.rgb[..., ::-1])
    if frame.ignore is not None:
        img[frame.ignore] = (img[frame.ignore] * 0.5).astype(np.uint8)
    for x1, y1, x2, y2 in frame.gt.astype(int):
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 200, 0), 2)
    for (x1, y1, x2, y2), s in zip(boxes.astype(int), scores):
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 0, 255), 2)
        cv2.putText(img, f"{s:.2f}", (x1, max(y1 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def _fmt(row: dict[str, float]) -> str:
    return f"R {row['recall']:.3f} P {row['precision']:.3f} FP {row['fp']:3d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="yolox_nano_coco", help="manifest name or checkpoint path")
    parser.add_argument("--real", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "real")
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[parse_size(s) for s in DEFAULT_SIZES])
    parser.add_argument("--score", type=float, default=0.3, help="score threshold of the summary table")
    parser.add_argument("--scores", type=float, nargs="+", default=[0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5])
    parser.add_argument("--nms", type=float, default=0.45, help="NMS IoU threshold")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=7, help="timed calls per frame size (0: no timing)")
    parser.add_argument("--denormals", action="store_true", help="count denormals, time with flush-to-zero on/off")
    parser.add_argument("--draw", type=Path, default=None, help="write overlays (one COCO photo, one MOT frame) here")
    parser.add_argument("--draw-size", type=parse_size, default=None, help="input size of the overlays")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)  # the letterbox resize too

    weights = resolve(args.weights)
    coco = load_coco(args.real / "coco_keypoints")
    mot = load_mot(args.real / "mot17_mini")
    video = next(f for f in mot if f.rgb.shape[:2] == (1080, 1920)).rgb
    timed = {wh: cv2.resize(video, wh, interpolation=cv2.INTER_AREA) for wh in TIMED_FRAMES}
    sweep = sorted(set(args.scores) | {args.score})
    n_people = sum(len(f.gt) for f in mot)
    print(f"weights {weights}; NMS {args.nms}; {args.threads} thread(s)")
    print(f"COCO: {len(coco)} photos, {sum(len(f.gt) for f in coco)} persons; MOT17-mini: {len(mot)} frames, "
          f"{n_people} pedestrians")  # fmt: skip

    results = {}
    for size in args.sizes:
        det = YOLOXDetector.from_checkpoint(weights, input_size=size, conf_threshold=0.01, nms_threshold=args.nms)
        coco_dets, mot_dets = detect_all(det, coco), detect_all(det, mot)
        untimed = (float("nan"), float("nan"))
        ms = {wh: time_detect(det, frame, args.iters) if args.iters else untimed for wh, frame in timed.items()}
        results[size] = (det, coco_dets, mot_dets, ms)

    print(f"\nsummary at score >= {args.score} (R recall, P precision, FP false boxes; AP50 down to score 0.01)")
    head = f"{'COCO (14 persons)':^26} {'AP50':>5} | {'MOT17-mini':^26} {'AP50':>5}"
    print(f"{'input HxW':>10} | {head} | ms/frame 640x360 | 1920x1080 (CPU median / wall min)")
    for size, (_det, coco_dets, mot_dets, ms) in results.items():
        c = pr_at(coco_dets, coco, [args.score])[0]
        m = pr_at(mot_dets, mot, [args.score])[0]
        cells = f"{_fmt(c)} {ap50(coco_dets, coco):5.3f} | {_fmt(m)} {ap50(mot_dets, mot):5.3f}"
        times = " | ".join(f"{ms[wh][0]:6.1f} / {ms[wh][1]:6.1f}" for wh in TIMED_FRAMES)
        print(f"{size[0]:>4}x{size[1]:<5} | {cells} | {times}")

    print("\nprecision / recall per score threshold")
    for size, (_det, coco_dets, mot_dets, _ms) in results.items():
        print(f"input {size[0]}x{size[1]}")
        for c, m in zip(pr_at(coco_dets, coco, sweep), pr_at(mot_dets, mot, sweep)):
            print(f"  score >= {c['score']:.2f}  COCO {_fmt(c)}   MOT17 {_fmt(m)}")

    groups = sorted({f.group for f in mot})
    print(f"\nMOT17-mini recall per sequence at score >= {args.score}")
    print(f"{'input HxW':>10} | " + " ".join(f"{g:>9}" for g in groups))
    for size, (_det, _coco_dets, mot_dets, _ms) in results.items():
        cells = []
        for g in groups:
            idx = [i for i, f in enumerate(mot) if f.group == g]
            row = pr_at([mot_dets[i] for i in idx], [mot[i] for i in idx], [args.score])[0]
            cells.append(f"{row['recall']:9.3f}")
        print(f"{size[0]:>4}x{size[1]:<5} | " + " ".join(cells))

    if args.denormals:
        det = results[args.sizes[0]][0]
        dw, nw, da, na = count_denormals(det, coco + mot)
        print(f"\ndenormals: {dw} of {nw} weights, {da} of {na} activations (all leaf modules, all frames)")
        for flush in (False, True, False, True):
            torch.set_flush_denormal(flush)
            ms = [time_detect(det, frame, args.iters or 7) for frame in timed.values()]
            cells = "  ".join(f"{w}x{h} {c:.1f} / {m:.1f}" for (w, h), (c, m) in zip(TIMED_FRAMES, ms))
            print(f"  flush_denormal={flush!s:5}  ms (CPU median / wall min): {cells}")
        torch.set_flush_denormal(False)

    if args.draw is not None:
        size = args.draw_size or args.sizes[0]
        det = YOLOXDetector.from_checkpoint(weights, input_size=size, conf_threshold=args.score, nms_threshold=args.nms)
        picks = [coco[-1]] + [f for f in mot if f.name.endswith("000001.jpg")]
        for frame in picks:
            boxes, scores = det.detect([frame.rgb])[0]
            out = args.draw / f"{frame.name.replace('/', '_').rsplit('.', 1)[0]}_{size[0]}x{size[1]}.png"
            draw(frame, boxes, scores, out)
            print(f"wrote {out} ({len(boxes)} boxes, {len(frame.gt)} ground-truth persons)")


if __name__ == "__main__":
    main()

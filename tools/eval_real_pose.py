"""Measure the PP-TinyPose pose stage on real people (``real/coco_keypoints``) and print tables.

    python tools/eval_real_pose.py [--real ../shared/real] [--repeats 20]

1. Mean OKS with ground-truth boxes, COCO sigmas and the annotation's area as the object scale,
   over the labelled joints; people with no labelled joint are ignored (as COCOeval does). Also the
   OKS of the occluded skier (annotation 467657, standing behind another skier).
2. Milliseconds per crop at batch 1 and batch 8 on one CPU thread, network alone and the whole
   stage (crop, normalise, network, decode), with and without ``torch.set_flush_denormal(True)``.
3. Joint-visibility threshold: the share of joints whose score passes 0.3 ... 0.8, split by the
   COCO flag (v=0: not labelled - hidden or out of view; v=1: labelled, occluded; v=2: visible),
   and the threshold that best separates visible joints from hidden ones (largest difference of
   the shares passing, Youden's J), hidden = v in {0, 1} and hidden = v=0 alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kprtrack.eval.coco_keypoints import coco_oks, load_coco_keypoints  # noqa: E402
from kprtrack.pose.tinypose_estimator import IMAGENET_MEAN_255, IMAGENET_STD_255, TinyPoseEstimator  # noqa: E402
from kprtrack.pose.transforms import normalize_crops  # noqa: E402
from kprtrack.weights import repo_weights_dir  # noqa: E402

OCCLUDED_SKIER = 467657
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass
class Person:
    """One annotated person: image index, GT box, keypoints ``(17, 3)`` (x, y, v), area, id."""

    image: int
    box_xyxy: np.ndarray
    keypoints: np.ndarray
    area: float
    ann_id: int


def load_people(root: Path) -> tuple[list[np.ndarray], list[Person]]:
    """RGB images and the people with at least one labelled joint (COCOeval's ``num_keypoints > 0``), by id."""
    coco = load_coco_keypoints(root / "test_coco.json")
    images = [cv2.cvtColor(cv2.imread(str(root / img.file_name)), cv2.COLOR_BGR2RGB) for img in coco]
    people = [
        Person(
            image=i,
            box_xyxy=img.boxes[j].astype(np.float32),
            keypoints=img.keypoints[j],
            area=float(img.areas[j]),
            ann_id=int(img.ann_ids[j]),
        )
        for i, img in enumerate(coco)
        for j in range(len(img.ann_ids))
    ]
    return images, sorted(people, key=lambda p: p.ann_id)


def person_oks(pred_xy: np.ndarray, person: Person) -> float:
    """COCOeval's OKS of one ``(17, 2)`` prediction against one person (labelled joints only)."""
    return float(coco_oks(pred_xy[None], person.keypoints[None], np.array([person.area]))[0, 0])


def predict_all(est: TinyPoseEstimator, images: list[np.ndarray], people: list[Person]) -> np.ndarray:
    """``(P, 17, 3)`` poses, all boxes of an image in one batch (as the pipeline calls the stage)."""
    out = np.zeros((len(people), 17, 3), np.float32)
    for i, image in enumerate(images):
        idx = [k for k, p in enumerate(people) if p.image == i]
        if idx:
            out[idx] = est.estimate(image, np.stack([people[k].box_xyxy for k in idx]))
    return out


def _ms(fn, repeats: int, per: int) -> dict[bool, tuple[float, float]]:
    """``{flush_denormal: (min, median) ms of fn() / per}``; the two settings alternate call by call.

    Alternating keeps bursts of load from other processes out of the comparison.
    """
    times: dict[bool, list[float]] = {False: [], True: []}
    for r in range(repeats + 3):
        for flush in (False, True):
            torch.set_flush_denormal(flush)
            t0 = time.perf_counter()
            fn()
            if r >= 3:  # warm-up
                times[flush].append(time.perf_counter() - t0)
    torch.set_flush_denormal(False)
    return {f: (min(t) * 1e3 / per, statistics.median(t) * 1e3 / per) for f, t in times.items()}


def busiest_image(images: list[np.ndarray], people: list[Person]) -> tuple[np.ndarray, np.ndarray]:
    """The image with the most people and their ``(N, 4)`` GT boxes."""
    counts = np.bincount([p.image for p in people], minlength=len(images))
    i = int(np.argmax(counts))
    return images[i], np.stack([p.box_xyxy for p in people if p.image == i])


def timings(
    est: TinyPoseEstimator, images: list[np.ndarray], people: list[Person], repeats: int
) -> dict[str, dict[bool, tuple[float, float]]]:
    """ms per crop ``{measure: {flush_denormal: (min, median)}}`` for ``net b1``, ``net b8``, ``stage b1``,
    ``stage b8``, on real crops (the people of the busiest image, repeated to 8 boxes)."""
    image, boxes = busiest_image(images, people)
    boxes8 = np.concatenate([boxes] * 8)[:8]
    x8 = normalize_crops(est.predict(image, boxes8).crops, IMAGENET_MEAN_255, IMAGENET_STD_255, swap_channels=False)
    out = {}
    with torch.inference_mode():
        out["net b1"] = _ms(lambda: est.net(x8[:1]), repeats, 1)
        out["net b8"] = _ms(lambda: est.net(x8), repeats, 8)
    out["stage b1"] = _ms(lambda: est.estimate(image, boxes8[:1]), repeats, 1)
    out["stage b8"] = _ms(lambda: est.estimate(image, boxes8), repeats, 8)
    return out


def count_subnormal(net: torch.nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(subnormal, all) float32 values in the outputs of every convolution for input ``x``."""
    tiny = torch.finfo(torch.float32).tiny
    counts = [0, 0]

    def hook(_module, _inputs, output):
        a = output.abs()
        counts[0] += int(((a > 0) & (a < tiny)).sum())
        counts[1] += output.numel()

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return counts[0], counts[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", type=Path, default=REPO.parent / "shared" / "real")
    ap.add_argument("--weights", type=Path, default=repo_weights_dir())
    ap.add_argument("--variants", nargs="+", default=["tinypose_256x192", "tinypose_128x96"])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--no-timing", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    images, people = load_people(args.real / "coco_keypoints")
    print(f"{len(people)} people with labelled joints in {len(images)} images (GT boxes, padding 1.25, UDP crop)\n")

    oks_rows, speed_rows, vis_rows = [], [], []
    for variant in args.variants:
        est = TinyPoseEstimator.from_checkpoint(args.weights / f"{variant}.pth", variant)
        poses = predict_all(est, images, people)
        oks = np.array([person_oks(poses[i, :, :2], p) for i, p in enumerate(people)])
        skier = [i for i, p in enumerate(people) if p.ann_id == OCCLUDED_SKIER]
        oks_rows.append((variant, oks.mean(), (oks >= 0.5).mean(), oks.min(), oks[skier[0]] if skier else float("nan")))

        flags = np.stack([p.keypoints[:, 2] for p in people])
        scores = poses[..., 2]
        shares = {v: [(scores[flags == v] >= t).mean() for t in THRESHOLDS] for v in (0, 1, 2)}
        counts = {v: int((flags == v).sum()) for v in (0, 1, 2)}
        hidden = [(scores[flags < 2] >= t).mean() for t in THRESHOLDS]
        gaps = {"v=0|1": np.array(shares[2]) - np.array(hidden), "v=0": np.array(shares[2]) - np.array(shares[0])}
        shares["v=0|1"] = hidden
        counts["v=0|1"] = int((flags < 2).sum())
        vis_rows.append((variant, counts, shares, gaps))

        if not args.no_timing:
            crops = est.predict(*busiest_image(images, people)).crops
            x = normalize_crops(crops, IMAGENET_MEAN_255, IMAGENET_STD_255, swap_channels=False)
            sub, total = count_subnormal(est.net, x)
            print(f"{variant}: {sub} subnormal values among {total} convolution outputs on {len(x)} real crops")
            t = timings(est, images, people, args.repeats)
            for flush in (False, True):
                speed_rows.append((variant, flush, {k: v[flush] for k, v in t.items()}))

    print("| model | mean OKS (GT boxes) | OKS >= 0.5 | min OKS | occluded skier OKS |")
    print("|---|---|---|---|---|")
    for variant, mean, hit, low, skier in oks_rows:
        print(f"| {variant} | {mean:.3f} | {hit:.2f} | {low:.3f} | {skier:.3f} |")
    if speed_rows:
        where = f"{torch.__version__}, {torch.backends.cpu.get_cpu_capability()}"
        print(f"\nms per crop, 1 thread, min (median) of {args.repeats} runs ({where})")
        print("| model | flush_denormal | net b1 | net b8 | stage b1 | stage b8 |")
        print("|---|---|---|---|---|---|")
        for variant, flush, t in speed_rows:
            cells = " | ".join(f"{t[k][0]:.1f} ({t[k][1]:.1f})" for k in ("net b1", "net b8", "stage b1", "stage b8"))
            print(f"| {variant} | {flush} | {cells} |")
    print("\nshare of joints with score >= threshold, by COCO visibility flag")
    print("| model | flag (joints) | " + " | ".join(f">= {t}" for t in THRESHOLDS) + " |")
    print("|---|---|" + "---|" * len(THRESHOLDS))
    names = {0: "v=0 not labelled", 1: "v=1 occluded", 2: "v=2 visible", "v=0|1": "hidden, v=0 or 1"}
    for variant, counts, shares, gaps in vis_rows:
        for v in (2, 1, 0, "v=0|1"):
            cells = " | ".join(f"{s:.2f}" for s in shares[v])
            print(f"| {variant} | {names[v]} ({counts[v]}) | {cells} |")
        for hidden, gap in gaps.items():
            print(f"| {variant} | J: v=2 minus {hidden} | " + " | ".join(f"{g:+.2f}" for g in gap) + " |")
    for variant, _, _, gaps in vis_rows:
        best = {hidden: THRESHOLDS[int(np.argmax(gap))] for hidden, gap in gaps.items()}
        print(f"{variant}: largest J at score >= {best['v=0|1']} (hidden = v=0|1), >= {best['v=0']} (hidden = v=0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Save a few synthetic frames with their ground truth drawn, for a person to look at.

For each chosen frame a PNG mosaic is written: top left the frame with GT skeletons (filled dots =
visible joints, hollow = occluded), boxes (track colour, label ``t<track>/p<person>``), head boxes
(thin) and ignore regions (red, hatched); top right the parsing map; bottom left the instance map;
bottom right the raw frame.

Usage::

    python tools/show_synth.py                                  # renders val sequences in memory
    python tools/show_synth.py --root data/synth --split val    # reads a generated data set
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's kprtrack, not an installed one

from kprtrack.keypoints import SKELETON  # noqa: E402
from kprtrack.synth.parts import CROWD, PART_COLORS_BGR, PART_NAMES  # noqa: E402


def track_color(track_id: int) -> tuple[int, int, int]:
    """A distinct BGR colour per track id."""
    hue = (track_id * 47) % 180
    hsv = np.uint8([[[hue, 220, 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw_gt(image: np.ndarray, annotations: list[dict], regions: list[np.ndarray]) -> np.ndarray:
    """Draw boxes, head boxes, skeletons and ignore regions on a BGR image (returns a copy)."""
    out = image.copy()
    for poly in regions:
        pts = np.rint(poly).astype(np.int32)
        hatch = out.copy()
        cv2.fillPoly(hatch, [pts], (0, 0, 255))
        out = cv2.addWeighted(out, 0.7, hatch, 0.3, 0)
        cv2.polylines(out, [pts], True, (0, 0, 255), 2)
        cv2.putText(out, "ignore", tuple(pts[0] + [4, 14]), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1)
    for a in annotations:
        col = track_color(a["track_id"])
        x, y, w, h = a["bbox"]
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), col, 1)
        hx, hy, hw, hh = a["bbox_head"]
        cv2.rectangle(out, (int(hx), int(hy)), (int(hx + hw), int(hy + hh)), (255, 255, 255), 1)
        kp = np.asarray(a["keypoints"], float).reshape(17, 3)
        present = (kp[:, 0] > 0) & (kp[:, 1] > 0)
        for i, j in SKELETON:
            if present[i] and present[j]:
                cv2.line(out, tuple(np.rint(kp[i, :2]).astype(int)), tuple(np.rint(kp[j, :2]).astype(int)), col, 1)
        for k in np.flatnonzero(present):
            c = tuple(np.rint(kp[k, :2]).astype(int))
            cv2.circle(out, c, 3, col, -1 if kp[k, 2] > 0 else 1)
        label = f"t{a['track_id']}/p{a['person_id']}"
        cv2.putText(out, label, (int(x), max(10, int(y) - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.38, col, 1)
    return out


def colorize_parts(parts: np.ndarray) -> np.ndarray:
    """Parsing labels -> BGR image with a legend."""
    lut = np.array(PART_COLORS_BGR, np.uint8)
    out = lut[parts]
    for i, name in enumerate(PART_NAMES[1:], 1):
        cv2.rectangle(out, (4, 4 + 12 * (i - 1)), (12, 12 + 12 * (i - 1)), PART_COLORS_BGR[i], -1)
        cv2.putText(out, name, (16, 12 + 12 * (i - 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1)
    return out


def colorize_instances(inst: np.ndarray) -> np.ndarray:
    """Instance map -> BGR (track colours, crowd grey)."""
    out = np.zeros((*inst.shape, 3), np.uint8)
    for v in np.unique(inst):
        if v == 0:
            continue
        out[inst == v] = (128, 128, 128) if v == CROWD else track_color(int(v) - 1)
    return out


def mosaic(image: np.ndarray, anns: list[dict], regions: list[np.ndarray], inst: np.ndarray, parts: np.ndarray):
    """2 x 2 mosaic of one frame."""
    top = np.hstack([draw_gt(image, anns, regions), colorize_parts(parts)])
    bottom = np.hstack([colorize_instances(inst), image])
    return np.vstack([top, bottom])


def _from_memory(args: argparse.Namespace):
    from kprtrack.synth.config import make_config
    from kprtrack.synth.generate import SequenceGenerator
    from kprtrack.synth.writer import annotation_records, split_population

    cfg = make_config(args.preset, seed=args.seed)
    split = args.split or cfg.splits[0].name
    pop = split_population(cfg, split)
    for index in args.sequences:
        gen = SequenceGenerator(cfg, split, index, pop)
        for t in args.frames:
            if t >= len(gen):
                continue
            fr = gen.render(t)
            regions = [np.asarray(p, float) for p in fr.ignore_regions]
            yield f"{gen.name}_{t:06d}", fr.image, annotation_records(gen, fr), regions, fr.instances, fr.parsing


def _from_disk(args: argparse.Namespace):
    from kprtrack.synth.dataset import SynthDataset

    ds = SynthDataset(args.root)
    split = args.split or ds.splits[0]
    seqs = ds.sequences(split)
    for index in args.sequences:
        if index >= len(seqs):
            continue
        seq = seqs[index]
        for t in args.frames:
            if t >= len(seq):
                continue
            image = cv2.cvtColor(seq.frame(t), cv2.COLOR_RGB2BGR)
            regions, inst, parts = seq.ignore_regions(t), seq.instances(t), seq.parsing(t)
            yield f"{seq.name}_{t:06d}", image, seq.annotations(t), regions, inst, parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("outputs/synth_show"), help="folder for the PNGs")
    ap.add_argument("--root", type=Path, help="read this generated data set instead of rendering in memory")
    ap.add_argument("--preset", default="val", help="preset to render in memory (default val)")
    ap.add_argument("--split", help="split (default: the first)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--sequences", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--frames", type=int, nargs="+", default=[10, 75])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    items = _from_disk(args) if args.root else _from_memory(args)
    for name, image, anns, regions, inst, parts in items:
        path = args.out / f"{name}.png"
        cv2.imwrite(str(path), mosaic(image, anns, regions, inst, parts))
        n_vis = sum(int(np.sum(np.asarray(a["keypoints"]).reshape(17, 3)[:, 2] > 0)) for a in anns)
        print(f"{path}: {len(anns)} people, {n_vis} visible joints, {len(regions)} ignore region(s)")


if __name__ == "__main__":
    main()

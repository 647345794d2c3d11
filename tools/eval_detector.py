#!/usr/bin/env python
"""Person-detection AP of a YOLOX checkpoint on a PoseTrack21-layout split (e.g. synthetic ``val``).

Usage::

    kprtrack synth --preset val --out data/synth
    python tools/eval_detector.py weights/yolox_nano_synth_192x320.pth --data data/synth --input-size 192 320

Prints AP@0.5, AP@0.75, AP@[.5:.95] (COCO 101-point, pooled over frames; detections mostly inside
crowd ignore regions are not counted), recall@0.5, precision / recall of the detections above a few
score cut-offs (``--scores``; to choose the tracker's thresholds) and the detector's frames per second.
The ground truth is the annotations' full-extent ``bbox`` (``--box bbox_visible`` for the visible extent).
"""

from __future__ import annotations

import argparse
import json

import torch

from kprtrack.detect import YOLOXDetector
from kprtrack.detect.evaluate import collect_detections, evaluate_detections, precision_recall_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", help="YOLOX checkpoint (Megvii / mmdet format)")
    parser.add_argument("--data", default="data/synth", help="data set folder")
    parser.add_argument("--split", default="val")
    parser.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"))
    parser.add_argument("--conf", type=float, default=0.01, help="score threshold (low for AP)")
    parser.add_argument("--nms", type=float, default=None, help="NMS IoU threshold (default: convention's)")
    parser.add_argument("--box", default="bbox", choices=("bbox", "bbox_visible"))
    parser.add_argument("--frame-stride", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--scores",
        type=float,
        nargs="*",
        default=[0.1, 0.3, 0.5, 0.6],
        help="also print precision / recall at IoU 0.5 of the detections above these scores",
    )
    parser.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    det = YOLOXDetector.from_checkpoint(
        args.weights,
        input_size=tuple(args.input_size) if args.input_size else None,
        conf_threshold=args.conf,
        nms_threshold=args.nms,
    )
    dets, gts, masks, fps = collect_detections(
        det, args.data, args.split, box=args.box, frame_stride=args.frame_stride, progress=not args.quiet
    )
    metrics = evaluate_detections(dets, gts, masks)
    cuts = precision_recall_at(dets, gts, [s for s in args.scores if s >= args.conf], masks)
    out = metrics.as_dict() | {
        "fps": fps,
        "input_size": list(det.config.input_size),
        "conf": args.conf,
        "nms": det.config.nms_threshold,
        "at_scores": cuts,
    }
    print(f"{args.weights} on {args.data}:{args.split} ({args.box}), input {det.config.input_size}:")
    print(f"  AP@0.5        {metrics.ap50:.4f}")
    print(f"  AP@0.75       {metrics.ap75:.4f}")
    print(f"  AP@[.5:.95]   {metrics.ap:.4f}")
    print(f"  recall@0.5    {metrics.recall50:.4f}")
    print(f"  frames {metrics.num_images}, gt boxes {metrics.num_gt}, detections {metrics.num_dets}")
    for c in cuts:
        print(f"  score >= {c['score']:<5g} precision {c['precision']:.4f}  recall {c['recall']:.4f}  (IoU 0.5)")
    print(f"  speed         {fps:.1f} frames/s ({args.threads} thread(s), NMS {det.config.nms_threshold})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""PCKh@0.5 and mean keypoint error of a top-down pose checkpoint on ground-truth boxes.

Usage::

    kprtrack synth --preset val --out data/synth
    python tools/eval_pose.py weights/hrnet_w8_synth_128x96.pth --data data/synth

Boxes are the annotations' full-extent ``bbox``; head size = 0.6 x the ``bbox_head`` diagonal (the
PoseTrack kit's); joints with positive ground-truth coordinates are scored, occluded ones included
(also reported separately). The checkpoint must declare the posetrack21 convention.
"""

from __future__ import annotations

import argparse
import json

import torch

from kprtrack.keypoints import CONVENTIONS
from kprtrack.pose import HRNetPoseEstimator
from kprtrack.pose.evaluate import evaluate_pose, format_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", help="mmpose-format top-down checkpoint")
    parser.add_argument("--data", default="data/synth", help="data set folder")
    parser.add_argument("--split", default="val")
    parser.add_argument("--frame-stride", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=0.5, help="PCKh threshold (fraction of head size)")
    parser.add_argument("--no-flip-test", action="store_true", help="disable the flip test")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    est = HRNetPoseEstimator.from_checkpoint(args.weights, flip_test=False if args.no_flip_test else None)
    metrics, speed = evaluate_pose(est, args.data, args.split, args.frame_stride, args.threshold, not args.quiet)
    print(f"{args.weights} on {args.data}:{args.split} (GT boxes, flip test {est.flip_test}):")
    print(format_table(metrics, CONVENTIONS[est.keypoint_format]))
    print(f"speed            {speed:.1f} people/s ({args.threads} thread(s))")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(metrics.as_dict() | {"people_per_s": speed, "flip_test": est.flip_test}, f, indent=2)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Throughput of the native YOLOX detector: images/s for YOLOX-tiny/s/x at 640.

Measures the whole ``YOLOXDetector.detect`` call (letterbox, network, NMS, rescale) on synthetic
1280x720 RGB frames and, separately, the network alone. Weights are random (speed does not depend
on them). On CUDA the network runs in float16 unless ``--fp32`` is given.

Usage::

    python tools/bench_detect.py                       # CPU, float32
    python tools/bench_detect.py --device cuda         # GPU, float16
    python tools/bench_detect.py --variants s --batch 8 --iters 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from kprtrack.detect.detector import YOLOXDetector, YOLOXDetectorConfig  # noqa: E402
from kprtrack.detect.variants import build_yolox  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(name: str, args: argparse.Namespace) -> tuple[float, float]:
    device = torch.device(args.device)
    fp16 = device.type == "cuda" and not args.fp32
    config = YOLOXDetectorConfig(
        input_size=(args.size, args.size), device=args.device, fp16=fp16, batch_size=args.batch, classes=None
    )
    det = YOLOXDetector(build_yolox(name), config)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8) for _ in range(args.batch)]
    x, _ = det.preprocess([np.ascontiguousarray(f[:, :, ::-1]) for f in frames])
    for _ in range(args.warmup):
        det.detect(frames)
        det.forward(x)
    _sync(device)
    t = time.perf_counter()
    for _ in range(args.iters):
        det.detect(frames)
    _sync(device)
    full = args.iters * args.batch / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(args.iters):
        det.forward(x)
    _sync(device)
    net = args.iters * args.batch / (time.perf_counter() - t)
    return full, net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=["tiny", "s", "x"])
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fp32", action="store_true", help="keep float32 on CUDA")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        what = f"{torch.cuda.get_device_name(device)}, {'float32' if args.fp32 else 'float16'}"
    else:
        what = f"CPU, {torch.get_num_threads()} threads, float32"
    print(f"# YOLOX at {args.size}x{args.size}, batch {args.batch}, {what}, 1280x720 frames")
    print(f"{'variant':12s} {'detect img/s':>13s} {'network img/s':>14s}")
    for name in args.variants:
        full, net = bench(name, args)
        print(f"yolox_{name:6s} {full:13.2f} {net:14.2f}", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Benchmark the native HRNet top-down pose stage: crops per second.

Usage::

    python tools/bench_pose.py                       # HRNet-W32 256x192, CPU, float32
    python tools/bench_pose.py --device cuda         # CUDA, float32 and float16
    python tools/bench_pose.py --variant hrnet_w48_384x288 --crops 16 --iters 10

Prints two figures per setting: ``network`` (the forward pass alone on a batch of normalised crops,
no flip test) and ``estimator`` (``HRNetPoseEstimator.estimate`` on a synthetic 1920x1080 frame with
``--crops`` boxes: warp, normalise, network with the flip test, i.e. 2x the crops, decode). Weights
are random (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from kprtrack.pose.estimator import HRNetPoseEstimator
from kprtrack.pose.variants import VARIANTS, build_pose_model


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, iters: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / iters


def _boxes(n: int, rng: np.random.Generator) -> np.ndarray:
    x1 = rng.uniform(0, 1700, n)
    y1 = rng.uniform(0, 600, n)
    w = rng.uniform(60, 200, n)
    h = rng.uniform(150, 450, n)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="hrnet_w32_256x192", choices=sorted(VARIANTS))
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    parser.add_argument("--dtype", action="append", help="float32 / float16 / bfloat16 (repeatable)")
    parser.add_argument("--crops", type=int, default=8, help="people (boxes) per frame")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtypes = args.dtype or (["float32", "float16"] if device.type == "cuda" else ["float32"])
    torch.manual_seed(0)
    net = build_pose_model(args.variant)
    w, h = net.cfg.pipeline.input_size
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    boxes = _boxes(args.crops, rng)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(
        f"{args.variant} ({w}x{h} crops), device {device} [{where}], torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, {args.crops} crops/frame, {args.iters} iters"
    )
    for dtype in dtypes:
        est = HRNetPoseEstimator(net, device=device, dtype=dtype)
        x = torch.randn(args.crops, 3, h, w, device=device, dtype=est.dtype)

        def network(est: HRNetPoseEstimator = est, x: torch.Tensor = x) -> None:
            with torch.inference_mode():
                est.net(x)

        def estimator(est: HRNetPoseEstimator = est) -> None:
            est.estimate(frame, boxes)

        t_net = _time(network, args.iters, args.warmup, device)
        t_est = _time(estimator, args.iters, args.warmup, device)
        print(
            f"  {dtype:8s} network   {args.crops / t_net:8.1f} crops/s  ({t_net * 1e3:7.1f} ms / batch of {args.crops})"
        )
        print(f"  {dtype:8s} estimator {args.crops / t_est:8.1f} crops/s  ({t_est * 1e3:7.1f} ms / frame, flip test)")


if __name__ == "__main__":
    main()

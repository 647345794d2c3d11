#!/usr/bin/env python
"""Per-stage milliseconds per frame and end-to-end frames/s of the pipeline.

Two settings:

* ``small``: the shipped small models (``configs/demo.yaml``) on a synthetic 640x360 clip;
* ``full``: the full-size architectures (YOLOX-x, HRNet-W32 256x192, KPR Swin-B 384x128) with random
  weights (``configs/bench/full_random.yaml``) on 1920x1080 frames with ``--people`` detections per
  frame (random weights find no real people, so the detector's output is capped at that many boxes;
  compute per frame is what counts).

Examples::

    python tools/bench_pipeline.py small --frames 50
    python tools/bench_pipeline.py full --frames 10 --threads 2
    python tools/bench_pipeline.py full --device cuda --dtype float16 --frames 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def report(name: str, pipe, frames: int, seconds: float, people: float) -> None:
    ms = pipe.timer.ms_per_frame()
    stages = "  ".join(f"{k} {v:7.1f}" for k, v in ms.items())
    print(f"{name}: {frames} frames, {people:.1f} people/frame")
    print(f"  ms/frame: {stages}")
    print(f"  end to end: {frames / seconds:.2f} frames/s ({1000 * seconds / frames:.1f} ms/frame)")


def bench_small(args: argparse.Namespace) -> None:
    from kprtrack.pipeline import Pipeline
    from kprtrack.synth.config import SplitSpec, make_config
    from kprtrack.synth.writer import write_dataset
    from kprtrack.video import FrameSource

    with tempfile.TemporaryDirectory() as tmp:
        split = SplitSpec("val", 1, args.frames + args.warmup, 6, 6, 8)
        cfg = make_config("val", splits=(split,), write_masks=False, write_video=False)
        write_dataset(cfg, Path(tmp))
        seq = sorted((Path(tmp) / "images").glob("*/*"))[0]
        pipe = Pipeline.from_config("demo", [f"device={args.device}", f"dtype={args.dtype}"])
        source = FrameSource(seq)
        it = iter(pipe.track_with_frames(source))
        for _ in range(args.warmup):
            next(it)
        pipe.timer = type(pipe.timer)()
        t0, people = time.perf_counter(), 0
        for _, rec in it:
            people += len(rec)
        dt = time.perf_counter() - t0
        report(
            f"small models, 640x360 ({args.device}, {args.dtype})",
            pipe,
            pipe.timer.frames,
            dt,
            people / pipe.timer.frames,
        )


def bench_full(args: argparse.Namespace) -> None:
    from kprtrack.pipeline import Pipeline

    overrides = [f"max_people={args.people}", f"device={args.device}", f"dtype={args.dtype}"]
    pipe = Pipeline.from_config("bench/full_random", overrides)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8) for _ in range(min(args.frames, 4))]
    for t in range(args.warmup):
        pipe.process(frames[t % len(frames)], t)
    pipe.timer = type(pipe.timer)()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t0, people = time.perf_counter(), 0
    for t in range(args.frames):
        people += len(pipe.process(frames[t % len(frames)], args.warmup + t))
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    report(
        f"full-size random models (YOLOX-x, HRNet-W32, KPR Swin-B), 1920x1080 ({args.device}, {args.dtype})",
        pipe,
        args.frames,
        dt,
        people / args.frames,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("setting", choices=["small", "full", "both"])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--people", type=int, default=10, help="detections per frame in the 'full' setting")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {args.device}")
    if args.device.startswith("cuda"):
        print(f"GPU: {torch.cuda.get_device_name(0)}")
    with torch.inference_mode():
        if args.setting in ("small", "both"):
            bench_small(args)
        if args.setting in ("full", "both"):
            bench_full(args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Per-stage milliseconds per frame and end-to-end frames/s of the pipeline.

Three settings:

* ``small``: the shipped small models (``configs/demo.yaml``) on a synthetic 640x360 clip;
* ``full``: the full-size architectures (YOLOX-x, HRNet-W32 256x192, KPR Swin-B 384x128) with random
  weights (``configs/bench/full_random.yaml``) on 1920x1080 frames with ``--people`` detections per
  frame (random weights find no real people, so the detector's output is capped at that many boxes;
  compute per frame is what counts); ``--config demo --set detector.score_threshold=0`` does the
  same with the shipped small models;
* ``video PATH``: any config (``--config``, default ``real``) on the frames of a video file or image
  folder, decoded into memory first (``--resize WxH`` stretches them).

``--overlap`` runs detection, pose and re-id of consecutive frames at the same time in threads
(``overlap: true``; without it the stages run one after the other, whatever the config says).
``--set KEY=VALUE`` changes the config (e.g. ``threads=2``, ``detector.backend=onnxruntime``).
Per-stage figures are the busy time of each stage; with ``--overlap`` they add up to more than the
end-to-end time. On CUDA the peak GPU memory is printed.

Examples::

    python tools/bench_pipeline.py small --frames 100
    python tools/bench_pipeline.py small --frames 100 --overlap --set pose.backend=onnxruntime
    python tools/bench_pipeline.py full --frames 10 --threads 2
    python tools/bench_pipeline.py full --device cuda --dtype float16 --frames 100
    python tools/bench_pipeline.py video /work/data/vtest_a.mp4 --config real --frames 200 --overlap
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


def overrides(args: argparse.Namespace) -> list[str]:
    """Config overrides from the command line (device, dtype, overlap, then ``--set``)."""
    out = [f"device={args.device}", f"dtype={args.dtype}", f"overlap={'true' if args.overlap else 'false'}"]
    if args.threads:
        out.append(f"threads={args.threads}")
    return out + list(args.set)


def report(name: str, pipe, frames: int, seconds: float, people: float, device: str) -> None:
    ms = pipe.timer.ms_per_frame()
    stages = "  ".join(f"{k} {v:7.1f}" for k, v in ms.items())
    print(f"{name}: {frames} frames, {people:.1f} people/frame, torch threads {torch.get_num_threads()}")
    print(f"  overlap {pipe.overlap}, backends: detector {getattr(pipe.detector, 'backend', 'torch')}, "
          f"pose {getattr(pipe.pose, 'backend', 'torch')}")  # fmt: skip
    print(f"  ms/frame: {stages}")
    print(f"  end to end: {frames / seconds:.2f} frames/s ({1000 * seconds / frames:.1f} ms/frame)")
    if device.startswith("cuda"):
        print(f"  peak GPU memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB allocated, "
              f"{torch.cuda.max_memory_reserved() / 2**20:.0f} MiB reserved")  # fmt: skip


def timed_run(pipe, frames, warmup: int, device: str) -> tuple[int, float, float]:
    """Track ``frames`` (an iterable or a FrameSource); the first ``warmup`` records are not timed."""
    it = iter(pipe.track_with_frames(frames))
    for _ in range(warmup):
        next(it)
    pipe.timer = type(pipe.timer)()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0, people = time.perf_counter(), 0
    for _, rec in it:
        people += len(rec)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    n = pipe.timer.frames
    return n, time.perf_counter() - t0, people / max(n, 1)


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
        pipe = Pipeline.from_config(args.config or "demo", overrides(args))
        n, dt, people = timed_run(pipe, FrameSource(seq), args.warmup, args.device)
        report(f"small models, 640x360 ({args.device}, {args.dtype})", pipe, n, dt, people, args.device)


def bench_full(args: argparse.Namespace) -> None:
    from kprtrack.pipeline import Pipeline

    pipe = Pipeline.from_config(args.config or "bench/full_random", [f"max_people={args.people}", *overrides(args)])
    rng = np.random.default_rng(0)
    distinct = [rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8) for _ in range(min(args.frames, 4))]
    frames = [distinct[t % len(distinct)] for t in range(args.frames + args.warmup)]
    n, dt, people = timed_run(pipe, frames, args.warmup, args.device)
    name = "full-size random models (YOLOX-x, HRNet-W32, KPR Swin-B)" if args.config is None else args.config
    name += f", random 1920x1080 frames, at most {args.people} detections"
    report(f"{name} ({args.device}, {args.dtype})", pipe, n, dt, people, args.device)


def bench_video(args: argparse.Namespace) -> None:
    import cv2

    from kprtrack.pipeline import Pipeline
    from kprtrack.video import FrameSource

    if args.path is None:
        raise SystemExit("video: give the video file or image folder")
    source = FrameSource(args.path, max_frames=args.frames + args.warmup)
    size = tuple(int(v) for v in args.resize.split("x")) if args.resize else None
    frames = [
        frame if size is None else cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for _, frame in source
    ]
    h, w = frames[0].shape[:2]
    pipe = Pipeline.from_config(args.config or "real", overrides(args), frame_rate=source.info.fps)
    n, dt, people = timed_run(pipe, frames, args.warmup, args.device)
    name = f"{args.config or 'real'} on {Path(args.path).name}, {w}x{h}"
    report(f"{name} ({args.device}, {args.dtype})", pipe, n, dt, people, args.device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("setting", choices=["small", "full", "both", "video"])
    parser.add_argument("path", nargs="?", default=None, help="video file or image folder (setting 'video')")
    parser.add_argument("--config", default=None, help="config name or file (default: demo / bench/full_random / real)")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--people", type=int, default=10, help="detections per frame in the 'full' setting")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (the config's 'threads')")
    parser.add_argument("--overlap", action="store_true", help="run the stages of consecutive frames in threads")
    parser.add_argument("--resize", default=None, help="'video': stretch frames to WxH, e.g. 640x360")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, device {args.device}")
    if args.device.startswith("cuda"):
        print(f"GPU: {torch.cuda.get_device_name(0)}")
    if args.setting in ("small", "both"):
        bench_small(args)
    if args.setting in ("full", "both"):
        bench_full(args)
    if args.setting == "video":
        bench_video(args)


if __name__ == "__main__":
    main()

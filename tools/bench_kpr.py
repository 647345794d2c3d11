#!/usr/bin/env python
"""Measure KPR embedding throughput (crops per second).

For each model (the parity-fixture model and Swin-B 384x128 with random weights), batch size and
precision, times the full embedder path on synthetic person crops (cv2 resize + normalisation +
prompt heatmaps with one negative skeleton + one batched forward) and the forward alone.

Usage::

    python tools/bench_kpr.py                      # CPU, float32, batch 1 and 16
    python tools/bench_kpr.py --device cuda        # float32 and float16 autocast
    python tools/bench_kpr.py --models fixture --batches 1,4,16 --threads 2
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from kprtrack.reid.build import build_kpr
from kprtrack.reid.checkpoint import load_kpr_checkpoint
from kprtrack.reid.embedder import KPREmbedder
from kprtrack.reid.model import KPR

DEFAULT_FIXTURE = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "kpr_reference"


def synthetic_people(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """``n`` random RGB crops (about 200x80), their keypoints and one negative skeleton each."""
    rng = np.random.default_rng(seed)
    crops, kps, negs = [], [], []
    for _ in range(n):
        h, w = int(rng.integers(150, 300)), int(rng.integers(60, 120))
        crops.append(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        xy = rng.uniform(0, 1, (2, 17, 2)) * [w, h]
        conf = rng.uniform(0.2, 1.0, (2, 17, 1))
        sk = np.concatenate([xy, conf], axis=2)
        kps.append(sk[0])
        negs.append(sk[1:])
    return crops, np.stack(kps), negs


def load_models(names: list[str], fixture: Path) -> dict[str, KPR]:
    models: dict[str, KPR] = {}
    for name in names:
        if name == "fixture":
            ckpt = fixture / "checkpoint.pth.tar"
            if ckpt.is_file():
                models["fixture (nano Swin, 384x128)"], _ = load_kpr_checkpoint(ckpt, fixture / "architecture.json")
            else:
                models["fixture dims (random, 384x128)"] = build_kpr("kpr_swin_nano_k8", num_classes=16)
        elif name == "swin_base":
            models["Swin-B K=8 (random, 384x128)"] = build_kpr("kpr_swin_base_k8", num_classes=16)
        else:
            raise SystemExit(f"unknown model {name!r}; use fixture, swin_base")
    return models


def time_call(fn, device: torch.device, warmup: int, repeats: int, budget_s: float) -> float:  # noqa: ANN001
    """Median seconds per call (stops early once ``budget_s`` is spent, after at least one timed call)."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats:
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget_s:
            break
    return float(np.median(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    p.add_argument("--dtypes", default=None, help="comma list (default: float32 on CPU, float32,float16 on CUDA)")
    p.add_argument("--models", default="fixture,swin_base", help="comma list of fixture, swin_base")
    p.add_argument("--batches", default="1,16", help="comma list of batch sizes")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget", type=float, default=60.0, help="max seconds of timed calls per row")
    p.add_argument("--fixture", type=Path, default=DEFAULT_FIXTURE)
    args = p.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA requested but not available")
    dtypes = (args.dtypes or ("float32,float16" if device.type == "cuda" else "float32")).split(",")
    batches = [int(b) for b in args.batches.split(",")]
    hw = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"device: {device} ({hw}), torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'model':34s} {'dtype':9s} {'batch':>5s} {'embed crops/s':>14s} {'forward crops/s':>16s}")
    for label, model in load_models(args.models.split(","), args.fixture).items():
        for dtype in dtypes:
            embedder = KPREmbedder(model, device=device, dtype=dtype)
            for batch in batches:
                crops, kps, negs = synthetic_people(batch)
                images, prompts = embedder.preprocess(crops, kps, negs)

                def full(crops=crops, kps=kps, negs=negs, embedder=embedder) -> None:
                    embedder.embed_crops(crops, kps, negs)

                def forward(images=images, prompts=prompts, embedder=embedder) -> None:
                    with torch.inference_mode():
                        embedder.run_model(images, prompts)

                t_full = time_call(full, device, args.warmup, args.repeats, args.budget)
                t_fwd = time_call(forward, device, 0, args.repeats, args.budget)
                print(f"{label:34s} {dtype:9s} {batch:5d} {batch / t_full:14.2f} {batch / t_fwd:16.2f}", flush=True)


if __name__ == "__main__":
    main()

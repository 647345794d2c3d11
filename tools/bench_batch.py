#!/usr/bin/env python
"""Throughput of ``kprtrack batch``: sequences per minute with 1 and 2 workers, on Ray and on the local pool.

Generates synthetic PoseTrack21-layout sequences (640x360, the ``val`` preset's world) once, then
tracks all of them with the shipped small models (``configs/demo.yaml``) for every backend and
worker count, each run into a fresh output folder. The Ray instance (loopback only) is started once
before the Ray runs and its start-up time printed apart; each run's wall time includes starting its
workers and loading their models. The machine's load average is printed before and after, since
other work on the machine changes the figures, and ``--probe`` first measures how much a second
process gains on this machine at all: the same single-threaded torch workload in 1 process, then in
2 processes at once (a machine whose two vCPUs share one physical core gains little).

Example::

    python tools/bench_batch.py --sequences 8 --frames 60 --workers 1 2 --backends ray local
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_sequences(folder: Path, sequences: int, frames: int, seed: int) -> Path:
    """``sequences`` synthetic sequences of ``frames`` frames; returns their ``images/val`` folder."""
    from kprtrack.synth.config import SplitSpec, make_config
    from kprtrack.synth.writer import write_dataset

    spec = SplitSpec("val", sequences, frames, 6, 6, 8)
    write_dataset(make_config("val", splits=(spec,), seed=seed, write_masks=False, write_video=False), folder)
    return folder / "images" / "val"


def _probe_work(seconds: float) -> int:
    """Single-threaded convolutions for ``seconds``; returns how many ran."""
    import torch

    torch.set_num_threads(1)
    conv = torch.nn.Conv2d(32, 32, 3, padding=1)
    x = torch.randn(1, 32, 96, 96)
    n, t0 = 0, time.perf_counter()
    with torch.no_grad():
        while time.perf_counter() - t0 < seconds:
            conv(x)
            n += 1
    return n


def probe(seconds: float = 5.0) -> None:
    """Print the throughput of 2 concurrent single-threaded processes relative to 1."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    rates = {}
    for procs in (1, 2):
        with ctx.Pool(procs) as pool:
            pool.map(_probe_work, [0.5] * procs)  # warm up (imports, first call)
            rates[procs] = sum(pool.map(_probe_work, [seconds] * procs)) / seconds
    print(f"probe: 1 process {rates[1]:.1f} convs/s, 2 processes {rates[2]:.1f} convs/s ({rates[2] / rates[1]:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--frames", type=int, default=60, help="frames per sequence")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backends", nargs="+", default=["ray", "local"], choices=["ray", "local"])
    parser.add_argument("--config", default="demo")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--data", type=Path, default=None, help="reuse (or create) the sequences in this folder")
    parser.add_argument("--probe", action="store_true", help="first measure what a second process gains here")
    args = parser.parse_args()
    if args.probe:
        probe()

    from kprtrack.batch import BatchOptions, discover_inputs, run_batch

    tmp = tempfile.TemporaryDirectory(prefix="kprtrack_bench_batch_")
    root = args.data or Path(tmp.name) / "data"
    images = root / "images" / "val"
    if not images.is_dir():
        t0 = time.perf_counter()
        make_sequences(root, args.sequences, args.frames, args.seed)
        print(f"generated {args.sequences} sequences x {args.frames} frames in {time.perf_counter() - t0:.1f} s")
    inputs = discover_inputs([images])
    print(f"{len(inputs)} sequences in {images}; load average before: {os.getloadavg()}")
    rows = []
    for backend in args.backends:
        if backend == "ray":
            from kprtrack.batch.ray_backend import import_ray

            ray = import_ray(local=True)
            t0 = time.perf_counter()
            ray.init(num_cpus=max(args.workers), include_dashboard=False, log_to_driver=False, logging_level="WARNING")
            print(f"ray.init (local, {max(args.workers)} CPUs): {time.perf_counter() - t0:.1f} s")
        for workers in args.workers:
            out = Path(tmp.name) / f"out_{backend}_{workers}"
            options = BatchOptions(out, config=args.config, backend=backend, workers=workers)
            report = run_batch(inputs, options)
            rows.append((backend, workers, report))
            print(
                f"{backend:5s} {workers} worker(s): {report.seconds:6.1f} s, "
                f"{report.sequences_per_minute():6.2f} sequences/min, {report.frames_per_second():5.2f} frames/s, "
                f"done {report.count('done')}, failed {report.count('failed')}",
                flush=True,
            )
        if backend == "ray":
            ray.shutdown()
    print(f"load average after: {os.getloadavg()}")
    for backend in args.backends:
        by = {w: r for b, w, r in rows if b == backend}
        if 1 in by and 2 in by and by[2].seconds > 0:
            print(f"{backend}: 2 workers / 1 worker speed-up {by[1].seconds / by[2].seconds:.2f}x")
    tmp.cleanup()


if __name__ == "__main__":
    main()

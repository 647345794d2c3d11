"""Benchmark the synthetic-world generator on one CPU core.

Measures, for the first ``--sequences`` sequences of a preset (default: val, 640x360):

* planning: building each :class:`SequenceGenerator` (cast, background, motion plan, occlusion steering);
* rendering only: ``render(t)`` for every frame (image, instance map, parsing map, annotations);
* with writing: ``write_sequence`` (rendering + JPEG + PNG masks + mp4 + validated JSON) into a temp folder.

The process is pinned to one core and OpenCV to one thread. Usage::

    python tools/bench_synth.py                 # val preset, 3 sequences
    python tools/bench_synth.py --sequences 10 --preset val
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's kprtrack, not an installed one

from kprtrack.synth.config import make_config  # noqa: E402
from kprtrack.synth.generate import SequenceGenerator  # noqa: E402
from kprtrack.synth.writer import split_population, write_sequence  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="val")
    ap.add_argument("--split", default=None, help="split (default: the preset's first)")
    ap.add_argument("--sequences", type=int, default=3)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    cfg = make_config(args.preset, seed=args.seed)
    split = args.split or cfg.splits[0].name
    spec = cfg.split(split)
    n = min(args.sequences, spec.num_sequences)
    pop = split_population(cfg, split)
    plan_s = render_s = write_s = 0.0
    frames = 0
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(n):
            t0 = time.perf_counter()
            gen = SequenceGenerator(cfg, split, index, pop)
            t1 = time.perf_counter()
            for t in range(len(gen)):
                gen.render(t)
            t2 = time.perf_counter()
            write_sequence(SequenceGenerator(cfg, split, index, pop), Path(tmp), cfg)
            t3 = time.perf_counter()
            plan_s += t1 - t0
            render_s += t2 - t1
            write_s += t3 - t2 - (t1 - t0)  # the second generator's planning is not writing
            frames += len(gen)
    print(f"preset {args.preset}, split {split}: {n} sequences, {frames} frames at {cfg.width}x{cfg.height}, 1 core")
    print(f"planning          {plan_s / n:8.3f} s per sequence")
    print(f"rendering only    {frames / render_s:8.1f} frames/s")
    print(f"with writing      {frames / write_s:8.1f} frames/s   (JPEG + PNG masks + mp4 + JSON)")
    print(f"end to end        {frames / (plan_s + write_s):8.1f} frames/s   (planning + rendering + writing)")


if __name__ == "__main__":
    main()

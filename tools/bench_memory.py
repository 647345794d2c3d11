#!/usr/bin/env python
"""Peak memory of ``kprtrack run`` on a short and a long video: streaming must keep it flat.

Generates one synthetic 640x360 video per length, runs ``kprtrack run`` of this checkout
(``python -m kprtrack``) on each in a fresh process and prints the peak resident memory (ru_maxrss)
of each run, their ratio and the growth per 1,000 frames.

Example::

    python tools/bench_memory.py --config demo --short 300 --long 10000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


#: the synthetic world writes at most 9,999 frames a sequence (PoseTrack image ids); longer videos loop a clip.
LOOPED_CLIP = 1000


def make_video(folder: Path, frames: int, seed: int) -> Path:
    """A synthetic 640x360 video of ``frames`` frames (a 1,000-frame clip played in a loop past 9,999)."""
    import cv2

    from kprtrack.synth.config import SplitSpec, make_config
    from kprtrack.synth.writer import write_dataset

    length = frames if frames < 10_000 else LOOPED_CLIP
    cfg = make_config("val", splits=(SplitSpec("val", 1, length, 6, 6, 8),), seed=seed, write_masks=False)
    write_dataset(cfg, folder)
    clip = sorted((folder / "videos").rglob("*.mp4"))[0]
    if length == frames:
        return clip
    cap = cv2.VideoCapture(str(clip))
    looped = [cap.read()[1] for _ in range(length)]  # 1,000 frames of 640x360: 0.7 GB here, not in the run
    cap.release()
    path = folder / "looped.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (640, 360))
    for i in range(frames):
        writer.write(looped[i % length])
    writer.release()
    return path


def random_small_weights(folder: Path) -> list[str]:
    """Random-weight small models in the official formats; returns ``--set`` overrides that use them.

    Their detections are random, so the score threshold is zero and ``max_people`` fixes how many
    people every frame carries: the pipeline does the same work per frame as with trained models.
    """
    import torch

    from kprtrack.detect.variants import build_yolox
    from kprtrack.detect.weights import save_megvii_checkpoint
    from kprtrack.pose.checkpoint import save_mmpose_checkpoint
    from kprtrack.pose.variants import build_pose_model
    from kprtrack.reid.build import build_kpr
    from kprtrack.reid.checkpoint import save_kpr_checkpoint

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    save_megvii_checkpoint(folder / "det.pth", build_yolox("yolox_nano", 1))
    save_mmpose_checkpoint(build_pose_model("hrnet_w8_128x96"), folder / "pose.pth")
    save_kpr_checkpoint(build_kpr("kpr_swin_nano_k8"), folder / "kpr.pth.tar")
    return [
        f"detector.weights={folder / 'det.pth'}",
        "detector.score_threshold=0.0",
        f"pose.weights={folder / 'pose.pth'}",
        f"reid.weights={folder / 'kpr.pth.tar'}",
        "max_people=6",
        "tracker.params.high_thresh=0.000001",
        "tracker.params.low_thresh=0.0",
        "tracker.params.new_track_thresh=0.0",
    ]


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` in a child process; return (its peak RSS in MB, seconds)."""
    code = (
        "import resource, subprocess, sys; "
        f"r = subprocess.run({cmd!r}); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"run failed:\n{out.stderr[-2000:]}")
    return int(out.stdout.strip().splitlines()[-1]) / 1024, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="demo")
    parser.add_argument("--short", type=int, default=300)
    parser.add_argument("--long", type=int, default=3000)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument(
        "--random-small", action="store_true", help="random-weight small models instead of --config's weights"
    )
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.random_small:
            args.overrides = random_small_weights(Path(tmp) / "weights") + args.overrides
            args.config = "kprtrack"
        for n in (args.short, args.long):
            video = make_video(Path(tmp) / f"v{n}", n, seed=n)
            out = Path(tmp) / f"p{n}.json"
            cmd = [sys.executable, "-m", "kprtrack", "run", str(video), "--out", str(out), "--config", args.config]
            for o in args.overrides:
                cmd += ["--set", o]
            results[n] = peak_rss_mb(cmd)
            print(f"{n:6d} frames: peak RSS {results[n][0]:8.1f} MB ({results[n][1]:.0f} s)")
    ratio = results[args.long][0] / results[args.short][0]
    growth = (results[args.long][0] - results[args.short][0]) / (args.long - args.short) * 1000
    print(f"long/short peak memory ratio: {ratio:.3f} ({100 * (ratio - 1):+.1f} %), {growth:+.2f} MB per 1,000 frames")


if __name__ == "__main__":
    main()

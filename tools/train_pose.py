#!/usr/bin/env python
"""Train a top-down HRNet on a PoseTrack21-layout data set (e.g. the synthetic world).

Usage::

    kprtrack synth --preset train --out data/synth          # training frames (40 x 200, 640x360)
    python tools/train_pose.py --config configs/train/pose.yaml data=data/synth out_dir=runs/pose
    python tools/train_pose.py epochs=2 augment.rotate_factor=40  # any PoseTrainConfig field as key=value

Settings: ``kprtrack.pose.training.PoseTrainConfig`` (defaults restated in ``configs/train/pose.yaml``).
The run resumes from ``OUT/last.pth`` when it exists (``resume=false`` starts over); it writes
``OUT/log.csv`` and finally ``OUT/pose.pth`` (mmpose ``{'meta', 'state_dict'}`` declaring the
posetrack21 keypoints; loads with ``HRNetPoseEstimator.from_checkpoint``).
"""

from __future__ import annotations

import argparse
import time

from kprtrack.config import dataclass_to_dict
from kprtrack.pose.training import PoseTrainer, config_from_yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=None, help="YAML file of PoseTrainConfig fields")
    parser.add_argument("--stop-after-epoch", type=int, default=None, help="stop after this many epochs (resumable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", help="key=value settings applied after the config file")
    args = parser.parse_args()
    cfg = config_from_yaml(args.config, args.overrides)
    print("pose training config:", dataclass_to_dict(cfg))
    tick = time.perf_counter()
    trainer = PoseTrainer(cfg)
    print(f"{len(trainer.dataset)} people, {trainer.iters_per_epoch} iterations per epoch")
    path = trainer.run(stop_after_epoch=args.stop_after_epoch, progress=not args.quiet)
    print(f"wrote {path} after {time.perf_counter() - tick:.0f} s (started at epoch {trainer.start_epoch + 1})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Train a YOLOX person detector on a PoseTrack21-layout data set (e.g. the synthetic world).

Usage::

    kprtrack synth --preset train --out data/synth          # training frames (40 x 200, 640x360)
    python tools/train_detector.py --config configs/train/detector.yaml data=data/synth out_dir=runs/detector
    python tools/train_detector.py epochs=1 frame_stride=8  # any field of DetectorTrainConfig as key=value

Settings: ``kprtrack.detect.training.DetectorTrainConfig`` (defaults restated in
``configs/train/detector.yaml``). The run resumes from ``OUT/last.pth`` when it exists (``resume=false``
starts over); it writes ``OUT/log.csv`` and finally ``OUT/detector.pth`` (EMA weights, Megvii format,
loads with ``YOLOXDetector.from_checkpoint``).
"""

from __future__ import annotations

import argparse
import time

from kprtrack.config import dataclass_to_dict
from kprtrack.detect.training import DetectorTrainer, config_from_yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=None, help="YAML file of DetectorTrainConfig fields")
    parser.add_argument("--stop-after-epoch", type=int, default=None, help="stop after this many epochs (resumable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", help="key=value settings applied after the config file")
    args = parser.parse_args()
    cfg = config_from_yaml(args.config, args.overrides)
    print("detector training config:", dataclass_to_dict(cfg))
    tick = time.perf_counter()
    trainer = DetectorTrainer(cfg)
    print(f"{len(trainer.dataset)} frames, {trainer.iters_per_epoch} iterations per epoch")
    path = trainer.run(stop_after_epoch=args.stop_after_epoch, progress=not args.quiet)
    print(f"wrote {path} after {time.perf_counter() - tick:.0f} s (started at epoch {trainer.start_epoch + 1})")


if __name__ == "__main__":
    main()

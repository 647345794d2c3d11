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

from kprtrack.detect.training import DetectorTrainConfig, DetectorTrainer, config_from_yaml
from kprtrack.train.script import run_training_script


def main() -> None:
    run_training_script(DetectorTrainer, DetectorTrainConfig, config_from_yaml, __doc__, echo=print)


if __name__ == "__main__":
    main()

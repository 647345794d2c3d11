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

from kprtrack.pose.training import PoseTrainConfig, PoseTrainer, config_from_yaml
from kprtrack.train.script import run_training_script


def main() -> None:
    run_training_script(PoseTrainer, PoseTrainConfig, config_from_yaml, __doc__, echo=print)


if __name__ == "__main__":
    main()

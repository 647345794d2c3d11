#!/usr/bin/env bash
# Reproduce every shipped small model (weights/manifest.yaml, `shipped: true`) from scratch on the
# synthetic world, with the seeds and data presets recorded there:
#   1. the YOLOX-nano person detector and the HRNet-W8 pose model (tools/train_detector_pose.sh),
#   2. the KPR nano model with and without prompts (tools/train_kpr_synth.sh).
# On the 2-core development machine: about 46 min for (1) on one thread and about 40-55 min for (2)
# with its two trainings side by side; run (1) and (2) in parallel on a 4-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/train_detector_pose.sh
bash tools/train_kpr_synth.sh
echo "done: compare sha256 with weights/manifest.yaml via 'kprtrack weights verify' (bit-exactness is not guaranteed across CPUs)"

#!/usr/bin/env bash
# Reproduce the shipped synthetic-world detector and pose weights (one CPU thread each, ~50 min on
# the project's 2-core machine), evaluate them on the synthetic val preset, and copy them to weights/.
#
#   bash tools/train_detector_pose.sh [DATA_DIR] [RUN_DIR]      (defaults: data/synth runs)
#
# Seeds: data seed 0 (kprtrack synth default), training seed 0 (config default).
set -euo pipefail
DATA=${1:-data/synth}
RUNS=${2:-runs}
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
[ -d "$DATA/posetrack_data/val" ] || python -m kprtrack synth --preset val --out "$DATA" --seed 0 --no-video --no-masks
[ -d "$DATA/posetrack_data/train" ] || python -m kprtrack synth --preset train --out "$DATA" --seed 0 --no-video --no-masks
python tools/train_detector.py --config configs/train/detector.yaml data="$DATA" out_dir="$RUNS/detector" --quiet
python tools/train_pose.py --config configs/train/pose.yaml data="$DATA" out_dir="$RUNS/pose" --quiet
mkdir -p weights
cp "$RUNS/detector/detector.pth" weights/yolox_nano_synth_192x320.pth
cp "$RUNS/pose/pose.pth" weights/hrnet_w8_synth_128x96.pth
python tools/eval_detector.py weights/yolox_nano_synth_192x320.pth --data "$DATA" --input-size 192 320 --quiet
python tools/eval_pose.py weights/hrnet_w8_synth_128x96.pth --data "$DATA" --quiet
sha256sum weights/yolox_nano_synth_192x320.pth weights/hrnet_w8_synth_128x96.pth

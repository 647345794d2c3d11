#!/usr/bin/env bash
# One-command GPU check: per-stage ms, frames/s and peak GPU memory of the pipeline on one CUDA GPU,
# full-size models (YOLOX-x, HRNet-W32 256x192, KPR Swin-B 384x128, random weights) and the shipped
# small models, on 1920x1080 frames with 10 people (detections) per frame, float16 and float32,
# sequential and with overlapped stages. Goal: >= 30 frames/s full-size float16 on one H100.
#
#   bash tools/gpu_check.sh            # about 3 minutes on an H100 (FRAMES=100 per row)
#   FRAMES=30 bash tools/gpu_check.sh  # shorter
set -euo pipefail
cd "$(dirname "$0")/.."
FRAMES="${FRAMES:-100}"
PY="${PYTHON:-python}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
SMALL=(--config demo --set detector.score_threshold=0)
for dtype in float16 float32; do
  for overlap in "" "--overlap"; do
    echo "=== full-size, $dtype ${overlap:-sequential}"
    "$PY" tools/bench_pipeline.py full --device cuda --dtype "$dtype" --frames "$FRAMES" --warmup 5 --people 10 $overlap
    echo "=== small models, $dtype ${overlap:-sequential}"
    "$PY" tools/bench_pipeline.py full "${SMALL[@]}" --device cuda --dtype "$dtype" --frames "$FRAMES" --warmup 5 \
      --people 10 $overlap
  done
done

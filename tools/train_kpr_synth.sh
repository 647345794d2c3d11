#!/usr/bin/env bash
# Reproduce the shipped small KPR weights (weights/kpr_synth_nano_k8.pth.tar), the same model
# trained without prompts, and their ReID figures (docs/training.md).
#
#   DATA=data RUNS=runs tools/train_kpr_synth.sh
#
# Everything is seeded (synthetic world seed 0, training seed 0). The two trainings are
# independent and can run in parallel (one torch thread each). On the shared 2-core development
# machine each took about 55 minutes when run side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data}
RUNS=${RUNS:-runs}
PY=${PYTHON:-python}

# 1. synthetic world: a train set with frequent multi-person boxes, a heavily occluded val set
$PY -m kprtrack synth --preset train --occlusion 0.6 --out "$DATA/synth_train" --no-video --quiet
$PY -m kprtrack synth --preset val --occlusion 0.8 --out "$DATA/synth_val_occ" --no-video --quiet

# 2. Occluded-PoseTrack-ReID protocol (60 crops per training identity instead of 20: the world has 150)
$PY tools/build_occ_ptrack.py --root "$DATA/synth_train" --test-root "$DATA/synth_val_occ" \
    --out "$DATA/occ_synth" --train-max-per-id 60 --quiet

# 3. train with and without the prompt tokenizer (configs/train/kpr.yaml, otherwise identical)
$PY tools/train_kpr.py --data "$DATA/occ_synth" --out "$RUNS/kpr_synth_nano_prompts" \
    --set use_prompts=true --set progress=false --copy-to weights/kpr_synth_nano_k8.pth.tar &
with_prompts=$!
$PY tools/train_kpr.py --data "$DATA/occ_synth" --out "$RUNS/kpr_synth_nano_noprompts" \
    --set use_prompts=false --set progress=false &
without_prompts=$!
wait "$with_prompts"
wait "$without_prompts"

# 4. Rank-1 / mAP with and without prompts at test time
$PY tools/eval_reid.py --data "$DATA/occ_synth" --json "$RUNS/kpr_synth_reid.json" \
    --weights weights/kpr_synth_nano_k8.pth.tar \
    --weights "$RUNS/kpr_synth_nano_noprompts/checkpoints/kpr_epoch006.pth.tar"

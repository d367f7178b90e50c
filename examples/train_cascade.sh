#!/usr/bin/env bash
# Train every stage of a small cascade from scratch on a small budget, assemble it, evaluate it, render with it.
# Each stage trains on its own (they could run on three machines); every run resumes with --resume.
#   bash examples/train_cascade.sh [STEPS]      # default 300 steps per stage: ~30-60 min on a 2-core CPU
# Multi-GPU / multi-process: prefix a train command with `accelerate launch -m cascade.cli`, e.g.
#   accelerate launch --num_processes 2 -m cascade.cli train base_video --config configs/base_video/default.yaml --out runs/b
# and two processes on one CPU (accelerate's --cpu alone starts one):
#   accelerate launch --multi_gpu --num_processes 2 -m cascade.cli train base_video --config configs/base_video/tiny.yaml \
#     --out runs/b2 --device cpu
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-300}
BIN=${BIN:-.venv/bin}
RUNS=${RUNS:-runs/example}
mkdir -p "$RUNS"

"$BIN/cascade" data shapes --out "$RUNS/data" --clips 64 -q          # a look at the data: mp4s + captions.jsonl

for stage in base_video temporal_sr spatial_sr; do
  resume=""; [ -d "$RUNS/$stage/checkpoints" ] && resume="--resume"
  "$BIN/cascade" train "$stage" --config "configs/$stage/default.yaml" --out "$RUNS/$stage" \
    --max-steps "$STEPS" --device auto $resume
done

"$BIN/cascade" assemble --stage text_encoder=preset:default --stage base_video="$RUNS/base_video/export" \
  --stage temporal_sr="$RUNS/temporal_sr/export" --stage spatial_sr="$RUNS/spatial_sr/export" --out "$RUNS/weights"
"$BIN/cascade" eval "$RUNS/weights" --seeds 1 --max-prompts 24 --out "$RUNS/eval"
"$BIN/cascade" render "a yellow triangle moving up" --weights "$RUNS/weights" -o "$RUNS/triangle.mp4" -v
echo "report: $RUNS/eval/index.html"

#!/usr/bin/env bash
# Reproduce the shipped cascade in weights/ from configs/: data sample, each stage's training (resumable:
# re-run the same command after an interruption), export, assembly with a sha256 manifest, evaluation.
#   scripts/make_weights.sh            # CPU (2 cores): see weights/README.md for wall times
#   DEVICE=cuda scripts/make_weights.sh
# RUNS, OUT and DATA move its folders; TRAIN_ARGS and EVAL_ARGS reach every `cascade train` / the `cascade eval`
# (tests/test_make_weights.py runs the whole script with TRAIN_ARGS="--max-steps 2").
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
RUNS=${RUNS:-runs}
DEVICE=${DEVICE:-auto}
OUT=${OUT:-weights}
DATA=${DATA:-data/shapes}
TRAIN_ARGS=${TRAIN_ARGS:-}
EVAL_ARGS=${EVAL_ARGS:-}
mkdir -p "$RUNS"

# 1. a sample of the procedural data set on disk (training itself renders the same clips in memory)
[ -f "$DATA/captions.jsonl" ] || "$BIN/cascade" data shapes --out "$DATA" --clips 256 -q

# 2. each stage on its own; --resume continues an interrupted run from its last checkpoint
#    train RUN STAGE CONFIG [ARGS...]: trains into $RUNS/RUN unless its export is there (RETRAIN=1: always)
train() {
  local run=$1 stage=$2 config=$3 resume=""
  shift 3
  if [ ! -f "$RUNS/$run/export/model.safetensors" ] || [ -n "${RETRAIN:-}" ]; then
    [ -d "$RUNS/$run/checkpoints" ] && resume="--resume"
    "$BIN/cascade" train "$stage" --config "$config" --out "$RUNS/$run" --device "$DEVICE" "$@" $resume $TRAIN_ARGS
  fi
}
for stage in base_video temporal_sr spatial_sr; do
  train "$stage" "$stage" "configs/$stage/default.yaml"
done
# 2b. the base stage fine-tuned on captions that also say colours, directions and motions in other words, read with
#     the wordnet-screen lexicon (configs/base_video/screen.yaml); it starts from the base trained above
train base_screen base_video configs/base_video/screen.yaml --set init_from="$RUNS/base_video/export"

# 3. assemble the cascade (graph + sha256 of every file + data spec, held-out combinations, training runs)
"$BIN/python" scripts/weights_manifest.py "$RUNS" > "$RUNS/manifest_extra.json"
# into the run folder first: assemble refuses to replace a folder holding files it did not write (weights/README.md);
# the cascade's own files are then copied over the shipped ones, the README stays
"$BIN/cascade" assemble --stage text_encoder=preset:screen --stage base_video="$RUNS/base_screen/export" \
  --stage temporal_sr="$RUNS/temporal_sr/export" --stage spatial_sr="$RUNS/spatial_sr/export" \
  --manifest "$RUNS/manifest_extra.json" --out "$RUNS/weights"
mkdir -p "$OUT" && cp -R "$RUNS/weights/." "$OUT/"

# 4. evaluate
"$BIN/cascade" eval "$OUT" --suite shapes --seeds 2 --out "$RUNS/eval" --device "$DEVICE" $EVAL_ARGS

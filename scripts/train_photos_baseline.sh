#!/usr/bin/env bash
# The pixel cascade's recipe trained on the photos world (configs/photos/), assembled and evaluated with the photos
# suite: the baseline the latent path is measured against. Resumable (re-run the same command).
#   scripts/train_photos_baseline.sh                       # full budgets from configs/photos/*.yaml
#   BASE_STEPS=700 TSR_STEPS=400 SSR_STEPS=300 scripts/train_photos_baseline.sh   # shorter budgets
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
RUNS=${RUNS:-runs/photos}
DEVICE=${DEVICE:-auto}
EVAL_ARGS=${EVAL_ARGS:-"--seeds 1"}
mkdir -p "$RUNS"
declare -A STEPS=([base_video]=${BASE_STEPS:-} [temporal_sr]=${TSR_STEPS:-} [spatial_sr]=${SSR_STEPS:-})
for stage in base_video temporal_sr spatial_sr; do
  if [ ! -f "$RUNS/$stage/export/model.safetensors" ]; then
    resume=""; [ -d "$RUNS/$stage/checkpoints" ] && resume="--resume"
    limit=""; [ -n "${STEPS[$stage]}" ] && limit="--max-steps ${STEPS[$stage]}"
    "$BIN/cascade" train "$stage" --config "configs/photos/$stage.yaml" --out "$RUNS/$stage" --device "$DEVICE" \
      $resume $limit -q
  fi
done
"$BIN/python" - > "$RUNS/manifest_extra.json" <<'PY'
import json
from cascade.data.photos import SUBJECT_WORDS, TRAIN_COMBOS, TRAIN_TEMPLATES, caption
from cascade.data.photos_writer import held_out_manifest
from cascade.vocabulary import caption_vocabulary
captions = [caption(s, m, t, w) for s, m in TRAIN_COMBOS for t in TRAIN_TEMPLATES for w in SUBJECT_WORDS[s]]
print(json.dumps({"data": {"kind": "photos", "description": "a camera panning and zooming over real photographs"},
                  "held_out": held_out_manifest(), "vocabulary": caption_vocabulary(captions)}, indent=2))
PY
# text_encoder "large": 32 tokens, prompts as given (no shapes lexicon)
"$BIN/cascade" assemble --stage text_encoder=preset:large --stage base_video="$RUNS/base_video/export" \
  --stage temporal_sr="$RUNS/temporal_sr/export" --stage spatial_sr="$RUNS/spatial_sr/export" \
  --manifest "$RUNS/manifest_extra.json" --out "$RUNS/weights"
"$BIN/cascade" eval "$RUNS/weights" --suite photos --out "$RUNS/eval" --device "$DEVICE" $EVAL_ARGS -q

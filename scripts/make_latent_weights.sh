#!/usr/bin/env bash
# The latent cascade on the photos world, from configs/: the autoencoder (per frame), its temporal decoder, the latent
# base_video and temporal_sr (trained in the per-frame autoencoder's latents, cached on disk), assembled as
#   text_encoder -> base_video (latent) -> temporal_sr (latent) -> autoencoder (temporal decoder) -> 128x128 pixels
# with a sha256 manifest, then evaluated with the photos suite. Resumable: re-run the same command after an
# interruption (a finished stage is kept, an interrupted one continues from its last checkpoint; RETRAIN=1 redoes all).
#   scripts/make_latent_weights.sh
#   DEVICE=cuda scripts/make_latent_weights.sh
# RUNS and OUT move its folders (the cascade goes to weights/photos_latent); CONFIGS points at another configs folder
# (autoencoder/photos.yaml, autoencoder/photos_whole.yaml, autoencoder/photos_temporal.yaml, latent/base_video.yaml,
# latent/temporal_sr.yaml); TRAIN_ARGS and EVAL_ARGS reach every `cascade train` / the `cascade eval`
# (tests/test_make_latent_weights.py runs it with TRAIN_ARGS="--max-steps 2").
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
RUNS=${RUNS:-runs/latent}
DEVICE=${DEVICE:-auto}
OUT=${OUT:-weights/photos_latent}
CONFIGS=${CONFIGS:-configs}
TRAIN_ARGS=${TRAIN_ARGS:-}
EVAL_ARGS=${EVAL_ARGS:-"--seeds 1"}
mkdir -p "$RUNS"
AE="$RUNS/autoencoder/export"

train() {  # RUN_NAME STAGE CONFIG [--set ...]: train unless exported, resuming an interrupted run
  local name=$1 stage=$2 config=$3; shift 3
  if [ ! -f "$RUNS/$name/export/model.safetensors" ] || [ -n "${RETRAIN:-}" ]; then
    local resume=""; [ -d "$RUNS/$name/checkpoints" ] && resume="--resume"
    "$BIN/cascade" train "$stage" --config "$config" --out "$RUNS/$name" --device "$DEVICE" $resume "$@" $TRAIN_ARGS
  fi
}

# 1. the autoencoder, per frame: on small crops, then on whole frames; then its temporal decoder (encoder frozen, so
# it decodes the same latents)
train autoencoder_crops autoencoder "$CONFIGS/autoencoder/photos.yaml"
train autoencoder autoencoder "$CONFIGS/autoencoder/photos_whole.yaml" --set "init_from=$RUNS/autoencoder_crops/export"
train autoencoder_temporal autoencoder "$CONFIGS/autoencoder/photos_temporal.yaml" --set "init_from=$AE"

# 2. the latent stages, in the per-frame autoencoder's latents (encoded once, cached in $RUNS/latent_cache)
for stage in base_video temporal_sr; do
  train "$stage" "$stage" "$CONFIGS/latent/$stage.yaml" --set "model.latent.autoencoder=$AE" \
    --latent-cache "$RUNS/latent_cache"
done

# 3. assemble (graph, sha256 of every file, held-out combinations, training runs); the graph checks that the decoder
# is the autoencoder the latent stages were trained in
"$BIN/python" - "$RUNS" > "$RUNS/manifest_extra.json" <<'PY'
import json, sys
from pathlib import Path
from cascade.data.photos import SUBJECT_WORDS, TRAIN_COMBOS, TRAIN_TEMPLATES, caption
from cascade.data.photos_writer import held_out_manifest
from cascade.vocabulary import caption_vocabulary
runs = Path(sys.argv[1])
captions = [caption(s, m, t, w) for s, m in TRAIN_COMBOS for t in TRAIN_TEMPLATES for w in SUBJECT_WORDS[s]]
training = {}
for name in ("autoencoder_crops", "autoencoder", "autoencoder_temporal", "base_video", "temporal_sr"):
    rows = [json.loads(l) for l in (runs / name / "metrics.jsonl").read_text().splitlines() if l.strip()]
    train = [r for r in rows if r.get("event") == "train"]
    training[name] = {"steps": train[-1]["step"] if train else 0, "final_loss": train[-1]["loss"] if train else None,
                      "data": json.loads((runs / name / "config.json").read_text()).get("data")}
print(json.dumps({"data": {"kind": "photos", "description": "a camera panning and zooming over real photographs"},
                  "held_out": held_out_manifest(), "vocabulary": caption_vocabulary(captions),
                  "training": training}, indent=2))
PY
# text_encoder "large": 32 tokens, prompts as given, as configs/latent/base_video.yaml reads them
"$BIN/cascade" assemble --stage text_encoder=preset:large --stage base_video="$RUNS/base_video/export" \
  --stage temporal_sr="$RUNS/temporal_sr/export" --stage autoencoder="$RUNS/autoencoder_temporal/export" \
  --manifest "$RUNS/manifest_extra.json" --out "$OUT"

# 4. evaluate
"$BIN/cascade" eval "$OUT" --suite photos --out "$RUNS/eval" --device "$DEVICE" $EVAL_ARGS

"""scripts/make_latent_weights.sh end to end on a tiny budget: tiny configs (a 16x16 autoencoder, tiny latent
stages) at two steps each, into a temporary folder. It guards the plumbing (autoencoder and temporal decoder
training, latent stages trained in its latents, assembly with the decoder checked against them, the manifest,
evaluation), not the quality."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
RUN = {"optim": {"lr": 1.0e-3, "warmup_steps": 1}, "batch_size": 2, "max_steps": 3, "checkpoint_every": 2,
       "sample_every": 2, "log_every": 1, "trackers": []}
AE_DATA = {"kind": "photos", "num_clips": 4, "seed": 3, "frames": 2, "fps": 2.0, "num_preview_clips": 1,
           "scale_clips": 2}


def tiny_configs(root: Path) -> None:
    latent = {"autoencoder": "runs/latent/autoencoder/export"}
    configs = {
        "autoencoder/photos.yaml": {"stage": "autoencoder", "preset": "tiny", "data": AE_DATA, **RUN},
        "autoencoder/photos_whole.yaml": {"stage": "autoencoder", "preset": "tiny", "init_from": "runs/ae/export",
                                          "data": AE_DATA, **RUN},
        "autoencoder/photos_temporal.yaml": {"stage": "autoencoder", "preset": "tiny", "init_from": "runs/ae/export",
                                             "model": {"temporal_decoder": True},
                                             "data": {**AE_DATA, "frames": 4, "fps": 8.0}, **RUN},
        "latent/base_video.yaml": {"stage": "base_video", "preset": "tiny", **RUN,
                                   "model": {"text": {"length": 32, "dim": 384}, "height": 16, "width": 16,
                                             "latent": latent},
                                   "data": {"kind": "photos", "wordings": "varied", "num_clips": 4, "seed": 0,
                                            "num_preview_clips": 1}},
        "latent/temporal_sr.yaml": {"stage": "temporal_sr", "preset": "tiny", **RUN,
                                    "model": {"height": 16, "width": 16, "latent": latent},
                                    "data": {"kind": "photos", "num_clips": 4, "seed": 1, "num_preview_clips": 1}},
    }
    for rel, cfg in configs.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(yaml.safe_dump(cfg))


def test_make_latent_weights_script_runs_end_to_end(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "weights"
    tiny_configs(tmp_path / "configs")
    env = {**os.environ, "BIN": str(Path(sys.executable).parent), "RUNS": str(runs), "OUT": str(out),
           "CONFIGS": str(tmp_path / "configs"), "DEVICE": "cpu", "TRAIN_ARGS": "--max-steps 2 -q",
           "EVAL_ARGS": "--max-prompts 2 --seeds 1 -q", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", "scripts/make_latent_weights.sh"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]

    manifest = json.loads((out / "cascade.json").read_text())
    for rel, sha in manifest["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == sha, rel
    assert list(manifest["graph"]["nodes"]) == ["text_encoder", "base_video", "temporal_sr", "autoencoder"]
    assert {k: v["steps"] for k, v in manifest["training"].items()} == dict.fromkeys(
        ("autoencoder_crops", "autoencoder", "autoencoder_temporal", "base_video", "temporal_sr"), 2)
    base = json.loads((out / "base_video" / "config.json").read_text())
    assert base["latent"]["autoencoder"] == str(runs / "autoencoder" / "export")
    decoder = json.loads((out / "autoencoder" / "config.json").read_text())
    assert decoder["role"] == "decode" and decoder["temporal_decoder"] and (decoder["height"], decoder["width"]) == (16, 16)
    assert list((runs / "latent_cache").glob("*/shard_*.safetensors"))  # the latent stages' encoded clips
    report = json.loads((runs / "eval" / "report.json").read_text())
    assert report["fidelity"]["overall"]["n"] == 2


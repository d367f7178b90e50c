"""`make weights` end to end on a tiny budget: scripts/make_weights.sh with every stage's default config cut to two
steps, into a temporary folder. It guards the plumbing (data, training from configs/, export, assembly with the
manifest, the graph check, evaluation), not the quality: that is cascade eval on the shipped weights."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def test_make_weights_script_runs_end_to_end(tmp_path):
    out, runs = tmp_path / "weights", tmp_path / "runs"
    env = {**os.environ, "BIN": str(Path(sys.executable).parent), "RUNS": str(runs), "OUT": str(out),
           "DATA": str(tmp_path / "data"), "DEVICE": "cpu", "TRAIN_ARGS": "--max-steps 2 -q",
           "EVAL_ARGS": "--max-prompts 3 --seeds 1 -q", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", "scripts/make_weights.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]

    manifest = json.loads((out / "cascade.json").read_text())
    for rel, sha in manifest["files"].items():  # every file it names is there, with that sha256
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == sha, rel
    stages = ("base_video", "temporal_sr", "spatial_sr")
    assert {s: manifest["training"][s]["steps"] for s in stages} == dict.fromkeys(stages, 2)
    assert manifest["training"]["base_video"]["fine_tuned_from"]["steps"] == 2
    # trained from the configs in configs/, data section included; the shipped base is the default one fine-tuned
    for run, config in [(s, f"{s}/default.yaml") for s in stages] + [("base_screen", "base_video/screen.yaml")]:
        data = yaml.safe_load((REPO / "configs" / config).read_text())["data"]
        trained = json.loads((runs / run / "config.json").read_text())
        assert {k: trained["data"][k] for k in data} == data, run
    assert json.loads((runs / "base_screen" / "config.json").read_text())["init_from"] == str(runs / "base_video" /
                                                                                              "export")
    # the text encoder it assembles reads prompts as the base stage was trained to (the graph checked it too)
    text = json.loads((out / "text_encoder" / "config.json").read_text())
    base = json.loads((out / "base_video" / "config.json").read_text())
    assert text["lexicon"] == base["text"]["lexicon"] == "wordnet-screen"
    report = json.loads((runs / "eval" / "report.json").read_text())
    assert report["fidelity"]["overall"]["n"] == 3
    assert (tmp_path / "data" / "captions.jsonl").is_file()

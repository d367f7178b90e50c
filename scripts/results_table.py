"""Write docs/results.md from one or more `cascade eval` report.json files.

    python scripts/results_table.py runs/eval/report.json [OTHER/report.json ...] [--out docs/results.md]
        [--source TEXT] [--note TEXT]

For each report, in the order given: prompt fidelity per group (full cascade and base stage alone), every node
that has a training-free baseline (the SR stages) against it, keyed by node name (a latent node in decoded pixels,
beside its autoencoder's round trip), temporal consistency, the
Fréchet distance beside its real-vs-real range, and render time. Every table is headed with the report's date,
weights and commit: the report's own `date` and `commit` when it carries them, else the file's modification date
and `git rev-parse --short HEAD` at the time this script runs. Reads report.json only (no torch, no cascade import).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "results.md"
SHAPES_ATTRIBUTES = ("colour", "shape", "motion")  # reports that do not list their suite's attributes
TITLES = {"fidelity": "Prompt fidelity, full cascade", "fidelity_base_only": "Prompt fidelity, base stage alone"}
# the old per_stage shape named each SR stage by its type, with the baseline's numbers under its own prefix
OLD_STAGE_BASELINES = {"temporal_sr": "blend", "spatial_sr": "bicubic"}
SHAPES_GROUPS = """Groups of the shapes suite: `overall` every clip; `trained` / `held_out` the colour×shape×motion
combinations seen in training / the 12 never trained on; `seen_template` the training wording "a {colour} {shape}
moving {motion}"; `unseen_sentence` sentences never used in training, with the shapes' own names; `unseen_template`
the same sentences with each shape named by a word never used in training (ball, disc, box, block, wedge, pyramid),
also per name as `unseen_word_*`; `held_out_unseen_template` both at once. Wordings kept out of training (WordNet
words of each class, cascade/data/wordings.py), each combination once: `unseen_colour_word` ("a cerulean square
moving left"; the 48 combinations whose colour has such words), `unseen_direction_phrase` ("moving westwards"),
`unseen_motion_verb` (up and down by a verb alone, "plummeting"; left and right by a verb that says how and a
training direction, "coasting to the left"), `unseen_all_three` (all three at once). A clip counts for "all three"
when the shapes probe reads its colour, shape and motion right."""


def git_head() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def report_meta(report: dict, path: Path, head: str) -> dict:
    """Date, weights and commit of one report, with their fallbacks (file mtime, the checkout's HEAD)."""
    date = report.get("date")
    if date:
        date = str(date)[:10]  # an ISO timestamp or a plain date
    else:
        date = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d")
    commit = report.get("commit") or report.get("git") or head
    return {"date": date, "weights": str(report.get("weights", "?")), "commit": str(commit)}


def heading(title: str, meta: dict) -> str:
    return f"### {title} ({meta['date']}, weights `{meta['weights']}`, commit {meta['commit']})"


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def num(x, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def fidelity_table(groups: dict, attributes: list[str]) -> list[str]:
    cols = [*attributes, "all"]
    together = {1: "right", 2: "both", 3: "all three"}.get(len(attributes), f"all {len(attributes)}")
    lines = ["| group | " + " | ".join(attributes) + f" | {together} | n |", "|---" * (len(cols) + 2) + "|"]
    for group, s in groups.items():
        lines.append(f"| {group} | " + " | ".join(pct(s.get(a)) for a in cols) + f" | {s.get('n', '–')} |")
    return lines


def stage_rows(per_stage: dict) -> list[dict]:
    """One row per node measured against its baseline, from either report shape:
    new: {"clips", "stages": {NODE: {"type", "metric", METRIC, "ssim", "baseline", "baseline_" + METRIC, ...}},
          "skipped": {NODE: why}} ("metric" defaults to psnr; "frames" says which frames were scored; a latent
          node adds "decoder", "autoencoder_psnr" and "autoencoder_ssim");
    old: {"clips", "temporal_sr": {"stage", "psnr", "ssim", "blend_psnr", ...}, "spatial_sr": {..."bicubic_psnr"}}."""
    rows = []
    if isinstance(per_stage.get("stages"), dict):
        for node, s in per_stage["stages"].items():
            metric = s.get("metric", "psnr")
            rows.append({"node": node, "type": s.get("type", "?"), "frames": s.get("frames", "all"),
                         "metric": metric, "value": s.get(metric),
                         "ssim": s.get("ssim") if metric != "ssim" else None, "baseline": s.get("baseline", "?"),
                         "baseline_value": s.get(f"baseline_{metric}"),
                         "baseline_ssim": s.get("baseline_ssim") if metric != "ssim" else None,
                         "flicker": s.get("flicker"), "baseline_flicker": s.get("baseline_flicker"),
                         "truth_flicker": s.get("truth_flicker"), "decoder": s.get("decoder"),
                         "autoencoder_psnr": s.get("autoencoder_psnr"), "autoencoder_ssim": s.get("autoencoder_ssim")})
        return rows
    for stage_type, baseline in OLD_STAGE_BASELINES.items():
        s = per_stage.get(stage_type)
        if isinstance(s, dict):
            rows.append({"node": s.get("stage", stage_type), "type": stage_type,
                         "frames": "dropped" if stage_type == "temporal_sr" else "all", "metric": "psnr",
                         "value": s.get("psnr"), "ssim": s.get("ssim"), "baseline": baseline,
                         "baseline_value": s.get(f"{baseline}_psnr"), "baseline_ssim": s.get(f"{baseline}_ssim")})
    return rows


def stage_table(per_stage: dict) -> list[str]:
    rows = stage_rows(per_stage)
    skipped = [f"{node}: {why}." for node, why in (per_stage.get("skipped") or {}).items()]
    if not rows:
        return ["No node with a training-free baseline in this cascade.", *skipped]
    lines = ["| node | type | baseline | frames scored | metric | node's value | baseline's value | gain | SSIM, node "
             "| SSIM, baseline |", "|---" * 10 + "|"]
    for r in rows:
        unit = " dB" if r["metric"] == "psnr" else ""
        gain = (f"{r['value'] - r['baseline_value']:+.2f}{unit}"
                if r["value"] is not None and r["baseline_value"] is not None else "–")
        lines.append(f"| {r['node']} | {r['type']} | {r['baseline']} | {r['frames']} | {r['metric'].upper()} | "
                     f"{num(r['value'], '.2f')}{unit} | {num(r['baseline_value'], '.2f')}{unit} | {gain} | "
                     f"{num(r['ssim'], '.4f')} | {num(r['baseline_ssim'], '.4f')} |")
    if any(r.get("flicker") is not None for r in rows):
        lines += ["", "| node | flicker, node | flicker, baseline | flicker, real clips |", "|---|---|---|---|"]
        lines += [f"| {r['node']} | {num(r['flicker'], '.4f')} | {num(r['baseline_flicker'], '.4f')} | "
                  f"{num(r['truth_flicker'], '.4f')} |" for r in rows if r.get("flicker") is not None]
    latent = [r for r in rows if r.get("autoencoder_psnr") is not None]
    if latent:
        lines += ["", "Latent nodes are scored in the pixels their decoder makes; the decoder's own round trip of the "
                  "same clips (encode, decode) is the ceiling the autoencoder sets.", "",
                  "| node | decoded by | PSNR, round trip | SSIM, round trip |", "|---|---|---|---|"]
        lines += [f"| {r['node']} | {r['decoder']} | {num(r['autoencoder_psnr'], '.2f')} dB | "
                  f"{num(r['autoencoder_ssim'], '.4f')} |" for r in latent]
    return lines + (["", "Not measured: " + " ".join(skipped)] if skipped else [])


def temporal_table(temporal: dict) -> list[str]:
    lines = ["| clips | mean frame-to-frame change | flicker | background noise (0-255) |", "|---|---|---|---|"]
    for k, v in temporal.items():
        lines.append(f"| {k} | {num(v.get('temporal_change'), '.4f')} | {num(v.get('flicker'), '.4f')} | "
                     f"{num(v.get('background_noise'), '.2f')} |")
    return lines


def fsd_table(fsd: dict) -> list[str]:
    if "skipped" in fsd:
        return [fsd["skipped"]]
    lo, hi = fsd.get("real_vs_real_range") or (None, None)
    lines = ["| pair | distance |", "|---|---|",
             f"| generated vs real | {num(fsd.get('generated_vs_real'), '.1f')} |",
             f"| real vs real (floor) | {num(fsd.get('real_vs_real'), '.1f')} |"]
    if lo is not None:
        lines.append(f"| real vs real, four independent real sets (what chance alone gives) | {lo:.1f}–{hi:.1f} |")
    name = fsd.get("name", "Fréchet Shapes-video Distance (not FVD)")
    lines += ["", f"{name}, {fsd.get('clips', '?')} clips on each side."]
    if fsd.get("note"):
        lines.append(fsd["note"])
    return lines


def timing_table(report: dict) -> list[str]:
    return ["| device | clips | render seconds | seconds per clip | total seconds (with the measurements) |",
            "|---|---|---|---|---|",
            f"| {report.get('device', '?')} | {report.get('cases', '?')} | "
            f"{num(report.get('render_seconds'), '.1f')} | {num(report.get('seconds_per_clip'), '.2f')} | "
            f"{num(report.get('total_seconds'), '.1f')} |"]


def sampling_line(report: dict) -> str:
    s = report.get("sampling") or {}
    parts = [f"{k} {v}" for k, v in s.items() if v is not None]
    return "each stage's own sampling settings" if not parts else "sampling overrides: " + ", ".join(parts)


def section(report: dict, meta: dict) -> list[str]:
    lines = [f"## `{meta['weights']}` — {meta['date']}, commit {meta['commit']}", "",
             f"{report.get('cases', '?')} clips, suite `{report.get('suite', '?')}`, {report.get('seeds', '?')} seeds "
             f"per prompt, device {report.get('device', '?')}, {sampling_line(report)}.", ""]
    attributes = list(report.get("attributes") or SHAPES_ATTRIBUTES)
    for key, title in TITLES.items():
        if report.get(key):
            lines += [heading(title, meta), "", *fidelity_table(report[key], attributes), ""]
    if "per_stage" in report:
        clips = report["per_stage"].get("clips", "?")
        lines += [heading(f"Nodes against their training-free baselines, {clips} held-out real clips", meta), "",
                  *stage_table(report["per_stage"]), ""]
    if "temporal" in report:
        lines += [heading("Temporal consistency", meta), "", *temporal_table(report["temporal"]), ""]
    if "fsd" in report:
        lines += [heading("Fréchet distance", meta), "", *fsd_table(report["fsd"]), ""]
    lines += [heading("Render time", meta), "", *timing_table(report), ""]
    return lines


def shown_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


def render(paths: list[Path], note: str | None = None, source: str | None = None) -> str:
    head = git_head()
    source = source or ", ".join(f"`{shown_path(p)}`" for p in paths)
    reports = [json.loads(p.read_text()) for p in paths]
    lines = ["# Results", "",
             f"Generated by `scripts/results_table.py` from {source}" + (f". {note}" if note else "."),
             "Regenerate: `cascade eval weights --seeds 2 --out runs/eval`, then "
             "`python scripts/results_table.py runs/eval/report.json`. What was tried on the way, and what it scored: "
             "[experiments.md](experiments.md).", ""]
    if any(r.get("suite", "shapes") == "shapes" for r in reports):
        lines += [SHAPES_GROUPS, ""]
    for p, report in zip(paths, reports):
        lines += section(report, report_meta(report, p, head))
    return "\n".join(lines).rstrip() + "\n"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reports", nargs="+", type=Path, help="cascade eval report.json files")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"markdown file to write [default: {DEFAULT_OUT}]")
    p.add_argument("--source", help="how the header line names the reports [default: their paths]")
    p.add_argument("--note", help="a sentence added to the file's header line")
    args = p.parse_args(argv)
    for path in args.reports:
        if not path.is_file():
            print(f"error: {path} does not exist; run `cascade eval WEIGHTS --out DIR` and pass DIR/report.json",
                  file=sys.stderr)
            return 2
        try:
            json.loads(path.read_text())
        except json.JSONDecodeError as e:
            print(f"error: {path} is not valid JSON ({e.msg} at line {e.lineno})", file=sys.stderr)
            return 2
    write_atomic(args.out, render(args.reports, args.note, args.source))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

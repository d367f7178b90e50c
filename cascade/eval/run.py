"""`cascade eval`: prompt fidelity, temporal consistency, Fréchet distance and per-stage metrics of a cascade of any
depth, written as report.json plus an index.html with the rendered videos and contact sheets.

What the prompts are, how a clip is read back and what real clips look like come from an eval suite
(cascade.eval.suites); everything here works on any graph: per-stage rows for every node that can degrade ground
truth, keyed by node name. A latent node is read in the pixels the cascade's decoder node makes of its latents
(cascade.eval.latent); a node between pixels and latents is skipped by the frame-based metrics.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cascade.errors import CascadeError

log = logging.getLogger(__name__)

MAX_SEEDS = 100  # seeds per prompt: 100 renders every suite prompt 100 times
PER_STAGE_SEED = 21  # real clips of the i-th measured stage are drawn with seed PER_STAGE_SEED + i
TEMPORAL_REAL_SEED = 7
PER_STAGE_GENERATOR_SEED = 0


def read_prompts_file(path: Path) -> list[str]:
    """The prompts of a file, one per line (blank lines, # comments and repeats skipped)."""
    if not Path(path).is_file():
        raise CascadeError(f"prompts file {path} does not exist")
    from cascade.pipeline import check_prompts

    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        line = Path(path).read_bytes()[:e.start].count(b"\n") + 1
        raise CascadeError(f"prompts file {path} is not UTF-8 text (byte 0x{e.object[e.start]:02x} on line {line}); "
                           f"save it as UTF-8") from None
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    prompts = list(dict.fromkeys(lines))  # a repeated line would render the very same clip again
    if len(prompts) < len(lines):
        log.warning("prompts file %s repeats %d line(s); each prompt is evaluated once", path, len(lines) - len(prompts))
    if not prompts:
        raise CascadeError(f"prompts file {path} holds no prompts (one per line)")
    try:
        return [check_prompts(p)[0] for p in prompts]  # each alone: a file may hold more than one call takes
    except CascadeError as e:
        raise CascadeError(f"prompts file {path}: {e}") from None


# -- helpers -----------------------------------------------------------------------------------------------
def _scores(suite, rows: list[dict], key: str) -> dict:
    rows = [r for r in rows if r["target"] is not None]
    if not rows:
        return {}
    return suite.score([r[key] for r in rows], [r["target"] for r in rows])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "prompt"


# -- main ----------------------------------------------------------------------------------------------------
def evaluate(weights: str | Path, *, out_dir: str | Path, suite: str = "shapes", prompts_file: Path | None = None,
             seeds: int = 2, device: str = "cpu", steps=None, guidance=None, progress: bool = True,
             max_prompts: int | None = None, batch: int = 24, stage_clips: int = 24,
             shown: int = 12) -> dict[str, Any]:
    """Run the whole evaluation; returns the report dict (also written to out_dir/report.json)."""
    from cascade.eval.suites import get_suite
    from cascade.io_utils import atomic_write_text
    from cascade.pipeline import CascadePipeline

    out_dir = Path(out_dir)
    if not 1 <= seeds <= MAX_SEEDS:
        raise CascadeError(f"--seeds must be from 1 to {MAX_SEEDS}, got {seeds}")
    if out_dir.exists() and not out_dir.is_dir():
        raise CascadeError(f"{out_dir} is a file; --out needs a directory for the report")
    the_suite = get_suite(suite)
    cases = the_suite.file_cases(read_prompts_file(prompts_file), seeds) if prompts_file else the_suite.cases(seeds)
    if max_prompts:
        cases = _spread(cases, max_prompts)

    t0 = time.perf_counter()
    pipe = CascadePipeline.from_pretrained(weights, device=device)  # bad weights fail here, before any output
    try:
        (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CascadeError(f"cannot write the report to {out_dir}: {e.strerror}") from None
    shown_stages = pixel_stages(pipe)
    final_spec = pipe.stages[pipe.graph.output].output_spec
    picks = _spread(list(range(len(cases))), shown)  # the cases whose videos and contact sheets go in the report

    rows, finals, picked_frames = _render(pipe, the_suite, cases, shown_stages, batch, steps, guidance, progress,
                                          set(picks))
    render_s = time.perf_counter() - t0

    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()), "commit": source_commit(),
        "weights": str(weights), "manifest_training": pipe.manifest.get("training"),
        "device": str(pipe.device), "suite": suite, "prompts": "file" if prompts_file else "suite", "seeds": seeds,
        "attributes": list(the_suite.attributes),
        "cases": len(rows), "render_seconds": round(render_s, 1),
        "seconds_per_clip": round(render_s / max(len(rows), 1), 3),
        "graph": {n: {"type": pipe.graph.nodes[n].type, "output": str(pipe.stages[n].output_spec)}
                  for n in pipe.graph.order},
        "sampling": {"steps": steps, "guidance": guidance},
    }
    report["fidelity"] = _fidelity(the_suite, rows, "final")
    report["fidelity_base_only"] = _fidelity(the_suite, rows, "base")
    if finals is not None:
        report["temporal"] = _temporal(the_suite, rows, finals, final_spec)
        report["fsd"] = the_suite.frechet(finals, final_spec)
    report["per_stage"] = per_stage_metrics(pipe, the_suite, stage_clips, steps=steps, guidance=guidance)
    report["shown"] = _show(the_suite, rows, picked_frames, picks, pipe, out_dir)
    keys = ("prompt", "target", "split", "template", "shape_word", "wording", "seed", "unknown_words")
    report["prompts_with_unknown_words"] = sum(bool(r["unknown_words"]) for r in rows)
    report["cases_detail"] = [{k: r[k] for k in keys if k in r}
                              | {"final": _short(the_suite, r["final"]), "base": _short(the_suite, r["base"])}
                              for r in rows]
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    atomic_write_text(out_dir / "report.json", json.dumps(report, indent=2, default=_json_default))
    atomic_write_text(out_dir / "index.html", render_html(report))
    return report


def source_commit() -> str | None:
    """The git commit of the cascade source this report was made with (None outside a git checkout)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def pixel_stages(pipe) -> list[str]:
    """The nodes whose output is a pixel video, in run order: what a contact sheet shows."""
    return [n for n in pipe.video_stages() if pipe.stages[n].output_spec.space == "pixel"]


def _spread(cases: list, n: int) -> list:
    """n cases spread over the list (every group represented), not just the first n."""
    if n >= len(cases):
        return cases
    idx = np.linspace(0, len(cases) - 1, n).round().astype(int)
    return [cases[i] for i in sorted(set(idx.tolist()))]


def _short(suite, r: dict | None) -> dict:
    return {a: (r or {}).get(a) for a in suite.attributes}


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(type(o))


def _render(pipe, suite, cases, shown_stages, batch, steps, guidance, progress, keep: set[int]):
    """Render every case in batches (per seed group) and probe its base clips (base_frames) and final clips. Returns
    the rows, the final clips (N, 3, F, H, W) in [-1, 1] (None when the output is not pixels) and, for the cases in
    `keep`, every pixel stage's frames."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from cascade.video_ops import frames_to_tensor
    from cascade.vocabulary import PromptVocabularyWarning

    final = pipe.graph.output
    final_pixels = final in shown_stages
    read_base = base_frames(pipe)
    rows, finals = [], []
    kept: dict[int, dict[str, np.ndarray]] = {}
    chunks = []
    for g in sorted({c["seed_group"] for c in cases}):
        group = [c for c in cases if c["seed_group"] == g]
        chunks += [(g, j // batch, group[j:j + batch]) for j in range(0, len(group), batch)]
    with Progress(TextColumn("eval"), BarColumn(), TextColumn("{task.completed}/{task.total} clips"),
                  TimeElapsedColumn(), TimeRemainingColumn(), disable=not progress, transient=True) as bar:
        task = bar.add_task("eval", total=len(cases))
        for g, j, chunk in chunks:
            seed = 1000 * g + j
            with warnings.catch_warnings():  # the report lists each case's unknown words instead
                warnings.simplefilter("ignore", PromptVocabularyWarning)
                outs = pipe.run([c["prompt"] for c in chunk], seed=seed, steps=steps, guidance=guidance,
                                progress=False)
            frames = {n: outs[n].frames.numpy() for n in shown_stages}  # (B, F, H, W, 3) uint8
            base = read_base(outs) if read_base else None
            for i, c in enumerate(chunk):
                k = len(rows)
                rows.append({**c, "seed": seed, "unknown_words": pipe.unknown_words(c["prompt"]),
                             "final": suite.analyze(frames[final][i]) if final_pixels else None,
                             "base": suite.analyze(base[i]) if base is not None else None})
                if final_pixels:
                    finals.append(frames[final][i])
                if k in keep:
                    kept[k] = {n: frames[n][i] for n in shown_stages}
            bar.advance(task, len(chunk))
    return rows, (frames_to_tensor(np.stack(finals)) if finals else None), kept


def base_frames(pipe):
    """What the probe reads as the base stage's clips: a function of a run's outputs giving the first video node's
    frames (B, F, H, W, 3) uint8, its latents decoded by the cascade's decoder of their space at the base's frame
    count and rate. None when there is no video node or no decoder of its latents (logged)."""
    from cascade.eval.latent import code, latent_coder, pixel_spec
    from cascade.types import Video

    videos = pipe.video_stages()
    if not videos:
        return None
    base = videos[0]
    spec = pipe.stages[base].output_spec
    if spec.space == "pixel":
        return lambda outs: outs[base].frames.numpy()
    coder, why = latent_coder(pipe, base)
    if coder is None:
        log.warning("the base stage's prompt fidelity is not measured: %s", why)
        return None
    pixels = pixel_spec(pipe.stages[coder], spec)

    def read(outs) -> np.ndarray:
        with torch.inference_mode():
            x = code(pipe.stages[coder], outs[base].tensor, spec)
        return Video(tensor=x, spec=pixels).frames.numpy()

    return read


def _fidelity(suite, rows, key) -> dict:
    if any(r[key] is None for r in rows):
        return {}
    scored = {name: _scores(suite, rs, key) for name, rs in suite.groups(rows).items() if rs}
    return {name: s for name, s in scored.items() if s}


def clip_quality(x: torch.Tensor) -> dict[str, float]:
    """Temporal change, flicker and background noise of a batch of clips (B, C, F, H, W) in [-1, 1]."""
    from cascade.eval.metrics import background_noise, flicker, temporal_change

    return {"temporal_change": temporal_change(x), "flicker": flicker(x), "background_noise": background_noise(x)}


def _temporal(suite, rows, finals: torch.Tensor, spec) -> dict:
    targets = [r["target"] for r in rows if r["target"] is not None]
    out = {"generated": clip_quality(finals)}
    if targets:
        out["real"] = clip_quality(suite.real_clips(spec, len(targets), TEMPORAL_REAL_SEED, targets=targets)[0])
    return out


def per_stage_metrics(pipe, suite, n: int, *, steps=None, guidance=None) -> dict:
    """Every node that can degrade ground truth (a conditional stage, learned or baseline): its output and its
    training-free baseline's, from the degraded version of n real held-out clips, against the real clips by PSNR and
    SSIM (on the frames the stage says to score). Keyed by node name. A latent node is measured in decoded pixels:
    the real clips are encoded by the cascade's decoder node of its latent space, degraded there, and both outputs
    decoded by that node; `autoencoder_psnr` is the decoder's own round trip of the same clips, the ceiling."""
    from cascade.eval.latent import code, latent_coder, pixel_spec
    from cascade.eval.metrics import flicker, psnr, ssim
    from cascade.pipeline import stage_setting
    from cascade.types import Video

    text_node = next((n_ for n_ in pipe.graph.order if pipe.stages[n_].output_spec.kind == "text"), None)
    gen = torch.Generator(pipe.device).manual_seed(PER_STAGE_GENERATOR_SEED)
    stages: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    measured = 0
    for name in pipe.graph.order:
        st = pipe.stages[name]
        if not (hasattr(st, "degrade") and hasattr(st, "baseline")):
            continue
        spec_in, spec_out = st.input_spec.get("video"), st.output_spec
        spaces = {getattr(spec_in, "space", None), spec_out.space}
        coder = None
        if spaces == {"latent"}:
            coder, why = latent_coder(pipe, name)
            if coder is None:
                skipped[name] = why
                continue
        elif spaces != {"pixel"}:
            skipped[name] = "not pixels: frame metrics do not apply"
            continue
        pixels = spec_out if coder is None else pixel_spec(pipe.stages[coder], spec_out)
        truth, captions = suite.real_clips(pixels, n, PER_STAGE_SEED + measured)
        measured += 1
        truth = truth.to(pipe.device)
        if coder is None:
            low = Video(tensor=st.degrade(truth).clamp(-1, 1).contiguous(), spec=spec_in)
        else:
            with torch.inference_mode():  # the truth in the stage's latent space, degraded there
                latents = code(pipe.stages[coder], truth, pixels)
                low = Video(tensor=st.degrade(latents).contiguous(), spec=spec_in)
        inputs = {"video": low}
        if "text" in st.input_spec and text_node is not None:
            inputs["text"] = pipe.stages[text_node]({"prompt": captions})
        with torch.inference_mode():
            out = st(inputs, generator=gen, progress=False, steps=stage_setting(steps, name),
                     guidance=stage_setting(guidance, name)).tensor
            base = st.baseline(low.tensor)
            if coder is not None:  # read in pixels, the truth's own round trip beside them
                out, base, roundtrip = (code(pipe.stages[coder], z, spec_out).float().cpu()
                                        for z in (out, base, latents))
            out, base = out.float().cpu(), base.float().cpu().clamp(-1, 1)
        truth = truth.cpu()
        mask = st.scored_frames()
        stages[name] = {"type": pipe.graph.nodes[name].type, "baseline": getattr(st, "baseline_stage", st).config.type,
                        "frames": "all" if mask is None else "dropped",
                        "psnr": psnr(out, truth, mask=mask), "ssim": ssim(out, truth, mask=mask),
                        "baseline_psnr": psnr(base, truth, mask=mask), "baseline_ssim": ssim(base, truth, mask=mask),
                        # temporal consistency beside the truth's own: flashing between frames that truth lacks
                        "flicker": flicker(out), "baseline_flicker": flicker(base), "truth_flicker": flicker(truth)}
        if coder is not None:
            stages[name] |= {"space": "latent", "decoder": coder,
                             "autoencoder_psnr": psnr(roundtrip, truth, mask=mask),
                             "autoencoder_ssim": ssim(roundtrip, truth, mask=mask)}
    return {"clips": n, "split": "held_out", "stages": stages, **({"skipped": skipped} if skipped else {})}


def _show(suite, rows, picked_frames, picks, pipe, out_dir: Path) -> list[dict]:
    """Write every pixel stage's mp4 and a contact sheet for each picked case."""
    from cascade.video_io import write_video

    items = []
    for k in picks:
        r = rows[k]
        name = f"{k:03d}_{_slug(r['prompt'])}"
        files = {}
        for n, frames in picked_frames[k].items():
            files[n] = f"videos/{name}_{n}.mp4"
            write_video(out_dir / files[n], frames, fps=pipe.stages[n].output_spec.fps)
        sheet = f"videos/{name}_sheet.png"
        contact_sheet(picked_frames[k], out_dir / sheet)
        items.append({"prompt": r["prompt"], "target": r["target"], "final": _short(suite, r["final"]),
                      "videos": files, "sheet": sheet, "split": r["split"], "template": r["template"]})
    return items


def contact_sheet(stage_frames: dict[str, np.ndarray], path: Path, cell: int = 128) -> Path:
    """Write contact_sheet_image(...) as a PNG (atomically)."""
    from cascade.io_utils import atomic_path

    sheet = contact_sheet_image(stage_frames, cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return path


def contact_sheet_image(stage_frames: dict[str, np.ndarray], cell: int = 128):
    """PIL image: one row per stage, first/middle/last frame, each scaled (nearest) to cell x cell, labelled."""
    from PIL import Image, ImageDraw

    label_w = 110
    rows = list(stage_frames.items())
    sheet = Image.new("RGB", (label_w + 3 * (cell + 4), len(rows) * (cell + 4) + 18), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for j, title in enumerate(("first", "middle", "last")):
        draw.text((label_w + j * (cell + 4) + cell // 2 - 12, 3), title, fill=(0, 0, 0))
    for i, (name, frames) in enumerate(rows):
        f, h, w, _ = frames.shape
        y = 18 + i * (cell + 4)
        draw.text((4, y + cell // 2 - 12), f"{name}\n{w}x{h}, {f} fr", fill=(0, 0, 0))
        for j, idx in enumerate((0, f // 2, f - 1)):
            img = Image.fromarray(frames[idx]).resize((cell, cell), Image.NEAREST)
            sheet.paste(img, (label_w + j * (cell + 4), y))
    return sheet


def _decoded_note(row: dict) -> str:
    """How a latent node's row was read: decoded by which node, and that decoder's own round trip (the ceiling)."""
    if row.get("space") != "latent":
        return ""
    return (f", latents decoded by {html.escape(row['decoder'])} (its round trip of the real clips: "
            f"{row['autoencoder_psnr']:.2f} dB, SSIM {row['autoencoder_ssim']:.4f})")


def render_html(report: dict) -> str:
    """index.html: summary tables, then each shown prompt's videos (every stage) and contact sheet."""
    e = html.escape

    def pct(v):
        return f"{v:.1%}" if isinstance(v, float) else e(str(v))

    attrs = report.get("attributes", [])

    def fid_table(fid: dict, title: str) -> str:
        head = ("<tr><th>" + e(title) + "</th>" + "".join(f"<th>{e(a)}</th>" for a in attrs)
                + "<th>all</th><th>n</th></tr>")
        body = "".join(f"<tr><td>{e(g)}</td>" + "".join(f"<td>{pct(s.get(a))}</td>" for a in (*attrs, "all"))
                       + f"<td>{s.get('n')}</td></tr>" for g, s in fid.items())
        return f"<table>{head}{body}</table>"

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>cascade eval</title><style>",
             "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
             ".case{display:inline-block;margin:8px;vertical-align:top;border:1px solid #ddd;padding:6px}"
             "video{width:128px;height:128px;image-rendering:pixelated;background:#000;margin-right:4px}</style></head><body>",
             f"<h1>cascade eval</h1><p>weights: <code>{e(str(report['weights']))}</code> &middot; device {e(report['device'])}"
             f" &middot; {report['cases']} clips in {report['render_seconds']} s</p>",
             "<h2>Prompt fidelity (full cascade)</h2>", fid_table(report["fidelity"], "group"),
             "<h2>Prompt fidelity (base stage only)</h2>", fid_table(report["fidelity_base_only"], "group")]
    t = report.get("temporal", {})
    parts.append("<h2>Temporal consistency and grain</h2><table><tr><th>clips</th><th>mean frame-to-frame change</th>"
                 "<th>flicker</th><th>background noise (0-255)</th></tr>" + "".join(
                     f"<tr><td>{k}</td><td>{v['temporal_change']:.4f}</td><td>{v['flicker']:.4f}</td>"
                     f"<td>{v.get('background_noise', float('nan')):.2f}</td></tr>" for k, v in t.items()) + "</table>")
    fsd = report.get("fsd", {"skipped": "the output is not pixels"})
    if "skipped" in fsd:
        parts.append(f"<h2>Fréchet distance</h2><p>{e(fsd['skipped'])}</p>")
    else:
        parts.append(f"<h2>{e(fsd['name'])}</h2><table><tr><th>pair</th><th>distance</th></tr>"
                     f"<tr><td>generated vs real</td><td>{fsd['generated_vs_real']:.3f}</td></tr>"
                     f"<tr><td>real vs real (floor)</td><td>{fsd['real_vs_real']:.3f}</td></tr>"
                     f"<tr><td>real vs real, 4 independent sets (chance)</td><td>"
                     f"{fsd['real_vs_real_range'][0]:.3f} – {fsd['real_vs_real_range'][1]:.3f}</td></tr></table>"
                     + (f"<p>{e(fsd['note'])}</p>" if fsd.get("note") else ""))
    ps = report["per_stage"]
    rows = [f"<tr><td>{e(node)} ({e(s['type'])}) vs {e(s['baseline'])}, {e(s['frames'])} frames{_decoded_note(s)}</td>"
            f"<td>{s['psnr']:.2f} / {s['baseline_psnr']:.2f}</td><td>{s['ssim']:.4f} / {s['baseline_ssim']:.4f}</td></tr>"
            for node, s in ps.get("stages", {}).items()]
    if rows:
        parts.append(f"<h2>Per-stage metrics on {ps['clips']} held-out real clips</h2><table><tr><th>stage</th>"
                     "<th>PSNR dB (stage / baseline)</th><th>SSIM (stage / baseline)</th></tr>" + "".join(rows)
                     + "</table>")
    parts.append("<h2>Samples</h2>")
    for it in report["shown"]:
        vids = "".join(f"<video src='{e(src)}' title='{e(n)}' autoplay loop muted playsinline controls></video>"
                       for n, src in it["videos"].items())
        got = ", ".join(f"{a}: {it['final'][a]}" for a in attrs)
        what = (f"{it['split']} combo, {it['template']} wording" if it["split"] is not None
                else f"not a {'-'.join(attrs)} prompt the probe can score")
        parts.append(f"<div class='case'><b>{e(it['prompt'])}</b><br><small>{e(what)}; probe: {e(got)}</small><br>"
                     f"{vids}<br>"
                     f"<img src='{e(it['sheet'])}' alt='contact sheet'></div>")
    # every video reports whether it decoded and played; scripts/check_report_browser.py reads this back
    parts.append("<p id='video-status' data-playing='0' data-errors='0'>videos: checking...</p><script>"
                 "const vs=[...document.querySelectorAll('video')],st=document.getElementById('video-status');"
                 "const ok=new Set(),bad=new Set();function upd(){st.dataset.playing=ok.size;st.dataset.errors=bad.size;"
                 "st.textContent=`videos: ${ok.size}/${vs.length} playing, ${bad.size} failed`;}"
                 "vs.forEach((v,i)=>{v.addEventListener('timeupdate',()=>{if(v.currentTime>0){ok.add(i);upd();}});"
                 "v.addEventListener('error',()=>{bad.add(i);upd();});v.play().catch(()=>{});});upd();</script>")
    parts.append("</body></html>")
    return "\n".join(parts)

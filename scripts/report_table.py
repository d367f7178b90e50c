"""Print a `cascade eval` report.json as markdown tables (for README.md, weights/README.md, bench/RESULTS.md).

    python scripts/report_table.py REPORT_DIR/report.json
"""

import json
import sys
from pathlib import Path

r = json.loads(Path(sys.argv[1]).read_text())
attrs = ("colour", "shape", "motion", "all")
print(f"{r['cases']} clips on {r['device']}, {r['seconds_per_clip']} s per clip\n")
for key, title in (("fidelity", "full cascade"), ("fidelity_base_only", "base stage only")):
    print(f"| fidelity ({title}) | colour | shape | motion | all three | n |\n|---|---|---|---|---|---|")
    for group, s in r[key].items():
        print(f"| {group} | " + " | ".join(f"{100 * s[a]:.1f}%" for a in attrs) + f" | {s['n']} |")
    print()
t = r["temporal"]
print("| clips | mean frame-to-frame change | flicker | background noise (0-255) |\n|---|---|---|---|")
for k, v in t.items():
    print(f"| {k} | {v['temporal_change']:.4f} | {v['flicker']:.4f} | {v.get('background_noise', float('nan')):.2f} |")
print()
f = r["fsd"]
if "generated_vs_real" in f:
    print(f"Fréchet Shapes-video Distance (not FVD): generated vs real {f['generated_vs_real']:.1f}, "
          f"real vs real {f['real_vs_real']:.1f} ({f['clips']} clips each"
          + (f"; four independent real sets: {f['real_vs_real_range'][0]:.1f}–{f['real_vs_real_range'][1]:.1f}"
             if "real_vs_real_range" in f else "") + ")\n")
ps = r["per_stage"]
print(f"| stage on {ps['clips']} held-out real clips | PSNR dB | baseline PSNR dB | SSIM | baseline SSIM |\n|---|---|---|---|---|")
if "temporal_sr" in ps:
    s = ps["temporal_sr"]
    print(f"| temporal_sr ({s['mode']}) vs blend, dropped frames | {s['psnr']:.2f} | {s['blend_psnr']:.2f} | "
          f"{s['ssim']:.4f} | {s['blend_ssim']:.4f} |")
if "spatial_sr" in ps:
    s = ps["spatial_sr"]
    print(f"| spatial_sr ({s['mode']}) vs bicubic | {s['psnr']:.2f} | {s['bicubic_psnr']:.2f} | "
          f"{s['ssim']:.4f} | {s['bicubic_ssim']:.4f} |")

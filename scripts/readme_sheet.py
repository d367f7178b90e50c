"""Render a few prompts with a cascade and write one contact-sheet PNG: per prompt, the first, middle and last
frame of every video stage (base_video, temporal_sr, spatial_sr), labelled.

    python scripts/readme_sheet.py [WEIGHTS] [OUT.png]      # defaults: weights/ docs/contact_sheet.png
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

from cascade.eval.run import contact_sheet_image
from cascade.io_utils import atomic_path
from cascade.pipeline import CascadePipeline

PROMPTS = ["a yellow triangle moving up", "a red circle moving left", "a blue square sliding to the right",
           "green ball going down", "a magenta pyramid moving right", "one cyan block gliding upward"]

weights = Path(sys.argv[1] if len(sys.argv) > 1 else "weights")
out = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/contact_sheet.png")
pipe = CascadePipeline.from_pretrained(weights)
outs = pipe.run(PROMPTS, seed=0, progress=False)
stages = pipe.video_stages()
tiles = []
for i, prompt in enumerate(PROMPTS):
    tile = contact_sheet_image({n: outs[n].frames[i].numpy() for n in stages}, cell=96)
    band = Image.new("RGB", (tile.width, tile.height + 20), (255, 255, 255))
    ImageDraw.Draw(band).text((6, 4), f'"{prompt}"', fill=(0, 0, 0))
    band.paste(tile, (0, 20))
    tiles.append(band)
rows = (len(tiles) + 1) // 2
sheet = Image.new("RGB", (sum(t.width for t in tiles[:2]) + 10, rows * (max(t.height for t in tiles) + 10)),
                  (255, 255, 255))
for i, t in enumerate(tiles):
    sheet.paste(t, ((i % 2) * (tiles[0].width + 10), (i // 2) * (t.height + 10)))
out.parent.mkdir(parents=True, exist_ok=True)
with atomic_path(out) as p:
    sheet.save(p, format="PNG")
print(f"wrote {out} ({sheet.width}x{sheet.height})")

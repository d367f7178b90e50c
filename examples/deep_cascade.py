"""A deeper cascade from the shipped stages: a second temporal SR node (the blend baseline) and a second spatial SR
node (the bicubic baseline) after the learned ones, 32 frames at 128x128 and 16 fps. Node names are free; each new
node's type comes from its name (temporal_sr_2 is a temporal_sr node, here its "blend" preset).

    python examples/deep_cascade.py OUT
    cascade info OUT && cascade render "a red circle moving left" --weights OUT -o deep.mp4
"""

import sys
from pathlib import Path

from cascade import CascadePipeline
from cascade.assemble import assemble_stages, fitted_preset

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/deep_cascade")
weights = Path(__file__).resolve().parents[1] / "weights"
shipped = CascadePipeline.from_pretrained(weights)
stages = {name: shipped.stages[name] for name in shipped.graph.order}  # text_encoder, base_video, temporal_sr, spatial_sr
stages["temporal_sr_2"] = fitted_preset("temporal_sr_2", "blend", stages["spatial_sr"].output_spec)
stages["spatial_sr_2"] = fitted_preset("spatial_sr_2", "bicubic", stages["temporal_sr_2"].output_spec)
extra = {k: v for k, v in shipped.manifest.items() if k in ("data", "held_out", "training", "vocabulary")}
assemble_stages(out, stages, manifest=extra)
print(f"wrote {out}: {' -> '.join(stages)}; output {stages['spatial_sr_2'].output_spec.describe()}")

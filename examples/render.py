"""Render prompts with the shipped cascade through the Python API.

    python examples/render.py "a yellow triangle moving up" "a blue square sliding to the right"
"""

import sys
from pathlib import Path

from cascade import CascadePipeline

prompts = sys.argv[1:] or ["a red circle moving left"]
pipe = CascadePipeline.from_pretrained(Path(__file__).resolve().parents[1] / "weights", device="cpu")
outs = pipe.run(prompts, seed=0)  # every stage's output, by name
video = outs[pipe.graph.output]
for i, prompt in enumerate(prompts):
    path = video.save(f"{prompt.replace(' ', '_')}.mp4", index=i)
    print(f"{path}: {video.spec.frames} frames {video.spec.width}x{video.spec.height} @ {video.fps:g} fps")
print({name: f"{sec:.2f}s" for name, sec in pipe.last_timings.items()})

"""Replace a stage of the shipped cascade through the graph: here the learned spatial_sr by the bicubic
baseline (and, with --blend, the learned temporal_sr by linear blending), then render both and compare.

    python examples/swap_stage.py [--blend]
"""

import sys
from pathlib import Path

from cascade import CascadeGraph, CascadePipeline
from stages.spatial_sr.baseline import SpatialBicubicStage
from stages.spatial_sr.config import SpatialBicubicConfig
from stages.temporal_sr.baseline import TemporalBlendStage
from stages.temporal_sr.config import TemporalBlendConfig

weights = Path(__file__).resolve().parents[1] / "weights"
pipe = CascadePipeline.from_pretrained(weights, device="cpu")
stages = dict(pipe.stages)

# The baseline takes the same input spec as the stage it replaces, so the graph check passes.
ssr_in = stages["spatial_sr"].input_spec["video"]
stages["spatial_sr"] = SpatialBicubicStage(SpatialBicubicConfig(frames=ssr_in.frames, fps=ssr_in.fps,
                                                                height=ssr_in.height, width=ssr_in.width))
if "--blend" in sys.argv:
    tsr_in = stages["temporal_sr"].input_spec["video"]
    stages["temporal_sr"] = TemporalBlendStage(TemporalBlendConfig(frames=tsr_in.frames, fps=tsr_in.fps,
                                                                   height=tsr_in.height, width=tsr_in.width))
# Text edges into the swapped stage are dropped: the baselines take no text.
graph_dict = pipe.graph.to_dict()
graph_dict["nodes"] = {n: {**node, "type": stages[n].config.type} for n, node in graph_dict["nodes"].items()}
graph_dict["edges"] = [e for e in graph_dict["edges"]
                       if e["input"] in stages[e["to"]].input_spec]
swapped = CascadePipeline(CascadeGraph.from_dict(graph_dict), stages)  # checked when built

prompt = "a magenta square moving down"
pipe(prompt, seed=0).save("learned.mp4")
swapped(prompt, seed=0).save("swapped.mp4")
print("wrote learned.mp4 and swapped.mp4;", swapped.graph.describe()[-1])

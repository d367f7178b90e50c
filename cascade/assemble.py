"""Join separately trained stage folders into one cascade weights directory (graph + sha256 manifest)."""

from __future__ import annotations

from pathlib import Path

from cascade.errors import CascadeError
from cascade.graph import CascadeGraph
from cascade.pipeline import CascadePipeline
from cascade.registry import get_stage_class
from cascade.stage import stage_type_of
from cascade.types import TextSpec, VideoSpec


def chain_graph(configs: dict) -> dict:
    """Wire stages in the given order: each video input takes the previous video stage's output and every
    text input takes the (single) text-producing stage."""
    names = list(configs)
    text_src = [n for n in names if isinstance(configs[n].output_spec(), TextSpec)]
    edges, last_video = [], None
    for n in names:
        for inp, spec in configs[n].input_specs().items():
            if isinstance(spec, TextSpec):
                if not text_src:
                    raise CascadeError(f"{n} needs text but no stage makes text embeddings")
                edges.append({"from": text_src[0], "to": n, "input": inp})
            elif isinstance(spec, VideoSpec):
                if last_video is None:
                    raise CascadeError(f"{n} needs a video but no earlier stage makes one")
                edges.append({"from": last_video, "to": n, "input": inp})
        if isinstance(configs[n].output_spec(), VideoSpec):
            last_video = n
    return {"nodes": {n: {"type": configs[n].type} for n in names}, "edges": edges, "output": names[-1]}


def node_type(name: str) -> str:
    """The stage type a node name stands for: the name itself, or its longest registered type followed by "_"
    (spatial_sr_128 -> spatial_sr, temporal_sr_2 -> temporal_sr)."""
    from cascade.registry import available_stages

    types = available_stages()
    if name in types:
        return name
    prefixes = [t for t in types if name.startswith(t + "_")]
    if not prefixes:
        raise CascadeError(f"node '{name}' names no stage type (known: {', '.join(types)}); name the type in the "
                           f"source, e.g. {name}=preset:spatial_sr/bicubic")
    return max(prefixes, key=len)


def load_stage(source: str | Path, name: str):
    """A stage from a folder (config.json [+ model.safetensors]) or from a training-free preset:
    'preset:NAME' of the node's type (node_type), or 'preset:TYPE/NAME' (e.g. spatial_sr_128=preset:bicubic,
    text_encoder=preset:default, temporal_sr_2=preset:temporal_sr/blend)."""
    source = str(source)
    if source.startswith("preset:"):
        from cascade.stage import make_stage_config

        ref = source.split(":", 1)[1]
        type_, _, preset = ref.rpartition("/")
        type_ = type_ or node_type(name)
        cfg = make_stage_config(get_stage_class(type_), preset, source=f"--stage {name}")
        if cfg.has_weights:
            raise CascadeError(f"{name}: {type_} preset '{preset}' has weights to train; pass a trained stage folder "
                               f"instead (a training run's export/), or a training-free preset")
        return get_stage_class(cfg.type)(cfg)
    cfg_path = Path(source) / "config.json"
    if not cfg_path.is_file():
        raise CascadeError(f"{cfg_path} is missing; export the stage first (cascade export RUN --stage-dir DIR)")
    # a folder whose config.json names no type (a diffusers model folder) takes the node's type
    return get_stage_class(stage_type_of(source) or node_type(name)).from_pretrained(source)


def assemble(out: str | Path, stage_dirs: dict[str, str | Path], *, manifest: dict | None = None) -> Path:
    """Load each stage (ordered text -> base -> SR ...), check the chain, save atomically to `out`. A training-free
    preset after a video stage takes that stage's output as its input (fitted_preset)."""
    stages, last_video = {}, None
    for name, source in stage_dirs.items():
        source = str(source)
        if source.startswith("preset:") and last_video is not None:
            stage = load_stage(source, name)
            if "frames" in type(stage.config).model_fields:  # a video-to-video preset: fit it to its input
                stage = fitted_preset(name, source.split(":", 1)[1], last_video)
        else:
            stage = load_stage(source, name)
            if last_video is not None and callable(getattr(stage, "fit_input", None)):
                stage = stage.fit_input(last_video)  # a stage placed by its input (an autoencoder: encode or decode)
        stages[name] = stage
        if isinstance(stage.output_spec, VideoSpec):
            last_video = stage.output_spec
    return assemble_stages(out, stages, manifest=manifest)


def assemble_stages(out: str | Path, stages: dict, *, manifest: dict | None = None) -> Path:
    """Chain loaded stages in the given order, check every edge, save atomically to `out`."""
    graph = CascadeGraph.from_dict(chain_graph({n: s.config for n, s in stages.items()}))
    graph.build({n: s.config for n, s in stages.items()})
    return CascadePipeline(graph, stages, manifest).save_pretrained(out)


def fitted_preset(name: str, preset: str, upstream_spec: VideoSpec):
    """A training-free preset ("NAME" of node `name`'s type, or "TYPE/NAME") whose input is `upstream_spec`: how a
    baseline node (blend, bicubic) is added after any stage."""
    from cascade.stage import make_stage_config

    type_, _, preset = preset.rpartition("/")
    type_ = type_ or node_type(name)
    geometry = {"frames": upstream_spec.frames, "fps": upstream_spec.fps, "height": upstream_spec.height,
                "width": upstream_spec.width, "channels": upstream_spec.channels, "space": upstream_spec.space}
    cfg = make_stage_config(get_stage_class(type_), preset, geometry, source=f"{name}=preset:{preset}")
    return get_stage_class(cfg.type)(cfg)

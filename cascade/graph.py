"""CascadeGraph: stage nodes and typed edges from cascade.json, checked before any weight loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cascade.errors import CascadeError
from cascade.registry import get_stage_class
from cascade.stage import StageConfig
from cascade.types import PromptSpec, Spec, TextSpec, VideoSpec


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    path: str | None = None  # folder under the weights dir; defaults to the node name


class Edge(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    src: str = Field(alias="from")
    dst: str = Field(alias="to")
    input: str


class GraphSpec(BaseModel):
    """The graph part of cascade.json."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    nodes: dict[str, Node]
    edges: list[Edge]
    output: str


class CascadeGraph:
    """Nodes, edges and the run order; `build()` validates every contract and returns self."""

    def __init__(self, spec: GraphSpec):
        self.spec = spec
        self.configs: dict[str, StageConfig] = {}
        self.order: list[str] = []

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CascadeGraph":
        try:
            return cls(GraphSpec.model_validate(data))
        except Exception as e:  # pydantic ValidationError: report the first problem as one sentence
            errs = getattr(e, "errors", lambda: [{"loc": (), "msg": str(e)}])()
            loc = ".".join(str(p) for p in errs[0]["loc"]) or "(top level)"
            raise CascadeError(f"cascade.json graph is malformed at '{loc}': {errs[0]['msg']}") from None

    def to_dict(self) -> dict[str, Any]:
        return self.spec.model_dump(by_alias=True, exclude_none=True)

    @property
    def nodes(self) -> dict[str, Node]:
        return self.spec.nodes

    @property
    def edges(self) -> list[Edge]:
        return self.spec.edges

    @property
    def output(self) -> str:
        return self.spec.output

    def folder(self, name: str) -> str:
        return self.nodes[name].path or name

    # -- validation ---------------------------------------------------------------------------
    def build(self, configs: dict[str, StageConfig] | None = None, *, root: str | Path | None = None) -> "CascadeGraph":
        """Check stage types, wiring, cycles and every edge's spec, using configs only (no weights).

        Configs come from `configs` or are read from `root/<node folder>/config.json`.
        """
        for name, node in self.nodes.items():
            get_stage_class(node.type)  # unknown type -> one clear error
        if self.output not in self.nodes:
            raise CascadeError(f"the graph's output '{self.output}' is not one of its stages: {', '.join(self.nodes)}")
        for e in self.edges:
            for end in (e.src, e.dst):
                if end not in self.nodes:
                    raise CascadeError(f"edge {e.src} -> {e.dst}.{e.input} names a stage '{end}' that the graph "
                                       f"does not have; stages: {', '.join(self.nodes)}")
        if configs is None:
            if root is None:
                raise CascadeError("CascadeGraph.build needs stage configs or the weights directory")
            configs = {n: get_stage_class(node.type).load_config(Path(root) / self.folder(n))
                       for n, node in self.nodes.items()}
        for name, node in self.nodes.items():
            if name not in configs:
                raise CascadeError(f"stage '{name}' has no config")
            if configs[name].type != node.type:
                raise CascadeError(f"stage '{name}' is declared as {node.type} in the graph but its config "
                                   f"is for {configs[name].type}")
        self.configs = dict(configs)
        self._check_inputs()
        self.order = self._topological_order()
        for e in self.edges:
            self._check_edge(e)
        return self

    def _check_inputs(self) -> None:
        producers: dict[tuple[str, str], str] = {}
        for e in self.edges:
            declared = self.configs[e.dst].input_specs()
            if e.input not in declared:
                raise CascadeError(f"edge {e.src} -> {e.dst}.{e.input}: {e.dst} has no input '{e.input}'; "
                                   f"its inputs are {', '.join(declared) or 'none'}")
            key = (e.dst, e.input)
            if key in producers:
                raise CascadeError(f"{e.dst}.{e.input} has two producers, {producers[key]} and {e.src}; "
                                   f"keep one edge")
            producers[key] = e.src
        for name, cfg in self.configs.items():
            for inp, spec in cfg.input_specs().items():
                if not isinstance(spec, PromptSpec) and (name, inp) not in producers:
                    raise CascadeError(f"{name} needs its '{inp}' input ({spec.describe()}) but no stage "
                                       f"feeds it; add an edge to {name}.{inp}")

    def _topological_order(self) -> list[str]:
        deps = {n: {e.src for e in self.edges if e.dst == n} for n in self.nodes}
        order: list[str] = []
        done: set[str] = set()
        while len(order) < len(self.nodes):
            ready = [n for n in self.nodes if n not in done and deps[n] <= done]
            if not ready:
                stuck = sorted(n for n in self.nodes if n not in done)
                raise CascadeError(f"the graph has a cycle through {', '.join(stuck)}; stages must form a chain "
                                   f"or tree from the prompt to the output")
            for n in ready:
                order.append(n)
                done.add(n)
        return order

    def _check_edge(self, e: Edge) -> None:
        produced = self.configs[e.src].output_spec()
        expected = self.configs[e.dst].input_specs()[e.input]
        problem = spec_mismatch(expected, produced)
        if problem is not None:
            want, got = problem
            raise CascadeError(f"{e.dst} expects {want} from {e.src}, which makes {got}")
        from cascade.latent import latent_space_mismatch

        problem = latent_space_mismatch(e.src, self.configs[e.src], e.dst, self.configs[e.dst])
        if problem is not None:
            raise CascadeError(problem)

    def check_stages(self, stages) -> None:
        """Checks that need loaded weights: an autoencoder node next to a latent stage is the one it was trained in."""
        from cascade.latent import check_latent_coders

        check_latent_coders(self, stages)

    # -- reporting ----------------------------------------------------------------------------
    def describe(self) -> list[dict[str, str]]:
        rows = []
        for name in self.order or list(self.nodes):
            cfg = self.configs.get(name)
            ins = ", ".join(f"{k}: {v.describe()}" for k, v in cfg.input_specs().items()) if cfg else "?"
            rows.append({"stage": name, "type": self.nodes[name].type, "inputs": ins,
                         "output": cfg.output_spec().describe() if cfg else "?"})
        return rows


def spec_mismatch(expected: Spec, produced: Spec) -> tuple[str, str] | None:
    """None if `produced` satisfies `expected`, else (what was expected, what is made) for one field."""
    if expected.kind != produced.kind:
        names = {"video": "a video", "text": "a text embedding", "prompt": "prompt strings"}
        return names[expected.kind], names[produced.kind]
    if isinstance(expected, VideoSpec):
        checks = [  # space first: pixels where latents belong differ in size and channels too, for that reason
            (("space",), lambda s: f"{s.space}-space video"),
            (("frames", "fps"), lambda s: f"{s.frames} frames at {s.fps:g} fps"),
            (("height", "width"), lambda s: f"{s.height}x{s.width} frames"),
            (("channels",), lambda s: f"{s.channels} channels"),
        ]
    elif isinstance(expected, TextSpec):
        checks = [
            (("dim",), lambda s: f"{s.dim}-wide text embeddings"),
            (("length",), lambda s: f"{s.length}-token text embeddings"),
            (("lexicon",), lambda s: f"prompts expanded with the {s.lexicon} lexicon" if s.lexicon
             else "prompts encoded without a lexicon"),
            (("model",), lambda s: f"text read by the encoder in {s.model}" if s.model
             else "text read by the packaged all-MiniLM-L6-v2"),
        ]
    else:
        return None
    for fields, say in checks:
        if any(getattr(expected, f) != getattr(produced, f) for f in fields):
            return say(expected), say(produced)
    return None

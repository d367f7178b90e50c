"""CascadePipeline: load a checked cascade from disk, run it stage by stage, save it back atomically."""

from __future__ import annotations

import json
import logging
import math
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Mapping

import torch

from cascade import __version__
from cascade.errors import CascadeError
from cascade.graph import CascadeGraph
from cascade.io_utils import PICKLE_SUFFIXES, atomic_dir, atomic_write_text, sha256_file
from cascade.registry import get_stage_class
from cascade.stage import check_payload
from cascade.types import PromptSpec, Video, VideoSpec

log = logging.getLogger(__name__)

MANIFEST = "cascade.json"
DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'auto'/None -> cuda if available else cpu; anything unknown or unavailable is one clear error."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise CascadeError(f"unknown device '{device}'; use cpu, cuda, cuda:N, mps or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CascadeError(f"device '{device}' was asked for but CUDA is not available here; use --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise CascadeError(f"device '{device}' was asked for but MPS is not available here; use --device cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise CascadeError(f"unsupported device '{device}'; use cpu, cuda, cuda:N, mps or auto")
    return dev


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if dtype is None or dtype == "auto":
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise CascadeError(f"unknown dtype '{dtype}'; use float32, bfloat16 or float16")
    if device.type == "cpu" and DTYPES[dtype] != torch.float32:
        log.warning("%s on a CPU is several times slower than float32 (CPUs lack fast half-precision kernels); "
                    "use --dtype float32 there", dtype)
    return DTYPES[dtype]


def stage_seed(seed: int, stage: str) -> int:
    """Each stage draws from its own stream, so swapping one stage leaves the others' noise unchanged."""
    return (seed * 1_000_003 + zlib.crc32(stage.encode())) % (2**63)


class CascadePipeline:
    """A validated graph of loaded stages. `pipe(prompt, seed=0)` returns the output stage's Video."""

    def __init__(self, graph: CascadeGraph, stages: Mapping[str, Any], manifest: dict | None = None):
        if not graph.order:
            graph.build({name: st.config for name, st in stages.items()})
        graph.check_stages(stages)
        self.graph = graph
        self.stages = dict(stages)
        self.manifest = dict(manifest or {})
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.last_timings: dict[str, float] = {}
        self._known: tuple[list, set[str]] | None = None  # (the manifest's vocabulary, the words known with it)

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory: str | Path, *, device: str | torch.device | None = "cpu",
                        dtype: str | torch.dtype | None = None, verify: bool = True) -> "CascadePipeline":
        directory = Path(directory)
        manifest = read_manifest(directory)
        graph = CascadeGraph.from_dict(manifest.get("graph", {}))
        if verify:
            verify_files(directory, manifest, graph)
        graph.build(root=directory)  # every edge checked from configs alone, before any weight loads
        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        stages = {}
        for name in graph.order:
            cls_ = get_stage_class(graph.nodes[name].type)
            stages[name] = cls_.from_pretrained(directory / graph.folder(name), device=dev, dtype=dt)
        pipe = cls(graph, stages, manifest)
        pipe.device, pipe.dtype = dev, dt
        return pipe

    def save_pretrained(self, directory: str | Path, *, extra: dict | None = None) -> Path:
        """Write every stage folder and cascade.json (with sha256 of each file) into a temp dir, then rename."""
        directory = Path(directory)
        manifest = {k: v for k, v in self.manifest.items() if k not in ("graph", "files")}
        manifest.update(extra or {})
        with atomic_dir(directory) as tmp:
            for name in self.graph.order:
                self.stages[name].save_pretrained(tmp / self.graph.folder(name))
            files = {p.relative_to(tmp).as_posix(): sha256_file(p)
                     for p in sorted(tmp.rglob("*")) if p.is_file()}
            manifest = {"format": "cascade/1", "cascade_version": __version__, **manifest,
                        "graph": self.graph.to_dict(), "files": files}
            atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2))
        self.manifest = manifest
        return directory

    def to(self, device=None, dtype=None) -> "CascadePipeline":
        self.device = resolve_device(device) if device is not None else self.device
        self.dtype = resolve_dtype(dtype, self.device) if dtype is not None else self.dtype
        for st in self.stages.values():
            st.to(self.device, self.dtype)
        return self

    # -- running ------------------------------------------------------------------------------
    def __call__(self, prompt: str | list[str], *, seed: int = 0, steps: int | Mapping[str, int] | None = None,
                 guidance: float | Mapping[str, float] | None = None, device=None, dtype=None,
                 progress: bool = True) -> Video:
        return self.run(prompt, seed=seed, steps=steps, guidance=guidance, device=device, dtype=dtype,
                        progress=progress)[self.graph.output]

    def run(self, prompt: str | list[str], *, seed: int = 0, steps: int | Mapping[str, int] | None = None,
            guidance: float | Mapping[str, float] | None = None, device=None, dtype=None,
            progress: bool = True, until: str | None = None,
            given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run the graph in order and return every stage's output by name (stop after `until`).

        given: outputs already computed, by stage name (e.g. from an earlier run with the same prompts and
        seed); those stages are not run again, so one upstream render can feed several downstream variants.
        """
        prompts = check_prompts(prompt)
        check_sampling_args(steps, guidance)
        check_seed(seed)
        self.warn_unknown_words(prompts)
        if device is not None or dtype is not None:
            self.to(device, dtype)
        unknown = sorted(set(given or ()) - set(self.graph.order))
        if unknown:
            raise CascadeError(f"given outputs for {', '.join(unknown)}, which this cascade has no stage for")
        outputs: dict[str, Any] = dict(given or {})
        self.last_timings = {}
        for i, name in enumerate(self.graph.order):
            if name in outputs:
                check_payload(self.stages[name].output_spec, outputs[name], name)
                if name == until:
                    break
                continue
            stage = self.stages[name]
            inputs = {inp: prompts for inp, spec in stage.input_spec.items() if isinstance(spec, PromptSpec)}
            inputs.update({e.input: outputs[e.src] for e in self.graph.edges if e.dst == name})
            gen = torch.Generator(self.device).manual_seed(stage_seed(seed, name))
            t0 = time.perf_counter()
            log.info("stage %d/%d: %s", i + 1, len(self.graph.order), name)
            with torch.inference_mode():
                out = stage(inputs, generator=gen, steps=stage_setting(steps, name), guidance=stage_setting(guidance, name),
                            progress=progress)
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            self.last_timings[name] = time.perf_counter() - t0
            check_payload(stage.output_spec, out, name)
            check_finite(out, name, stage_setting(steps, name), stage_setting(guidance, name))
            outputs[name] = out
            if name == until:
                break
        return outputs

    def known_words(self) -> set[str] | None:
        """The words of the training captions (cascade.json `vocabulary`) and of every stage's lexicon; None when
        the cascade records no vocabulary."""
        vocabulary = self.manifest.get("vocabulary")
        if not vocabulary:
            return None
        if self._known is None or self._known[0] is not vocabulary:  # once per manifest, not once per prompt
            known = set(vocabulary)
            for st in self.stages.values():
                known |= set(getattr(st, "known_words", lambda: ())())
            self._known = (vocabulary, known)
        return self._known[1]

    def unknown_words(self, prompt: str) -> list[str]:
        """The prompt's content words these weights never saw in training (empty without a recorded vocabulary)."""
        from cascade.vocabulary import unknown_words

        known = self.known_words()
        return [] if known is None else unknown_words(prompt, known)

    def warn_unknown_words(self, prompts: list[str]) -> None:
        import warnings

        from cascade.vocabulary import PromptVocabularyWarning

        level, frame = 2, sys._getframe(1)  # point the warning at the caller's line, outside this module
        while frame is not None and frame.f_code.co_filename == __file__:
            frame, level = frame.f_back, level + 1
        for p in dict.fromkeys(prompts):
            unknown = self.unknown_words(p)
            if unknown:
                warnings.warn(f"these weights never saw {', '.join(repr(w) for w in unknown)} in training; the "
                              f"render may ignore {'it' if len(unknown) == 1 else 'them'} (prompt {p!r})",
                              PromptVocabularyWarning, stacklevel=level)

    def video_stages(self) -> list[str]:
        """Names of the stages whose output is a video, in run order (what a contact sheet shows)."""
        return [n for n in self.graph.order if isinstance(self.stages[n].output_spec, VideoSpec)]

    def stage_of_type(self, type_: str) -> str | None:
        """Name of the first stage of this type in run order, or None."""
        return next((n for n in self.graph.order if self.graph.nodes[n].type == type_), None)

    def num_parameters(self) -> dict[str, int]:
        return {n: st.num_parameters() for n, st in self.stages.items()}


def stage_setting(value, name):
    """A sampling override for stage `name`: one value for every stage, or a {stage name: value} mapping."""
    return value.get(name) if isinstance(value, Mapping) else value


MAX_PROMPTS = 256  # prompts in one call: every stage holds the whole batch in memory at once
MAX_PROMPT_CHARS = 2000  # the text encoder reads 32 tokens; a longer prompt is a mistake (a file pasted in)
MAX_STEPS = 1000  # sampling steps: the noise schedules have 1000 training timesteps
MAX_GUIDANCE = 100.0  # classifier-free guidance weight; papers use 1-15
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes a non-negative 64-bit integer


def check_prompts(prompt: str | list[str]) -> list[str]:
    """The prompts as a list; one sentence for an empty one, text that is not valid UTF-8 (invalid bytes reach
    Python as lone surrogates), a NUL or control character, a prompt or a list too long."""
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not prompts or any(not isinstance(p, str) or not p.strip() for p in prompts):
        raise CascadeError("the prompt is empty; pass some text, e.g. \"a red circle moving left\"")
    if len(prompts) > MAX_PROMPTS:
        raise CascadeError(f"{len(prompts)} prompts in one call; at most {MAX_PROMPTS} fit in memory together, so "
                           f"split them into several calls")
    for p in prompts:
        bad = next((i for i, ch in enumerate(p) if "\udc80" <= ch <= "\udcff"), None)
        if bad is not None:
            raise CascadeError(f"the prompt {p[:bad]!r}... is not valid UTF-8 text (byte 0x{ord(p[bad]) - 0xdc00:02x} "
                               f"at character {bad}); pass text in UTF-8")
        ctrl = next((i for i, ch in enumerate(p) if ord(ch) < 32 and ch not in "\t\n\r" or ch == "\x7f"), None)
        if ctrl is not None:
            raise CascadeError(f"the prompt {p[:ctrl]!r}... holds a control character (code {ord(p[ctrl])}) at "
                               f"character {ctrl}; remove it")
        if len(p) > MAX_PROMPT_CHARS:
            raise CascadeError(f"a prompt of {len(p)} characters is longer than the {MAX_PROMPT_CHARS} allowed; the "
                               f"text encoder reads only its first 32 tokens")
    return prompts


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise CascadeError(f"the seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return seed


def check_sampling_args(steps, guidance) -> None:
    for what, v in (("steps", steps), ("guidance", guidance)):
        values = v.values() if isinstance(v, Mapping) else [v]
        for x in values:
            if x is None:
                continue
            if what == "steps" and not (math.isfinite(x) and x == int(x) and 1 <= x <= MAX_STEPS):
                raise CascadeError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {x}")
            if what == "guidance" and not (math.isfinite(x) and 0 <= x <= MAX_GUIDANCE):  # NaN passed `< 0`
                raise CascadeError(f"guidance must be a number from 0 to {MAX_GUIDANCE:g}, got {x}")


def check_finite(payload, name: str, steps, guidance) -> None:
    """A stage output with NaN or inf stops the render with one sentence naming the stage and its settings."""
    tensors = [payload.tensor] if isinstance(payload, Video) else \
        [payload.tokens, payload.pooled] if hasattr(payload, "tokens") else []
    if all(bool(torch.isfinite(t).all()) for t in tensors):
        return
    settings = ", ".join(f"{k} {v}" for k, v in (("steps", steps), ("guidance", guidance)) if v is not None)
    raise CascadeError(f"stage {name} produced non-finite values (NaN or inf){f' with {settings}' if settings else ''}; "
                       f"nothing was written: lower --guidance or use the stage's default settings")


RESTORE = "restore it (git checkout weights/ for the shipped cascade) or assemble the cascade again"


def read_manifest(directory: Path) -> dict:
    if not directory.is_dir():
        raise CascadeError(f"weights directory {directory} does not exist; give a cascade weights folder (the "
                           f"repository's weights/, or one written by cascade assemble)")
    path = directory / MANIFEST
    if not path.is_file():
        raise CascadeError(f"{path} is missing; a cascade weights directory needs its cascade.json "
                           f"(cascade assemble writes one)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CascadeError(f"{path} is not valid JSON ({e}); re-export the weights") from None
    if not isinstance(manifest, dict) or "graph" not in manifest:
        raise CascadeError(f"{path} has no 'graph' section; is it a cascade manifest?")
    return manifest


def verify_files(directory: Path, manifest: dict, graph: CascadeGraph) -> None:
    """Every listed file exists with its sha256; no pickle sits where weights belong."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise CascadeError(f"{directory / MANIFEST} lists no files with their sha256; re-export the weights")
    for name in graph.nodes:
        folder = directory / graph.folder(name)
        for p in folder.glob("*") if folder.is_dir() else []:
            if p.suffix in PICKLE_SUFFIXES:
                raise CascadeError(f"{p} is a pickle-format file; cascade loads only .safetensors weights")
    for rel, digest in files.items():
        p = directory / rel
        if Path(rel).suffix not in (".json", ".safetensors"):
            raise CascadeError(f"{p} is listed in cascade.json but only .json and .safetensors files are allowed")
        if not p.is_file():
            raise CascadeError(f"{p} is missing; {RESTORE}")
        if sha256_file(p) != digest:
            raise CascadeError(f"{p} does not match the sha256 in cascade.json (corrupt or replaced); {RESTORE}")
    for name in graph.nodes:
        for fname in ("config.json", "model.safetensors"):
            p = directory / graph.folder(name) / fname
            if p.exists() and f"{graph.folder(name)}/{fname}" not in files:
                raise CascadeError(f"{p} is not listed in cascade.json; re-export the weights")

"""Video data sources by kind: what a training config's `data.kind` names, built at a stage's output spec.

A source is a function (data settings, output spec, needs_text) -> map-style dataset of {"video", "caption"} items;
the framework asks for a kind by name and imports no data world.
"""

from __future__ import annotations

from typing import Any, Callable

from cascade.errors import CascadeError
from cascade.types import VideoSpec

Source = Callable[[Any, VideoSpec, bool], Any]
_SOURCES: dict[str, Source] = {}


def register_source(kind: str):
    """Decorator: make a data source available as `data.kind: <kind>` in training configs."""

    def wrap(fn: Source) -> Source:
        _SOURCES[kind] = fn
        return fn

    return wrap


def video_source(kind: str, data: Any, spec: VideoSpec, *, needs_text: bool):
    """The dataset of source `kind` at `spec`."""
    if kind not in _SOURCES:
        raise CascadeError(f"unknown data kind '{kind}'; choose one of {', '.join(sorted(_SOURCES))}")
    return _SOURCES[kind](data, spec, needs_text)


def source_kinds() -> list[str]:
    return sorted(_SOURCES)


@register_source("shapes")
def _shapes(data, spec: VideoSpec, needs_text: bool):
    from cascade.data.shapes_dataset import ShapesDataset

    return ShapesDataset(data.num_clips, frames=spec.frames, size=spec.height, fps=spec.fps, seed=data.seed,
                         varied_words=data.shape_words == "varied", varied_wordings=data.wordings == "varied")


@register_source("photos")
def _photos(data, spec: VideoSpec, needs_text: bool):
    from cascade.data.photos_dataset import PhotosDataset

    return PhotosDataset(data.num_clips, frames=spec.frames, size=spec.height, fps=spec.fps, seed=data.seed,
                         varied_words=data.shape_words == "varied", varied_wordings=data.wordings == "varied")


@register_source("folder")
def _folder(data, spec: VideoSpec, needs_text: bool):
    from cascade.data.video_folder import VideoTextDataset

    if data.path is None:
        raise CascadeError("data.path is required when data.kind is 'folder'")
    return VideoTextDataset(data.path, frames=spec.frames, size=spec.height, fps=spec.fps, captions=data.captions,
                            require_captions=needs_text)

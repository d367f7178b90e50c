"""Training data: procedural shapes clips (in memory or written to disk) and captioned video/image folders."""

_LAZY = {
    "COLOURS": "cascade.data.shapes",
    "SHAPES": "cascade.data.shapes",
    "MOTIONS": "cascade.data.shapes",
    "ALL_COMBOS": "cascade.data.shapes",
    "HELD_OUT": "cascade.data.shapes",
    "TRAIN_COMBOS": "cascade.data.shapes",
    "TRAIN_TEMPLATES": "cascade.data.shapes",
    "HELD_OUT_TEMPLATES": "cascade.data.shapes",
    "SHAPE_WORDS": "cascade.data.shapes",
    "HELD_OUT_SHAPE_WORDS": "cascade.data.shapes",
    "indexed_shape_word": "cascade.data.shapes",
    "ClipParams": "cascade.data.shapes",
    "caption": "cascade.data.shapes",
    "sample_params": "cascade.data.shapes",
    "render_params": "cascade.data.shapes",
    "render_clip": "cascade.data.shapes",
    "indexed_params": "cascade.data.shapes",
    "ShapesDataset": "cascade.data.shapes_dataset",
    "write_shapes_dataset": "cascade.data.shapes_writer",
    "VideoTextDataset": "cascade.data.video_folder",
    "ImageTextDataset": "cascade.data.image_folder",
    "collate": "cascade.data.batching",
}

__all__ = list(_LAZY)


def __getattr__(name):  # lazy: the numpy-only shapes renderer (and its worker processes) need not import torch
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cascade.data' has no attribute {name!r}")

"""cascade: cascaded text-to-video diffusion (base video, temporal SR, spatial SR) on a typed stage graph."""

__version__ = "0.1.0"

_LAZY = {
    "CascadePipeline": "cascade.pipeline",
    "CascadeGraph": "cascade.graph",
    "CascadeError": "cascade.errors",
    "Video": "cascade.types",
    "VideoSpec": "cascade.types",
    "TextEmbedding": "cascade.types",
    "TextSpec": "cascade.types",
    "register_stage": "cascade.registry",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):  # keep `import cascade` (and `cascade --help`) fast: load torch only when needed
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cascade' has no attribute {name!r}")

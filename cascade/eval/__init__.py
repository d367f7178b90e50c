"""Evaluation: pixel metrics (PSNR, SSIM, flicker), suites of prompts with their probes (cascade.eval.suites), and
the report of a whole cascade (cascade.eval.run)."""

_LAZY = {
    "get_suite": "cascade.eval.suites",
    "psnr": "cascade.eval.metrics",
    "ssim": "cascade.eval.metrics",
    "temporal_change": "cascade.eval.metrics",
    "flicker": "cascade.eval.metrics",
}

__all__ = list(_LAZY)


def __getattr__(name):  # lazy: importing cascade.eval stays cheap
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cascade.eval' has no attribute {name!r}")

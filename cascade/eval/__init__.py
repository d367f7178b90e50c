"""Evaluation: the shapes attribute probe, prompt parsing, and pixel metrics (PSNR, SSIM, flicker)."""

_LAZY = {
    "analyze_clip": "cascade.eval.probe",
    "analyze_batch": "cascade.eval.probe",
    "score": "cascade.eval.probe",
    "parse_prompt": "cascade.eval.prompts",
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

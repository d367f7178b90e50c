"""Eval suites behind one interface: each data world's prompts, probe, real clips and Fréchet features.

A suite object offers:
  name, attributes                     the attributes its probe reads, e.g. ("colour", "shape", "motion")
  cases(seeds) -> [case]               prompt, target, seed_group, split ("trained"/"held_out"), template, ...
  file_cases(prompts, seeds) -> [case] cases for the user's own prompts (target None where the probe reads none)
  groups(rows) -> {group: rows}        the report's fidelity groups
  analyze(frames) -> {attribute: value} the probe on one uint8 clip (F, H, W, 3)
  score(results, targets) -> {attribute: accuracy, "all", "n"}
  real_clips(spec, n, seed, targets=None) -> (videos (N, 3, F, H, W) in [-1, 1], captions)
  frechet(videos, spec) -> {...}       a Fréchet distance of generated clips to real ones, with its real-vs-real range
  preview_metrics(prompts, video) -> {name: value}  what a training preview logs
"""

from __future__ import annotations

from importlib import import_module

from cascade.errors import CascadeError

SUITES = {"shapes": "cascade.eval.suites.shapes", "photos": "cascade.eval.suites.photos"}


def get_suite(name: str):
    """The suite registered as `name`."""
    if name not in SUITES:
        raise CascadeError(f"unknown suite '{name}'; choose one of {', '.join(SUITES)} (or pass --prompts FILE)")
    return import_module(SUITES[name]).SUITE


def suite_for_data(kind: str):
    """The suite of a training data kind (shapes data -> shapes suite), or None for a kind no suite reads."""
    return get_suite(kind) if kind in SUITES else None

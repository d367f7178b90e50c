"""From a training config to a stage and its TrainTask: preset, overrides, seed, init weights, frozen upstream."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from cascade.errors import CascadeError

log = logging.getLogger(__name__)


def init_weights(stage, folder: Path) -> None:
    """Load a saved stage folder's weights into `stage` (fine-tuning); it must be the same stage type and network."""
    from cascade.stage import CONFIG_NAME, WEIGHTS_NAME, stage_type_of

    if not (folder / CONFIG_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
        raise CascadeError(f"init_from: {folder} is not a stage folder (it needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    saved = stage_type_of(folder)
    if saved != stage.config.type:
        raise CascadeError(f"init_from: {folder} holds a {saved} stage, not {stage.config.type}")
    stage.load_weights(folder / WEIGHTS_NAME)
    if callable(getattr(stage, "init_config_from", None)):  # settings that belong with the weights (a latent map)
        stage.init_config_from(folder)
    log.info("initialised %s from %s", stage.config.type, folder)


def build_task(train_config, *, preset: str | None = None, source: str | None = None,
               preview_metrics=None, latent_cache: str | Path | None = None) -> tuple[Any, Any]:
    """(stage, TrainTask) from a TrainConfig: the stage type's preset with the config's model overrides, its
    initial weights a function of the config's seed (or `init_from`), and the frozen upstream stages its training
    needs, built through the registry from the specs the stage declares (a latent stage's autoencoder from the folder
    its config names; its encoded training clips are cached under `latent_cache`). Errors name `source` and the
    section."""
    from cascade.registry import frozen_stage_for, get_stage_class, trainable_stages
    from cascade.stage import make_stage_config

    where = f"{source}: " if source else ""
    cls = get_stage_class(train_config.stage)
    stage_cfg = make_stage_config(cls, preset or train_config.preset, train_config.model, source=f"{where}model")
    stage_cls = get_stage_class(stage_cfg.type)
    if not callable(getattr(stage_cls, "train_task", None)):
        raise CascadeError(f"{where}stage type '{stage_cfg.type}' has nothing to train (it is frozen or training-free); "
                           f"trainable types: {', '.join(trainable_stages())}")
    torch.manual_seed(train_config.seed)  # the network's initial weights are a function of the config's seed
    stage = stage_cls(stage_cfg)
    if train_config.init_from:
        init_weights(stage, Path(train_config.init_from))
    elif getattr(stage, "freezes_untrained_weights", False):
        raise CascadeError(f"{where}model.network.freeze_spatial trains only the temporal layers, but this "
                           f"{stage_cfg.type} network's spatial weights are a random init; start from trained ones "
                           f"(init_from: a stage folder, or network.pretrained_unet2d: an image model) or set "
                           f"freeze_spatial: false")
    needs = stage.training_upstream() if hasattr(stage, "training_upstream") else {}
    upstream = {name: frozen_stage_for(spec) for name, spec in needs.items()}
    options = {"latent_cache": latent_cache} if "latent" in upstream and latent_cache is not None else {}
    task = stage.train_task(train_config.data, upstream, preview_prompts=train_config.preview_prompts,
                            preview_metrics=preview_metrics, source=f"{where}data", **options)
    return stage, task

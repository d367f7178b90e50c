"""Training any stage: the accelerate loop, EMA, atomic checkpoints and resume, config loading."""

from cascade.training.checkpoint import Checkpoint, list_checkpoints, load_latest, save_checkpoint
from cascade.training.config import OptimConfig, TrainConfig, apply_overrides, load_config
from cascade.training.ema import EMA
from cascade.training.task import TrainTask
from cascade.training.trainer import Trainer, export_run

__all__ = ["Checkpoint", "EMA", "OptimConfig", "TrainConfig", "TrainTask", "Trainer", "apply_overrides",
           "export_run", "list_checkpoints", "load_config", "load_latest", "save_checkpoint"]

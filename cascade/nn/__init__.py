"""Neural network parts: the SpaceTimeUNet backbone and its registry of temporal mixers."""

from cascade.nn.mixers import MIXERS, TemporalMixer, build_mixer, register_mixer
from cascade.nn.unet import SpaceTimeUNet

__all__ = ["MIXERS", "SpaceTimeUNet", "TemporalMixer", "build_mixer", "register_mixer"]

"""base_video stage: text embedding -> clip by v-prediction diffusion with classifier-free guidance."""

from __future__ import annotations

import torch

from cascade.diffusion_stage import DiffusionStage
from cascade.nn.unet_motion import MotionNetworkConfig, build_motion_unet
from stages.base_video.config import BaseVideoConfig


class BaseVideoStage(DiffusionStage):
    config_class = BaseVideoConfig  # conditioned on text alone: the shared hooks' defaults suffice

    def build_network(self, config: BaseVideoConfig) -> torch.nn.Module:
        """A SpaceTimeUNet, or (network.kind: unet_motion) a video U-Net grown from an image U-Net; the latter's config
        then records the grown architecture in place of the image model's folder, so the saved stage loads alone."""
        net = config.network
        if not isinstance(net, MotionNetworkConfig):
            return super().build_network(config)
        network = build_motion_unet(net, channels=config.output_spec().channels, text_dim=config.text.dim, frames=config.frames)
        self.spatial_pretrained = net.pretrained_unet2d is not None
        recorded = net.model_copy(update={"pretrained_unet2d": None, "unet": network.config["unet_config"]})
        self.config = config.model_copy(update={"network": recorded})
        return network

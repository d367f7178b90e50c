"""base_video config: text -> low-resolution, low-fps clip (Imagen Video base model)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag

from cascade.diffusion_stage import DiffusionStageConfig, NetworkConfig, SamplingConfig
from cascade.latent import LatentGeometry
from cascade.nn.unet_motion import MotionNetworkConfig
from cascade.types import TextSpec, VideoSpec


def _network_kind(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind or "space_time_unet"  # a network section without a kind is a SpaceTimeUNet's


# network.kind picks the backbone: a SpaceTimeUNet trained from a seed (no kind), or "unet_motion", a diffusers
# UNetMotionModel grown from an image UNet2DConditionModel (cascade/nn/unet_motion.py)
BaseNetworkConfig = Annotated[Union[Annotated[NetworkConfig, Tag("space_time_unet")],
                                    Annotated[MotionNetworkConfig, Tag("unet_motion")]],
                              Discriminator(_network_kind, custom_error_type="network_kind",
                                            custom_error_message="kind must be 'unet_motion', or left out for a "
                                                                 "SpaceTimeUNet")]


class BaseVideoConfig(DiffusionStageConfig, LatentGeometry):
    """With `latent`, frames/height/width/channels describe the pixel clip and the output is its latents."""

    type: Literal["base_video"] = "base_video"
    text: TextSpec = TextSpec(length=16, dim=384)
    network: BaseNetworkConfig = NetworkConfig()
    frames: int = Field(default=8, gt=0)
    height: int = 32
    width: int = 32
    channels: int = 3
    fps: float = Field(default=4.0, gt=0)
    space: Literal["pixel", "latent"] = "pixel"
    sampling: SamplingConfig = SamplingConfig(guidance=5.0)

    def input_specs(self):
        return {"text": self.text}

    def truth_spec(self) -> VideoSpec:
        """The clips training data is made at (a latent stage's are encoded to its output spec)."""
        return VideoSpec(frames=self.frames, height=self.height, width=self.width, channels=self.channels,
                         fps=self.fps, space=self.space if self.latent is None else "pixel")

    def output_spec(self) -> VideoSpec:
        return self.in_space(self.truth_spec())

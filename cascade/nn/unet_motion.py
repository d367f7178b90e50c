"""An image U-Net grown into a video U-Net: diffusers' UNetMotionModel (AnimateDiff motion modules over the frames of
a UNet2DConditionModel), called like SpaceTimeUNet so the stages' denoiser, guidance and samplers drive it unchanged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Literal

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

log = logging.getLogger(__name__)

# keys diffusers writes into a model's config that are not constructor arguments
DIFFUSERS_META = ("_class_name", "_diffusers_version", "_name_or_path", "_use_default_values")
MOTION_MODULES = "motion_modules"  # the name diffusers gives every temporal layer of a UNetMotionModel


class MotionNetworkConfig(BaseModel):
    """`network.kind: unet_motion`: a UNetMotionModel grown from an image U-Net the user has on disk.

    Give `pretrained_unet2d` (a UNet2DConditionModel folder written by `save_pretrained`) to start a training run from
    the image model; a saved stage records the grown network's architecture in `unet` instead, so loading it needs
    only its own model.safetensors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["unet_motion"]
    pretrained_unet2d: str | None = None
    unet: dict[str, Any] | None = None  # the UNetMotionModel config (written when the stage is saved)
    motion_num_attention_heads: int = Field(default=8, gt=0)
    motion_transformer_layers: int = Field(default=1, ge=1)  # transformer layers per motion module
    motion_max_seq_length: int = Field(default=32, gt=0)  # frames the sinusoidal frame-index embedding covers
    motion_norm_num_groups: int = Field(default=32, gt=0)
    use_motion_mid_block: bool = True
    freeze_spatial: bool = False  # AnimateDiff / Video LDM: train the motion modules only
    gradient_checkpointing: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> "MotionNetworkConfig":
        if self.pretrained_unet2d is not None and self.unet is not None:
            raise ValueError("give either pretrained_unet2d (an image model to start from) or unet (the architecture "
                             "a saved stage records), not both")
        return self


class MotionUNet(ModelMixin, ConfigMixin):
    """(x (B, C, F, H, W), noise input (B,), text tokens (B, L, D)) -> (B, C, F, H, W) through a UNetMotionModel.

    Text conditioning as the image U-Net was trained: every token is attended to (Stable Diffusion's U-Net takes no
    padding mask, and diffusers' UNetMotionModel passes none on) and no pooled vector is used. Classifier-free
    guidance replaces dropped text by one learned null token, zero at initialisation."""

    @register_to_config
    def __init__(self, unet_config: dict[str, Any] | None = None, freeze_spatial: bool = False,
                 gradient_checkpointing: bool = False):
        super().__init__()
        from diffusers import UNetMotionModel

        self.unet = UNetMotionModel.from_config(dict(unet_config or {}))
        self.null_tokens = nn.Parameter(torch.zeros(self.unet.config.cross_attention_dim))
        if gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
        if freeze_spatial:
            self.freeze_spatial()

    def freeze_spatial(self) -> None:
        """Train the motion modules only (the image model and the null token stay as they are)."""
        self.unet.freeze_unet2d_params()
        self.null_tokens.requires_grad_(False)

    # -- parameter groups ---------------------------------------------------------------------------
    def temporal_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the motion modules (the layers grown on the image model)."""
        return (p for name, p in self.named_parameters() if f".{MOTION_MODULES}." in name)

    def spatial_parameters(self) -> Iterator[nn.Parameter]:
        """Every other parameter: the per-frame image model and the null token."""
        return (p for name, p in self.named_parameters() if f".{MOTION_MODULES}." not in name)

    # -- forward ------------------------------------------------------------------------------------
    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                encoder_attention_mask: torch.Tensor | None = None, pooled: torch.Tensor | None = None,
                cond: torch.Tensor | None = None, aug_level: torch.Tensor | None = None,
                text_drop: torch.Tensor | None = None, image_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, F, H, W) noisy video at noise input `timestep` (B,) -> (B, C, F, H, W)."""
        b, _, f, _, _ = sample.shape
        if cond is not None or aug_level is not None:
            raise ValueError("a network grown from an image U-Net takes no conditioning video or augmentation level")
        if image_mask is not None and bool(torch.as_tensor(image_mask).any()):
            raise ValueError("a network grown from an image U-Net runs its motion modules on every clip; train it on "
                             "videos alone (data.image_fraction: 0)")
        device = sample.device
        drop = torch.zeros(b, dtype=torch.bool, device=device) if text_drop is None else text_drop.to(device, bool)
        null = self.null_tokens.view(1, 1, -1)
        if encoder_hidden_states is None:
            tokens = null.expand(b, 1, -1)
        else:
            tokens = torch.where(drop[:, None, None], null, encoder_hidden_states.to(null.dtype))  # (B, L, D)
        tokens = tokens.to(sample.dtype).repeat_interleave(f, dim=0)  # (B*F, L, D): frames are folded into the batch
        t = torch.as_tensor(timestep, device=device, dtype=torch.float32).reshape(-1).expand(b)
        return self.unet(sample, t, tokens).sample  # (B, C, F, H, W)


def zero_motion_outputs(model: nn.Module) -> int:
    """Make-A-Video / AnimateDiff identity init: zero every motion module's output projection, so each temporal layer
    adds nothing to its residual and the video model equals the image model on every frame. Returns how many."""
    from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D

    count = 0
    for m in model.modules():
        if isinstance(m, AnimateDiffTransformer3D):
            nn.init.zeros_(m.proj_out.weight)
            nn.init.zeros_(m.proj_out.bias)
            count += 1
    return count


def load_image_unet(path: str | Path):
    """A UNet2DConditionModel from a local folder (config.json + safetensors weights; never pickle, never a hub)."""
    from diffusers import UNet2DConditionModel

    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise ValueError(f"network.pretrained_unet2d: {folder} is not a diffusers model folder (it needs the "
                         f"config.json and weights that UNet2DConditionModel.save_pretrained writes)")
    try:
        return UNet2DConditionModel.from_pretrained(str(folder), use_safetensors=True, local_files_only=True)
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"network.pretrained_unet2d: could not load a UNet2DConditionModel from {folder} ({e}); "
                         f"it must hold its config.json and safetensors weights") from None


def check_image_unet(unet2d, *, channels: int, text_dim: int) -> None:
    """One sentence when the image model cannot serve as this stage's spatial layers."""
    c = unet2d.config
    if c.cross_attention_dim != text_dim:
        raise ValueError(f"the image U-Net attends to text {c.cross_attention_dim} wide but the stage's text "
                         f"encoder is {text_dim} wide; set text.dim to {c.cross_attention_dim} and use a text encoder "
                         f"of that width, such as the image model's own")
    if (c.in_channels, c.out_channels) != (channels, channels):
        raise ValueError(f"the image U-Net maps {c.in_channels} to {c.out_channels} channels but the stage makes "
                         f"{channels}-channel videos; set channels (and space) to match the image model")
    extra = [k for k in ("addition_embed_type", "class_embed_type", "encoder_hid_dim_type") if c.get(k)]
    if extra:
        raise ValueError(f"the image U-Net needs extra conditioning ({', '.join(extra)}), which this stage does not "
                         f"give; use a text-only UNet2DConditionModel")


def grow_from_image(cfg: MotionNetworkConfig, *, channels: int, text_dim: int) -> MotionUNet:
    """The image U-Net at cfg.pretrained_unet2d with AnimateDiff motion modules added (diffusers' MotionAdapter and
    UNetMotionModel.from_unet2d), their outputs zeroed so that step 0 equals the image model on every frame."""
    from diffusers import MotionAdapter, UNetMotionModel
    from diffusers.utils import logging as diffusers_logging

    unet2d = load_image_unet(cfg.pretrained_unet2d)
    check_image_unet(unet2d, channels=channels, text_dim=text_dim)
    adapter = MotionAdapter(block_out_channels=tuple(unet2d.config.block_out_channels),
                            motion_layers_per_block=unet2d.config.layers_per_block,
                            motion_transformer_layers_per_block=cfg.motion_transformer_layers,
                            motion_transformer_layers_per_mid_block=cfg.motion_transformer_layers,
                            motion_num_attention_heads=cfg.motion_num_attention_heads,
                            motion_norm_num_groups=cfg.motion_norm_num_groups,
                            motion_max_seq_length=cfg.motion_max_seq_length,
                            use_motion_mid_block=cfg.use_motion_mid_block)
    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()  # from_unet2d's note on dtype casts is noise here (everything is fp32)
    try:
        motion = UNetMotionModel.from_unet2d(unet2d, adapter)
    finally:
        diffusers_logging.set_verbosity(verbosity)
    # diffusers' MotionAdapter initialises its output projections randomly (and the mid block's motion modules are not
    # taken from the adapter at all), so the identity init is made here
    zero_motion_outputs(motion)
    net = MotionUNet(unet_config=motion_config(motion), freeze_spatial=cfg.freeze_spatial,
                     gradient_checkpointing=cfg.gradient_checkpointing)
    net.unet.load_state_dict(motion.state_dict())
    log.info("grew a video U-Net from the image model at %s (%.1fM parameters, %.1fM of them temporal)",
             cfg.pretrained_unet2d, sum(p.numel() for p in net.parameters()) / 1e6,
             sum(p.numel() for p in net.temporal_parameters()) / 1e6)
    return net


def motion_config(model) -> dict[str, Any]:
    """A UNetMotionModel's constructor arguments as plain JSON values (what a saved stage's config records)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(model.config).items() if k not in DIFFUSERS_META}


def build_motion_unet(cfg: MotionNetworkConfig, *, channels: int, text_dim: int, frames: int) -> MotionUNet:
    """The network a `unet_motion` config describes: grown from the image model, or the recorded architecture (whose
    weights the stage folder's model.safetensors then fills)."""
    if cfg.motion_max_seq_length < frames:
        raise ValueError(f"network.motion_max_seq_length is {cfg.motion_max_seq_length} but the stage makes {frames} "
                         f"frames; raise it to at least {frames}")
    if cfg.pretrained_unet2d is not None:
        return grow_from_image(cfg, channels=channels, text_dim=text_dim)
    if cfg.unet is None:
        raise ValueError("network.pretrained_unet2d is not set; point it at a folder holding a diffusers "
                         "UNet2DConditionModel (written by save_pretrained)")
    return MotionUNet(unet_config=cfg.unet, freeze_spatial=cfg.freeze_spatial,
                      gradient_checkpointing=cfg.gradient_checkpointing)

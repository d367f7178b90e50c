"""Diffusion stages: a Denoiser-wrapped SpaceTimeUNet, its config, sampling with guidance wrappers, training entry.

A conditional diffusion stage (the super-resolution stages) adds `degrade` / `condition` (cascade.conditioning) and
a training-free baseline it is measured against.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping

import torch
from pydantic import BaseModel, ConfigDict, Field

from cascade.conditioning import Conditioning
from cascade.errors import CascadeError
from cascade.latent import LatentGeometry
from cascade.stage import BaseStage, StageConfig
from cascade.types import Spec, TextEmbedding, TextSpec, Video, VideoSpec


class NetworkConfig(BaseModel):
    """SpaceTimeUNet hyper-parameters (validated here so a typo names the field before any tensor is made)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_channels: int = Field(default=32, gt=0)
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = Field(default=1, ge=1)
    attention_levels: tuple[bool, ...] = (False, True, True)
    heads: int = Field(default=4, gt=0)
    temporal_mixer: str = "pseudo3d"
    temporal_levels: tuple[int, ...] | None = None
    alpha_wrap: bool = False
    freeze_spatial: bool = False
    max_frames: int = 64
    dropout: float = Field(default=0.0, ge=0, lt=1)
    gradient_checkpointing: bool = False
    attention_backend: Literal["sdpa", "xformers"] = "sdpa"
    patch_size: int = Field(default=1, ge=1)  # pixel-unshuffle the input by this factor (simple diffusion)


class SamplingConfig(BaseModel):
    """Sampling defaults stored beside the weights (chosen by measurement with `cascade eval`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sampler: Literal["ddim", "dpmsolver++", "euler"] = "dpmsolver++"
    steps: int = Field(default=25, gt=0)
    guidance: float = Field(default=1.0, ge=0)
    oscillating: bool = False  # Imagen Video oscillating guidance
    dynamic_thresholding: bool = True  # Imagen dynamic thresholding (pixel space only)
    # VDM §3.1 reconstruction guidance toward the known frames of a conditional stage (0: replacement alone)
    reconstruction_guidance: float = Field(default=0.0, ge=0)


class DiffusionStageConfig(StageConfig):
    text: TextSpec | None = None  # text conditioning (None: the stage ignores text)
    network: NetworkConfig = NetworkConfig()
    schedule: Literal["cosine", "linear"] = "cosine"
    prediction: Literal["v", "epsilon", "sample"] = "v"
    num_train_timesteps: int = 1000
    # Residual diffusion for conditional stages: diffuse (output - Conditioning.residual_base, e.g. the blended or
    # bicubic-upsampled input) instead of the output itself, so training only learns the correction (residual
    # super-resolution). With prediction "sample" and the zero-initialised output conv, an untrained stage returns
    # exactly its residual base.
    residual: bool = False
    sampling: SamplingConfig = SamplingConfig()


class ResamplingConfig(LatentGeometry):
    """A stage that maps one video to another by a factor (in time or space): its input video and the factor.
    Shared by the learned super-resolution configs and their training-free baselines. With `latent`, the fields
    describe the pixel clips and the specs are their latents (cascade.latent)."""

    factor: int = Field(default=2, ge=2)
    frames: int = Field(default=16, gt=0)  # input frames
    fps: float = Field(default=8.0, gt=0)  # input fps
    height: int = Field(default=32, gt=0)  # input height
    width: int = Field(default=32, gt=0)  # input width
    channels: int = Field(default=3, gt=0)
    space: Literal["pixel", "latent"] = "pixel"

    def pixel_input_spec(self) -> VideoSpec:
        return VideoSpec(frames=self.frames, height=self.height, width=self.width, channels=self.channels,
                         fps=self.fps, space=self.space if self.latent is None else "pixel")

    def resampled(self, spec: VideoSpec) -> VideoSpec:
        """The output video made from an input video of `spec` (more frames, or more pixels)."""
        raise NotImplementedError

    def input_video_spec(self) -> VideoSpec:
        return self.in_space(self.pixel_input_spec())

    def truth_spec(self) -> VideoSpec:
        """The clips training data is made at (a latent stage's are encoded to its output spec)."""
        return self.resampled(self.pixel_input_spec())

    def output_spec(self) -> VideoSpec:
        return self.in_space(self.truth_spec())

    def input_specs(self) -> dict[str, Spec]:
        return {"video": self.input_video_spec()}


class SuperResolutionConfig(ResamplingConfig, DiffusionStageConfig):
    """A learned super-resolution stage: one input video (and text, when `text` is set).

    Imagen Video §2.5-2.6 noise conditioning augmentation: training draws a level uniformly in [0, max_aug_level]
    and noises the input with it; sampling uses the fixed sample_aug_level; the level is given to the network.
    0 and 0: no augmentation, and no level embedding in the network."""

    max_aug_level: float = Field(default=0.0, ge=0, le=1)
    sample_aug_level: float = Field(default=0.0, ge=0, le=1)

    def input_specs(self) -> dict[str, Spec]:
        specs = super().input_specs()
        if self.text is not None:
            specs["text"] = self.text
        return specs


class DiffusionStage(BaseStage):
    """A stage whose output is sampled by a Denoiser-wrapped SpaceTimeUNet; it trains through `train_task`.

    Conditional subclasses implement `condition` (cascade.conditioning); training, sampling, guidance and saving
    are shared here.
    """

    cond_channels: int = 0  # extra input channels concatenated to the noisy video
    uses_aug_level: bool = False
    spatial_pretrained: bool = False  # the network's spatial layers came from a trained image model

    def __init__(self, config: DiffusionStageConfig):
        super().__init__(config)
        from cascade.diffusion import Denoiser, NoiseSchedule, make_scheduler_config

        try:  # the network checks how its fields fit together (mixer name, heads per width, levels)
            self.network = self.build_network(config)
        except ValueError as e:
            raise CascadeError(f"{config.type} network settings do not fit together: {e}") from None
        self.schedule_config = make_scheduler_config(config.schedule, config.num_train_timesteps, config.prediction)
        self.denoiser = Denoiser(self.network, NoiseSchedule(self.schedule_config), prediction=config.prediction)

    def build_network(self, config: DiffusionStageConfig) -> torch.nn.Module:
        """The SpaceTimeUNet `config.network` describes (a stage with other network kinds overrides this)."""
        from cascade.nn import SpaceTimeUNet

        out = config.output_spec()
        net = config.network.model_dump()
        net["channel_mults"] = tuple(net["channel_mults"])
        net["attention_levels"] = tuple(net["attention_levels"])
        return SpaceTimeUNet(in_channels=out.channels, cond_channels=self.cond_channels, out_channels=out.channels,
                             text_dim=config.text.dim if config.text else 384, use_text=config.text is not None,
                             use_aug_level=self.uses_aug_level, **net)

    @property
    def freezes_untrained_weights(self) -> bool:
        """Whether `freeze_spatial` would freeze spatial weights nothing has trained (a network made from a seed, not
        grown from an image model); training refuses that unless it starts from a stage folder (init_from)."""
        return self.config.network.freeze_spatial and not self.spatial_pretrained

    # -- conditioning -------------------------------------------------------------------------
    def conditioning(self, inputs: Mapping[str, Any], generator=None) -> Conditioning:
        """Sampling: the Conditioning of the upstream payloads (a text-only stage has none but its text)."""
        if "video" not in inputs or not hasattr(self, "condition"):
            return Conditioning()
        low = inputs["video"].tensor.to(self.device, self.dtype)
        return self.condition(low, generator=generator)

    def text_kwargs(self, text: TextEmbedding | None) -> dict:
        if self.config.text is None or text is None:
            return {}
        return {"encoder_hidden_states": text.tokens.to(self.device, self.dtype),
                "encoder_attention_mask": text.mask.to(self.device),
                "pooled": text.pooled.to(self.device, self.dtype)}

    # -- training -----------------------------------------------------------------------------
    def training_upstream(self) -> dict[str, Spec]:
        """The frozen stages a training run needs, by the spec they must make (built through the registry)."""
        needs = {"text": self.config.text} if self.config.text is not None else {}
        if getattr(self.config, "latent", None) is not None:  # ground truth is encoded by the stage's autoencoder
            needs["latent"] = self.config.encoder_folder(self.config.truth_spec())
        return needs

    def train_task(self, data: Mapping[str, Any], upstream: Mapping[str, Any], **options):
        """The TrainTask the generic trainer runs for this stage (cascade.training.diffusion_task)."""
        from cascade.training.diffusion_task import DiffusionTrainTask

        return DiffusionTrainTask(self, data, upstream, **options)

    def training_loss(self, model, video: torch.Tensor, text: TextEmbedding | None, generator: torch.Generator,
                      *, text_drop_prob: float = 0.1, image_mask: torch.Tensor | None = None,
                      min_snr_gamma: float | None = 5.0) -> torch.Tensor:
        """Per-sample diffusion loss on a ground-truth batch (B, C, F, H, W) in [-1, 1]: a conditional stage is
        conditioned on `condition(degrade(truth))`."""
        from cascade.diffusion import diffusion_loss

        c = self.condition(self.degrade(video), generator=generator, training=True) \
            if hasattr(self, "condition") else Conditioning()
        cond = dict(c.network, **self.text_kwargs(text))
        if self.config.text is not None and text is not None and text_drop_prob > 0:
            # Imagen / CFG: drop the text for a fraction of samples so the null embedding is learned
            drop = torch.rand(video.shape[0], generator=generator, device=generator.device) < text_drop_prob
            cond["text_drop"] = drop.to(video.device)
        if image_mask is not None:
            cond["image_mask"] = image_mask
        denoiser = self.denoiser if model is None else rewrap(self.denoiser, model)
        target = video - c.residual_base if self.config.residual else video
        return diffusion_loss(denoiser, target, cond, generator=generator, min_snr_gamma=min_snr_gamma)

    # -- sampling -----------------------------------------------------------------------------
    def guided_model(self, c: Conditioning, text: TextEmbedding | None, batch: int, *, steps: int,
                     guidance: float | None, generator=None):
        """The denoiser wrapped in this stage's guidance: CFG (oscillating), thresholding, known frames,
        reconstruction guidance."""
        from cascade.diffusion import Conditioned, KnownFrames, ReconstructionGuided, Thresholded
        from cascade.diffusion.guidance import oscillation_warmup

        cfg: DiffusionStageConfig = self.config
        s = cfg.sampling
        cond = dict(c.network, **self.text_kwargs(text))
        scale = s.guidance if guidance is None else guidance
        uncond = None
        if cfg.text is not None and scale != 1.0:
            uncond = dict(cond, text_drop=torch.ones(batch, dtype=torch.bool, device=self.device))
        else:
            scale = 1.0
        model = Conditioned(self.denoiser, cond, uncond, scale=scale, dtype=self.dtype,
                            oscillate_after=oscillation_warmup(steps) if s.oscillating else None)
        known = c.known
        if known is not None:
            known = known.to(self.device, torch.float32)
            if cfg.residual:  # known frames are known residuals
                known = known - c.residual_base.to(self.device, torch.float32)
            if s.reconstruction_guidance > 0:
                model = ReconstructionGuided(model, self.denoiser, known, c.known_mask, s.reconstruction_guidance)
        if s.dynamic_thresholding and self.output_spec.space == "pixel" and not cfg.residual:
            model = Thresholded(model)
        if known is not None:
            model = KnownFrames(model, self.denoiser, known, c.known_mask, generator)
        return model

    def sample_output(self, inputs: Mapping[str, Any], batch: int, *, generator=None, steps=None, guidance=None,
                      progress=True) -> torch.Tensor:
        from cascade.diffusion import sample

        s = self.config.sampling
        c = self.conditioning(inputs, generator)
        steps = steps or s.steps
        model = self.guided_model(c, inputs.get("text"), batch, steps=steps, guidance=guidance, generator=generator)
        out = self.output_spec
        x = sample(model, self.denoiser, (batch, out.channels, out.frames, out.height, out.width),
                   sampler=s.sampler, steps=steps, generator=generator, progress=progress)
        return x if not self.config.residual else x + c.residual_base.to(x.device, torch.float32)

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> Video:
        batch = _batch_size(inputs)
        x = self.sample_output(inputs, batch, generator=generator, steps=steps, guidance=guidance, progress=progress)
        return self.output_video(x)


class SuperResolutionStage(DiffusionStage):
    """What the learned temporal and spatial SR stages share: a training-free baseline stage (`baseline_class`,
    from the same geometry) whose `degrade` and estimate it uses, and noise conditioning augmentation levels
    (Imagen Video §2.5-2.6): the network gets a level embedding exactly when the config trains with it."""

    baseline_class: type

    def __init__(self, config: SuperResolutionConfig):
        self.uses_aug_level = config.max_aug_level > 0
        super().__init__(config)
        fields = set(self.baseline_class.config_class.model_fields) - {"type"}
        self.baseline_stage = self.baseline_class(self.baseline_class.config_class(
            **{k: getattr(config, k) for k in fields if k in type(config).model_fields}))

    def degrade(self, truth: torch.Tensor) -> torch.Tensor:
        return self.baseline_stage.degrade(truth)

    def baseline(self, low: torch.Tensor) -> torch.Tensor:
        return self.baseline_stage.baseline(low)

    def scored_frames(self) -> torch.Tensor | None:
        return self.baseline_stage.scored_frames()

    def aug_level(self, low: torch.Tensor, generator, *, training: bool) -> torch.Tensor | None:
        """(B,) levels for the input `low`: uniform in [0, max_aug_level] in training, the fixed sample_aug_level when sampling; None
        without augmentation."""
        from cascade.diffusion import sample_aug_level

        if not self.uses_aug_level:
            return None
        if training:
            return sample_aug_level(low.shape[0], self.config.max_aug_level, generator).to(low.device, low.dtype)
        return torch.full((low.shape[0],), self.config.sample_aug_level, device=low.device, dtype=low.dtype)


def _batch_size(inputs: Mapping[str, Any]) -> int:
    for v in inputs.values():
        if isinstance(v, (Video, TextEmbedding)):
            return v.batch_size
        if isinstance(v, list):
            return len(v)
    raise ValueError("a diffusion stage needs at least one input payload")


def rewrap(denoiser, model):
    """The same Denoiser math around another module (a DDP-wrapped or EMA copy of the network)."""
    from cascade.diffusion import Denoiser

    return Denoiser(model, denoiser.schedule, prediction=denoiser.prediction)

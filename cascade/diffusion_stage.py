"""Config shared by every diffusion stage: network shape, noise schedule, parametrisation, sampling."""

from __future__ import annotations

from typing import Any, Literal, Mapping

import torch
from pydantic import BaseModel, ConfigDict, Field

from cascade.errors import CascadeError
from cascade.stage import BaseStage, StageConfig
from cascade.types import TextEmbedding, TextSpec, Video, VideoSpec


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
    # A prompt the text encoder's lexicon glossed has two readings, glossed and as given (TextEmbedding.plain):
    # guidance composes them (Composable Diffusion, Liu et al. 2022), x0 = u + g((1-w)(glossed - u) + w(plain - u)),
    # w = plain_weight. 0 reads the glossed prompt only; a prompt without a gloss reads the same either way.
    plain_weight: float = Field(default=0.0, ge=0, le=1)


class DiffusionStageConfig(StageConfig):
    text: TextSpec | None = None  # text conditioning (None: the stage ignores text)
    network: NetworkConfig = NetworkConfig()
    schedule: Literal["cosine", "linear"] = "cosine"
    prediction: Literal["v", "epsilon", "sample"] = "v"
    num_train_timesteps: int = 1000
    # Residual diffusion for conditional stages: diffuse (output - the stage's training-free estimate, e.g. the
    # blended or bicubic-upsampled input) instead of the output itself, so training only learns the correction
    # (residual super-resolution). With prediction "sample" and the zero-initialised output conv, an untrained
    # stage returns exactly its baseline.
    residual: bool = False
    sampling: SamplingConfig = SamplingConfig()


class SuperResolutionConfig(DiffusionStageConfig):
    """What the temporal and spatial SR configs share: one input video (its spec), a factor, and a learned mode
    beside a training-free baseline mode that needs no weights. Subclasses name their modes and the output spec."""

    mode: str = "learned"
    factor: int = Field(default=2, ge=2)
    frames: int = Field(default=16, gt=0)  # input frames
    fps: float = Field(default=8.0, gt=0)  # input fps
    height: int = 32  # input height
    width: int = 32  # input width
    channels: int = 3
    space: Literal["pixel", "latent"] = "pixel"
    # Imagen Video §2.5-2.6 noise conditioning augmentation: training draws a level uniformly in
    # [0, max_aug_level] and noises the input with it; sampling uses the fixed sample_aug_level; the level is
    # given to the network. 0 and 0: no augmentation, and no level embedding in the network.
    max_aug_level: float = Field(default=0.0, ge=0, le=1)
    sample_aug_level: float = Field(default=0.0, ge=0, le=1)

    @property
    def has_weights(self) -> bool:
        return self.mode == "learned"

    @property
    def residual_on_condition(self) -> bool:
        """Residual mode: add the network's output to the degraded, upsampled input it is conditioned on (so it
        learns to undo the degradation) instead of the training-free estimate from the clean input. Subclasses
        say when."""
        return False

    def input_video_spec(self) -> VideoSpec:
        return VideoSpec(frames=self.frames, height=self.height, width=self.width, channels=self.channels,
                         fps=self.fps, space=self.space)

    def input_specs(self):
        specs = {"video": self.input_video_spec()}
        if self.mode == "learned" and self.text is not None:
            specs["text"] = self.text
        return specs


class DiffusionStage(BaseStage):
    """A stage whose output is sampled by a Denoiser-wrapped SpaceTimeUNet.

    Subclasses say how their network is conditioned, once from ground truth (training) and once from
    the upstream payload (sampling); training, sampling, guidance and saving are shared here.
    """

    cond_channels: int = 0  # extra input channels concatenated to the noisy video
    uses_aug_level: bool = False

    def __init__(self, config: DiffusionStageConfig):
        super().__init__(config)
        from cascade.diffusion import Denoiser, NoiseSchedule, make_scheduler_config
        from cascade.nn import SpaceTimeUNet

        out = config.output_spec()
        net = config.network.model_dump()
        net["channel_mults"] = tuple(net["channel_mults"])
        net["attention_levels"] = tuple(net["attention_levels"])
        try:  # the network checks how its fields fit together (mixer name, heads per width, levels)
            self.network = SpaceTimeUNet(in_channels=out.channels, cond_channels=self.cond_channels,
                                         out_channels=out.channels, text_dim=config.text.dim if config.text else 384,
                                         use_text=config.text is not None, use_aug_level=self.uses_aug_level, **net)
        except ValueError as e:
            raise CascadeError(f"{config.type} network settings do not fit together: {e}") from None
        self.schedule_config = make_scheduler_config(config.schedule, config.num_train_timesteps, config.prediction)
        self.denoiser = Denoiser(self.network, NoiseSchedule(self.schedule_config), prediction=config.prediction)

    # -- per-stage hooks ----------------------------------------------------------------------
    def condition_from_truth(self, video: torch.Tensor, generator: torch.Generator) -> dict:
        """Training: network kwargs (cond, aug_level, ...) built from a ground-truth output clip."""
        return {}

    def condition_from_inputs(self, inputs: Mapping[str, Any], generator=None) -> tuple[dict, dict]:
        """Sampling: (network kwargs, sampler kwargs such as known frames) from the upstream payloads."""
        return {}, {}

    def input_from_truth(self, video: torch.Tensor) -> torch.Tensor:
        """SR stages: the input video this stage would receive for the real output clip `video` (frames dropped,
        or downsampled); shared by training, residual estimates, previews and evaluation."""
        raise NotImplementedError(f"{type(self).__name__} takes no video input")

    def estimate_from_truth(self, video: torch.Tensor) -> torch.Tensor:
        """Residual mode, training: the training-free estimate of `video` from its own degraded version."""
        raise NotImplementedError(f"{type(self).__name__} has no training-free estimate; set residual: false")

    def estimate_from_inputs(self, inputs: Mapping[str, Any]) -> torch.Tensor:
        """Residual mode, sampling: the training-free estimate of the output from the upstream payloads."""
        raise NotImplementedError(f"{type(self).__name__} has no training-free estimate; set residual: false")

    def residual_base_from_truth(self, video: torch.Tensor, cond: dict) -> torch.Tensor:
        """Residual mode, training: what the network's output is added to (default: the training-free estimate)."""
        return self.estimate_from_truth(video)

    def residual_base_from_inputs(self, inputs: Mapping[str, Any], cond: dict) -> torch.Tensor:
        """Residual mode, sampling: the counterpart of residual_base_from_truth for the upstream payloads."""
        return self.estimate_from_inputs(inputs)

    # -- shared -------------------------------------------------------------------------------
    def text_kwargs(self, text: TextEmbedding | None) -> dict:
        if self.config.text is None or text is None:
            return {}
        return {"encoder_hidden_states": text.tokens.to(self.device, self.dtype),
                "encoder_attention_mask": text.mask.to(self.device),
                "pooled": text.pooled.to(self.device, self.dtype)}

    def training_loss(self, model, video: torch.Tensor, text: TextEmbedding | None, generator: torch.Generator,
                      *, text_drop_prob: float = 0.1, image_mask: torch.Tensor | None = None,
                      min_snr_gamma: float | None = 5.0) -> torch.Tensor:
        """Per-sample diffusion loss on a ground-truth batch (B, C, F, H, W) in [-1, 1]."""
        from cascade.diffusion import diffusion_loss

        cond = self.condition_from_truth(video, generator)
        cond.update(self.text_kwargs(text))
        if self.config.text is not None and text is not None and text_drop_prob > 0:
            # Imagen / CFG: drop the text for a fraction of samples so the null embedding is learned
            drop = torch.rand(video.shape[0], generator=generator, device=generator.device) < text_drop_prob
            cond["text_drop"] = drop.to(video.device)
        if image_mask is not None:
            cond["image_mask"] = image_mask
        denoiser = self.denoiser if model is None else _rewrap(self.denoiser, model)
        target = video - self.residual_base_from_truth(video, cond) if self.config.residual else video
        return diffusion_loss(denoiser, target, cond, generator=generator, min_snr_gamma=min_snr_gamma)

    def sample_output(self, inputs: Mapping[str, Any], batch: int, *, generator=None, steps=None, guidance=None,
                      progress=True) -> torch.Tensor:
        from cascade.diffusion import sample

        cfg: DiffusionStageConfig = self.config
        s = cfg.sampling
        cond, extra = self.condition_from_inputs(inputs, generator)
        text = inputs.get("text")
        cond.update(self.text_kwargs(text))
        if s.plain_weight > 0 and cfg.text is not None and text is not None and text.plain is not None:
            extra = dict(extra, alt=dict(cond, **self.text_kwargs(text.plain)), alt_weight=s.plain_weight)
        scale = s.guidance if guidance is None else guidance
        uncond = None
        if cfg.text is not None and scale != 1.0:
            uncond = dict(cond, text_drop=torch.ones(batch, dtype=torch.bool, device=self.device))
        else:
            scale = 1.0
        out = self.output_spec
        shape = (batch, out.channels, out.frames, out.height, out.width)
        estimate = None
        if cfg.residual:
            estimate = self.residual_base_from_inputs(inputs, cond).to(self.device, torch.float32)
            if "known" in extra:  # known frames are known residuals
                extra = dict(extra, known=extra["known"].to(self.device, torch.float32) - estimate)
        x = sample(self.denoiser, shape, cond, uncond=uncond, sampler=s.sampler, steps=steps or s.steps,
                   guidance=scale, oscillating=s.oscillating,
                   dynamic_thresholding=s.dynamic_thresholding and out.space == "pixel" and not cfg.residual,
                   generator=generator, progress=progress, **extra)
        return x if estimate is None else x + estimate

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> Video:
        batch = _batch_size(inputs)
        x = self.sample_output(inputs, batch, generator=generator, steps=steps, guidance=guidance, progress=progress)
        return Video(tensor=x.clamp(-1, 1), spec=self.output_spec)


class SuperResolutionStage(DiffusionStage):
    """What the temporal and spatial SR stages share: a training-free baseline mode that builds no network
    (`estimate_from_inputs` is its output), and noise conditioning augmentation levels (Imagen Video §2.5-2.6):
    the network gets a level embedding exactly when the config trains with augmentation."""

    def __init__(self, config: SuperResolutionConfig):
        if not config.has_weights:
            BaseStage.__init__(self, config)
            return
        self.uses_aug_level = config.max_aug_level > 0
        super().__init__(config)

    def training_aug_level(self, video: torch.Tensor, generator: torch.Generator) -> torch.Tensor | None:
        """(B,) levels uniform in [0, max_aug_level] for a training batch; None without augmentation."""
        from cascade.diffusion import sample_aug_level

        if not self.uses_aug_level:
            return None
        return sample_aug_level(video.shape[0], self.config.max_aug_level, generator).to(video.device, video.dtype)

    def sampling_aug_level(self, batch: int) -> torch.Tensor | None:
        """(B,) copies of the fixed sample_aug_level; None without augmentation."""
        if not self.uses_aug_level:
            return None
        return torch.full((batch,), self.config.sample_aug_level, device=self.device, dtype=self.dtype)

    def residual_base_from_truth(self, video, cond):
        if self.config.residual_on_condition:
            return self._conditioning_video(cond)
        return self.estimate_from_truth(video)

    def residual_base_from_inputs(self, inputs, cond):
        if self.config.residual_on_condition:
            return self._conditioning_video(cond)
        return self.estimate_from_inputs(inputs)

    def _conditioning_video(self, cond: dict) -> torch.Tensor:
        """The upsampled (degraded) input video: the first channels of the network's conditioning."""
        return cond["cond"][:, :self.output_spec.channels]

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> Video:
        if not self.config.has_weights:
            return Video(tensor=self.estimate_from_inputs(inputs).clamp(-1, 1), spec=self.output_spec)
        return super().__call__(inputs, generator=generator, steps=steps, guidance=guidance, progress=progress)


def _batch_size(inputs: Mapping[str, Any]) -> int:
    for v in inputs.values():
        if isinstance(v, (Video, TextEmbedding)):
            return v.batch_size
        if isinstance(v, list):
            return len(v)
    raise ValueError("a diffusion stage needs at least one input payload")


def _rewrap(denoiser, model):
    """The same Denoiser math around another module (a DDP-wrapped or EMA copy of the network)."""
    from cascade.diffusion import Denoiser

    return Denoiser(model, denoiser.schedule, prediction=denoiser.prediction)

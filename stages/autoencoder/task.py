"""AutoencoderTrainTask: an AutoencoderKL trained per frame on video data (reconstruction + a small KL term), or its
temporal decoder trained on clips with the encoder frozen (Video LDM §3.1.1); the latent scaling factor is measured
on the training data at export (LDM §4.3.2)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Literal, Mapping

import torch
from pydantic import Field

from cascade.errors import CascadeError
from cascade.stage import parse_config
from cascade.training.data import DataConfig, build_dataset
from cascade.types import Video, VideoSpec
from cascade.video_ops import psnr


class AutoencoderDataConfig(DataConfig):
    """The data section of an autoencoder run: training clips (a registered kind at the stage's frame size) and
    the loss."""

    frames: int | None = Field(default=None, gt=0)  # frames per training clip (None: the stage's)
    fps: float | None = Field(default=None, gt=0)
    crop: int | None = Field(default=None, gt=0)  # square random crop of every training clip (None: whole frames)
    loss: Literal["l1", "mse"] = "l1"
    kl_weight: float = Field(default=1e-5, ge=0)  # times the KL per latent element (LDM's KL-reg: "slight")
    scale_clips: int = Field(default=32, gt=0)  # training clips whose latents set the scaling factor


def measure_scaling_factor(stage, clips: torch.Tensor) -> float:
    """1 / std of the latents of `clips` (B, C, F, H, W) before scaling (LDM §4.3.2: unit-variance latents)."""
    z = stage.encode(clips) / stage.config.scaling_factor  # (mode - shift_factor)
    return float(1.0 / z.float().std().clamp(min=1e-8))


class AutoencoderTrainTask:
    """Per-frame mode: frames of each clip folded into the batch, encoder and decoder trained. Temporal mode
    (`temporal_decoder`): whole clips through the decoder's temporal layers, encoder and quant_conv frozen."""

    def __init__(self, stage, data: AutoencoderDataConfig | Mapping[str, Any], *, source: str = "data", **_):
        self.stage = stage
        self.data = data if isinstance(data, AutoencoderDataConfig) else \
            parse_config(AutoencoderDataConfig, dict(data), source=source)
        self.model = stage.network
        self.temporal = stage.config.temporal_decoder
        f = stage.config.downsampling
        if self.data.crop is not None and self.data.crop % f:
            raise CascadeError(f"{source}: crop {self.data.crop} does not divide by the VAE's downsampling factor {f}")
        if self.temporal:
            vae = self.model.vae
            for module in (vae.encoder, vae.quant_conv):
                if module is not None:
                    module.requires_grad_(False)
        self._dataset = None

    # -- TrainTask ----------------------------------------------------------------------------
    def clip_spec(self) -> VideoSpec:
        cfg = self.stage.config
        return VideoSpec(frames=self.data.frames or cfg.frames, fps=self.data.fps or cfg.fps, height=cfg.height,
                         width=cfg.width, channels=int(cfg.vae_setting("in_channels")))

    def dataset(self):
        if self._dataset is None:
            self._dataset = build_dataset(self.data, self.clip_spec(), needs_text=False)
        return self._dataset

    def collate(self, items: list[dict]) -> dict:
        return {"video": torch.stack([it["video"] for it in items])}  # (B, C, F, H, W)

    def loss(self, model, batch, generator: torch.Generator) -> torch.Tensor:
        x = self._crop(batch["video"], generator)
        b, c, f, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * f, c, h, w)  # (B*F, C, H, W), each clip's frames adjacent
        recon, kl = model(frames, f if self.temporal else 1, generator)
        err = (recon - frames).abs() if self.data.loss == "l1" else (recon - frames) ** 2
        return err.mean() + self.data.kl_weight * kl.mean()

    def _crop(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        side = self.data.crop
        if side is None or side >= min(x.shape[-2:]):
            return x
        top, left = (int(torch.randint(0, n - side + 1, (), generator=generator, device=generator.device))
                     for n in x.shape[-2:])
        return x[..., top:top + side, left:left + side]

    @contextlib.contextmanager
    def _using(self, model):
        """The stage with `model` (e.g. the EMA copy) as its network, on that model's device."""
        stage, old = self.stage, (self.stage.network, self.stage.device, self.stage.dtype)
        model = getattr(model, "module", model)
        stage.network, stage.device, stage.dtype = model, next(model.parameters()).device, torch.float32
        was_training = model.training
        model.eval()
        try:
            yield stage
        finally:
            model.train(was_training)
            stage.network, stage.device, stage.dtype = old

    def _clips(self, indices) -> torch.Tensor:
        ds = self.dataset()
        return torch.stack([ds.videos[i]["video"] for i in indices])

    @torch.no_grad()
    def preview(self, model, step: int, out_dir: Path) -> dict[str, float]:
        """The last clips of the data set through the VAE, beside bicubic at the same compression and the truth."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        n = len(self.dataset())
        truth = self._clips(range(n - 1, n - 1 - min(self.data.num_preview_clips, n), -1))
        with self._using(model) as stage:
            recon = stage.decode(stage.encode(truth.to(stage.device))).float().cpu().clamp(-1, 1)
        base = self.stage.bicubic_roundtrip(truth).clamp(-1, 1)
        spec = self.clip_spec()
        if spec.channels == 3:
            for i in range(truth.shape[0]):
                row = torch.cat([base[i], recon[i], truth[i]], dim=-1)  # bicubic | autoencoder | truth
                Video(tensor=row[None], spec=spec.model_copy(update={"width": row.shape[-1]})).save(out_dir / f"{i:02d}.mp4")
        return {"preview_psnr": psnr(recon, truth), "preview_psnr_bicubic": psnr(base, truth)}

    @torch.no_grad()
    def export(self, model, out_dir: Path) -> None:
        """A stage folder with `model`'s weights and the scaling factor measured on the first training clips (a temporal
        decoder's encoder is frozen: its latents keep the scaling they started with)."""
        n = min(self.data.scale_clips, len(self.dataset()))
        with self._using(model) as stage:
            if not self.temporal:  # a temporal decoder keeps its frozen encoder's latent map (init_config_from)
                clips = self._clips(range(n)).to(stage.device)
                scale = measure_scaling_factor(stage, clips)
                stage.config = stage.config.model_copy(update={"scaling_factor": scale})
            stage.save_pretrained(out_dir)

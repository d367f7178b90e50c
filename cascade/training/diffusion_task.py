"""DiffusionTrainTask: the TrainTask of any diffusion stage, trained from ground-truth clips alone.

A conditional stage is trained on `condition(degrade(truth))`, so stages train independently, in any order, on any
machine. Frozen upstream stages (a text encoder) come in built; preview metrics come in as a callback.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from cascade.stage import parse_config
from cascade.training.data import DataConfig, build_dataset
from cascade.types import Video, VideoSpec
from cascade.video_ops import psnr

log = logging.getLogger(__name__)

PREVIEW_SEED = 0
# (prompts, rendered Video) -> metrics to log; the eval layer's suites provide one (cascade.eval.suites)
PreviewMetrics = Callable[[list[str], Video], dict[str, float]]


class DiffusionTrainTask:
    """Loss on ground truth, previews (prompts for text stages, reconstructions for conditional ones), export."""

    def __init__(self, stage, data: DataConfig | Mapping[str, Any], upstream: Mapping[str, Any] | None = None, *,
                 preview_prompts: list[str] | None = None, preview_metrics: PreviewMetrics | None = None,
                 source: str = "data", latent_cache: str | Path | None = None):
        self.stage = stage
        self.data = data if isinstance(data, DataConfig) else parse_config(DataConfig, dict(data), source=source)
        self.model = stage.network
        self.text_encoder = (upstream or {}).get("text")
        # a latent stage: ground truth is encoded by its frozen autoencoder (cached on disk), previews decoded by it
        self.encoder = (upstream or {}).get("latent")
        self.decoder = self.encoder.placed(role="decode") if self.encoder is not None else None
        self.latent_cache = latent_cache
        self.preview_prompts = list(preview_prompts or [])
        self.preview_metrics = preview_metrics
        self._dataset = None

    @property
    def conditional(self) -> bool:
        return hasattr(self.stage, "degrade")

    # -- TrainTask ----------------------------------------------------------------------------
    def dataset(self):
        if self._dataset is None:
            cfg = self.stage.config
            spec = cfg.truth_spec() if self.encoder is not None else self.stage.output_spec
            self._dataset = build_dataset(self.data, spec, needs_text=cfg.text is not None)
            if self.encoder is not None:
                self._dataset = self._encoded(self._dataset, spec)
        return self._dataset

    def _encoded(self, ds, spec: VideoSpec):
        """The pixel data set with its clips replaced by their latents, cached (cascade.training.latent_cache)."""
        import tempfile

        from cascade.training.latent_cache import EncodedItems, LatentClips, cache_key

        root = self.latent_cache or Path(tempfile.mkdtemp(prefix="latent_cache."))
        ds.videos = LatentClips(ds.videos, self.encoder, root, key=cache_key(self.data, spec),
                                autoencoder_sha256=self.stage.config.latent.sha256)
        if ds.images is not None:
            ds.images = EncodedItems(ds.images, self.encoder)
        return ds

    def pixels(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, F, H, W) in the stage's space -> pixels in [-1, 1] (a latent stage's decoded by its autoencoder)."""
        if self.decoder is None:
            return x
        return self.decoder.decode(x.cpu()).float().clamp(-1, 1).to(x.device)  # the frozen autoencoder stays on the CPU

    def collate(self, items: list[dict]) -> dict:
        return {"video": torch.stack([it["video"] for it in items]),  # (B, C, F, H, W)
                "caption": [it.get("caption", "") for it in items],
                "is_image": torch.tensor([bool(it.get("is_image", False)) for it in items])}

    def encode(self, captions: list[str]):
        """Text embeddings of captions, each encoded alone the first time it is seen, then cached: a batched
        encoder's output moves in the last bits with its batch-mates, so a resumed run, whose cache fills in
        another order, would drift from an uninterrupted one. The price: one encoder pass per new caption, which
        is nothing on a generated world (a few thousand captions) but adds up on a large captioned set."""
        if self.text_encoder is None:
            return None
        for c in dict.fromkeys(captions):
            self.text_encoder.encode([c])  # cached by the encoder; a no-op once seen
        return self.text_encoder.encode(captions)

    def loss(self, model, batch, generator: torch.Generator) -> torch.Tensor:
        device = next(model.parameters()).device
        video = batch["video"].to(device)
        text = self.encode(batch["caption"])
        text = text.to(device) if text is not None else None
        image_mask = batch["is_image"].to(device) if batch["is_image"].any() else None
        self.stage.device = device
        per_sample = self.stage.training_loss(model, video, text, generator, text_drop_prob=self.data.text_drop_prob,
                                              image_mask=image_mask, min_snr_gamma=self.data.min_snr_gamma)
        return per_sample.mean()

    @contextlib.contextmanager
    def _using(self, model):
        """Run the stage with `model` (e.g. the EMA copy) as its network, on that model's device."""
        from cascade.diffusion_stage import rewrap

        stage, old = self.stage, (self.stage.network, self.stage.denoiser, self.stage.device)
        model = getattr(model, "module", model)
        stage.network, stage.denoiser = model, rewrap(stage.denoiser, model)
        stage.device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            yield stage
        finally:
            model.train(was_training)
            stage.network, stage.denoiser, stage.device = old

    @torch.no_grad()
    def preview(self, model, step: int, out_dir: Path) -> dict[str, float]:
        """Render fixed real clips' reconstructions (conditional stages) or fixed prompts into out_dir; metrics."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with self._using(model) as stage:
            if self.conditional:
                return self._preview_reconstruction(stage, out_dir)
            return self._preview_prompts(stage, out_dir, self.preview_prompts or self._preview_captions())

    def _preview_items(self) -> list[dict]:
        """The data set's last num_preview_clips clips (each loaded once: a generated clip is rendered, a file decoded)."""
        ds = self.dataset()
        return [ds.videos[len(ds) - 1 - i] for i in range(min(self.data.num_preview_clips, len(ds)))]

    def _preview_captions(self) -> list[str]:
        return [it.get("caption", "") for it in self._preview_items()]

    def _preview_prompts(self, stage, out_dir: Path, prompts: list[str]) -> dict[str, float]:
        inputs = {"text": self.encode(prompts).to(stage.device)} if self.text_encoder is not None else {}
        if not inputs:
            return {}
        gen = torch.Generator(stage.device).manual_seed(PREVIEW_SEED)
        video = stage(inputs, generator=gen, progress=False)
        if self.decoder is not None:
            video = Video(tensor=self.pixels(video.tensor.float()), spec=self.stage.config.truth_spec())
        video = Video(tensor=video.tensor.float().cpu(), spec=video.spec)
        if video.spec.space == "pixel":
            for i in range(len(prompts)):
                video.save(out_dir / f"{i:02d}.mp4", index=i)
        (out_dir / "prompts.json").write_text(json.dumps(prompts, indent=1))
        return self.preview_metrics(prompts, video) if self.preview_metrics else {}

    def _preview_reconstruction(self, stage, out_dir: Path) -> dict[str, float]:
        """Conditional stages: condition on degraded real clips, compare with the training-free baseline by PSNR."""
        items = self._preview_items()
        truth = torch.stack([it["video"] for it in items]).to(stage.device)
        low = stage.degrade(truth)
        baseline = stage.baseline(low)
        gen = torch.Generator(stage.device).manual_seed(PREVIEW_SEED)
        inputs = {"video": Video(tensor=low, spec=stage.input_spec["video"])}
        if "text" in stage.input_spec:
            inputs["text"] = self.encode([it.get("caption", "") for it in items]).to(stage.device)
        out = stage(inputs, generator=gen, progress=False).tensor.float()
        if self.decoder is not None:  # compared as pixels
            truth, baseline, out = (self.pixels(x.float()) for x in (truth, baseline, out))
        if stage.output_spec.space == "pixel" or self.decoder is not None:
            for i in range(len(items)):
                row = torch.cat([baseline[i], out[i], truth[i]], dim=-1)  # baseline | learned | truth, side by side
                spec = VideoSpec(frames=row.shape[1], height=row.shape[2], width=row.shape[3],
                                 fps=stage.output_spec.fps)
                Video(tensor=row[None].clamp(-1, 1).cpu(), spec=spec).save(out_dir / f"{i:02d}.mp4")
        return {"preview_psnr": psnr(out, truth), "preview_psnr_baseline": psnr(baseline, truth)}

    def export(self, model, out_dir: Path) -> None:
        with self._using(model) as stage:
            stage.save_pretrained(out_dir)

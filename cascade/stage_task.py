"""Training any diffusion stage from ground-truth clips: the TrainTask the generic trainer runs.

Each stage builds its own conditioning from the ground truth (drop frames, downsample), so stages
train independently, in any order, on any machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from cascade.diffusion_stage import DiffusionStage
from cascade.errors import CascadeError
from cascade.stage import parse_config
from cascade.types import VideoSpec

log = logging.getLogger(__name__)


class DataConfig(BaseModel):
    """Where training clips come from; they are resampled to the stage's output spec."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["shapes", "folder"] = "shapes"
    num_clips: int = Field(default=20000, gt=0)  # shapes: procedural clips (a pure function of seed, index)
    shape_words: Literal["varied", "canonical"] = "varied"  # shapes: names from SHAPE_WORDS, or the canonical one only
    seed: int = 0
    path: str | None = None  # folder: video files + captions.jsonl / CSV
    captions: str | None = None
    images: str | None = None  # optional image-text folder for joint image-video training
    image_fraction: float = Field(default=0.0, ge=0, lt=1)
    text_drop_prob: float = Field(default=0.1, ge=0, le=1)  # classifier-free guidance dropout
    # fraction of training captions (fixed per caption) whose lexicon names are replaced by made-up words, their
    # glosses kept: the stage learns to draw what a gloss describes when the name before it is new (needs a lexicon).
    # 0.3 on the shapes data lowered the held-out names from 90.3% to 79.2% (weights/README.md, session 9)
    unknown_names: float = Field(default=0.0, ge=0, le=1)
    min_snr_gamma: float | None = 5.0
    num_preview_clips: int = 4


class JointDataset(torch.utils.data.Dataset):
    """Videos, plus (with probability image_fraction, fixed per index) images held still for F frames
    whose temporal mixers the network bypasses (VDM / Imagen Video joint image-video training)."""

    def __init__(self, videos, images, image_fraction: float, frames: int, seed: int):
        self.videos, self.images, self.fraction, self.frames, self.seed = videos, images, image_fraction, frames, seed

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(self.seed * 7919 + i)
        if self.images is not None and torch.rand((), generator=g).item() < self.fraction:
            item = dict(self.images[int(torch.randint(len(self.images), (), generator=g))])
            item["video"] = item["video"].expand(-1, self.frames, -1, -1).contiguous()  # (C, F, H, W)
            item["is_image"] = True
            return item
        item = dict(self.videos[i])
        item["is_image"] = False
        return item


def build_dataset(data: DataConfig, spec: VideoSpec, *, needs_text: bool):
    from cascade.data import ImageTextDataset, ShapesDataset, VideoTextDataset

    if spec.height != spec.width:
        raise CascadeError(f"training data is square; the stage outputs {spec.height}x{spec.width}")
    if data.kind == "shapes":
        videos = ShapesDataset(data.num_clips, frames=spec.frames, size=spec.height, fps=spec.fps, seed=data.seed,
                               varied_words=data.shape_words == "varied")
    else:
        if data.path is None:
            raise CascadeError("data.path is required when data.kind is 'folder'")
        videos = VideoTextDataset(data.path, frames=spec.frames, size=spec.height, fps=spec.fps,
                                  captions=data.captions, require_captions=needs_text)
    images = ImageTextDataset(data.images, size=spec.height) if data.images else None
    if images is None and data.image_fraction > 0:
        raise CascadeError("data.image_fraction > 0 needs data.images (a folder of captioned images)")
    return JointDataset(videos, images, data.image_fraction, spec.frames, data.seed)


class StageTrainTask:
    """TrainTask for a DiffusionStage: loss on ground truth, previews, export of a stage folder."""

    def __init__(self, stage: DiffusionStage, data: DataConfig | dict, *, preview_prompts: list[str] | None = None,
                 text_encoder=None):
        self.stage = stage
        self.data = data if isinstance(data, DataConfig) else parse_config(DataConfig, data, source="data")
        self.model = stage.network
        self.preview_prompts = list(preview_prompts or [])
        self.text_encoder = text_encoder
        if stage.config.text is not None and text_encoder is None:
            from stages.text_encoder.config import TextEncoderConfig
            from stages.text_encoder.stage import TextEncoderStage

            self.text_encoder = TextEncoderStage(TextEncoderConfig.from_spec(stage.config.text))
        if self.data.unknown_names and getattr(self.text_encoder, "lexicon", None) is None:
            raise CascadeError(f"data.unknown_names {self.data.unknown_names} needs a text encoder with a lexicon (it "
                               f"keeps the glosses of the names it replaces); the stage's text spec names none")
        self._dataset = None

    # -- TrainTask ----------------------------------------------------------------------------
    def dataset(self):
        if self._dataset is None:
            self._dataset = build_dataset(self.data, self.stage.output_spec, needs_text=self.stage.config.text is not None)
        return self._dataset

    def collate(self, items: list[dict]) -> dict:
        return {"video": torch.stack([it["video"] for it in items]),  # (B, C, F, H, W)
                "caption": [it.get("caption", "") for it in items],
                "is_image": torch.tensor([bool(it.get("is_image", False)) for it in items])}

    def encode(self, captions: list[str]):
        """Text embeddings of captions, each encoded alone the first time it is seen, then cached: a batched
        encoder's output moves in the last bits with its batch-mates, so a resumed run, whose cache fills in
        another order, would drift from an uninterrupted one. The price: one encoder pass per new caption, which
        is nothing on the shapes data (a few thousand captions) but adds up on a large captioned set."""
        if self.text_encoder is None:
            return None
        for c in dict.fromkeys(captions):
            self.text_encoder.encode([c])  # cached by the encoder; a no-op once seen
        return self.text_encoder.encode(captions)

    def reads(self, caption: str) -> str | None:
        """A training caption as the encoder reads it when data.unknown_names picks it (None otherwise): expanded by
        the lexicon, then each glossed name, in the prompt and before its gloss, replaced by a made-up word.
        "a red cube moving left" -> "a red vokami moving left (vokami: a hexahedron with six equal squares as faces)".
        The choice and the word are a hash of (data.seed, caption): the same every step, process and resume."""
        fraction = self.data.unknown_names
        if not fraction or not caption:
            return None
        digest = hashlib.sha256(f"{self.data.seed}\0{caption}".encode()).digest()
        if int.from_bytes(digest[:8], "big") >= fraction * 2 ** 64:
            return None
        lexicon = self.text_encoder.lexicon
        names = lexicon.names_in(caption)
        if not names:
            return None
        text = lexicon.expand(caption)
        for i, name in enumerate(names):
            word = made_up_word(digest[8 + 3 * i:], avoid=lexicon.entries)
            text = re.sub(rf"\b{re.escape(name)}\b", word, text, flags=re.IGNORECASE)
        return text

    def encode_captions(self, captions: list[str]):
        """Training captions' embeddings: `encode`, except that the captions data.unknown_names picks are read with
        made-up names (`reads`). Each caption is encoded alone (cached), as `encode` explains, then stacked."""
        if self.text_encoder is None or not self.data.unknown_names:
            return self.encode(captions)
        from cascade.types import TextEmbedding

        read = [self.reads(c) for c in captions]
        rows = [self.text_encoder.encode([r] if r else [c], expanded=bool(r)) for c, r in zip(captions, read)]
        return TextEmbedding(tokens=torch.cat([e.tokens for e in rows]), mask=torch.cat([e.mask for e in rows]),
                             pooled=torch.cat([e.pooled for e in rows]), spec=rows[0].spec)

    def loss(self, model, batch, generator: torch.Generator) -> torch.Tensor:
        device = next(model.parameters()).device
        video = batch["video"].to(device)
        text = self.encode_captions(batch["caption"])
        text = text.to(device) if text is not None else None
        image_mask = batch["is_image"].to(device) if batch["is_image"].any() else None
        self.stage.device = device
        per_sample = self.stage.training_loss(model, video, text, generator, text_drop_prob=self.data.text_drop_prob,
                                              image_mask=image_mask, min_snr_gamma=self.data.min_snr_gamma)
        return per_sample.mean()

    @contextlib.contextmanager
    def _using(self, model):
        """Run the stage with `model` (e.g. the EMA copy) as its network, on that model's device."""
        stage, old = self.stage, (self.stage.network, self.stage.denoiser, self.stage.device)
        from cascade.diffusion_stage import _rewrap

        model = getattr(model, "module", model)
        stage.network, stage.denoiser = model, _rewrap(stage.denoiser, model)
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
        """Render fixed prompts (text stages) or fixed real clips (SR stages) into out_dir; return metrics."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with self._using(model) as stage:
            if stage.config.text is not None:  # without preview_prompts: the captions of the preview clips
                return self._preview_prompts(stage, out_dir, self.preview_prompts or self._preview_captions())
            return self._preview_reconstruction(stage, out_dir)

    def _preview_items(self) -> list[dict]:
        """The data set's last num_preview_clips clips (each loaded once: a shapes clip is rendered, a file decoded)."""
        ds = self.dataset()
        return [ds.videos[len(ds) - 1 - i] for i in range(min(self.data.num_preview_clips, len(ds)))]

    def _preview_captions(self) -> list[str]:
        return [it.get("caption", "") for it in self._preview_items()]

    def _preview_prompts(self, stage, out_dir: Path, prompts: list[str]) -> dict[str, float]:
        from cascade.types import Video

        text = self.encode(prompts).to(stage.device)
        gen = torch.Generator(stage.device).manual_seed(0)
        video = stage({"text": text}, generator=gen, progress=False)
        metrics = {}
        for i in range(len(prompts)):
            Video(tensor=video.tensor.float(), spec=video.spec).save(out_dir / f"{i:02d}.mp4", index=i)
        (out_dir / "prompts.json").write_text(json.dumps(prompts, indent=1))
        try:
            from cascade.eval.probe import analyze_clip
            from cascade.eval.prompts import parse_prompt
        except ImportError:
            return metrics
        hits = {"colour": 0, "shape": 0, "motion": 0}
        n = 0
        for i, p in enumerate(prompts):
            target = parse_prompt(p)
            if target is None:
                continue
            n += 1
            got = analyze_clip(video.frames[i].numpy())
            for k in hits:
                hits[k] += int(got.get(k) == target.get(k))
        return {f"preview_{k}_acc": v / n for k, v in hits.items()} if n else metrics

    def _preview_reconstruction(self, stage, out_dir: Path) -> dict[str, float]:
        """SR stages: condition on real clips, compare with the training-free baseline by PSNR."""
        from cascade.eval.metrics import psnr
        from cascade.types import Video
        items = self._preview_items()
        n = len(items)
        truth = torch.stack([it["video"] for it in items]).to(stage.device)
        spec = stage.input_spec["video"]
        low = stage.input_from_truth(truth)
        baseline = stage.estimate_from_truth(truth)  # blend / bicubic: the stage's own training-free estimate
        gen = torch.Generator(stage.device).manual_seed(0)
        inputs = {"video": Video(tensor=low, spec=spec)}
        if "text" in stage.input_spec:
            inputs["text"] = self.encode([it.get("caption", "") for it in items]).to(stage.device)
        out = stage(inputs, generator=gen, progress=False).tensor.float()
        for i in range(n):
            row = torch.cat([baseline[i], out[i], truth[i]], dim=-1)  # baseline | learned | truth, side by side
            Video(tensor=row[None].clamp(-1, 1), spec=VideoSpec(frames=row.shape[1], height=row.shape[2],
                                                                width=row.shape[3], fps=truth_fps(stage))
                  ).save(out_dir / f"{i:02d}.mp4")
        return {"preview_psnr": psnr(out, truth), "preview_psnr_baseline": psnr(baseline, truth)}

    def export(self, model, out_dir: Path) -> None:
        with self._using(model) as stage:
            stage.save_pretrained(out_dir)


_CONSONANTS, _VOWELS = "bdfgklmnprstvz", "aeiou"


def made_up_word(seed: bytes, *, avoid=()) -> str:
    """A pronounceable non-word of 2 or 3 consonant-vowel syllables drawn from `seed`'s bytes ("vokami"); a draw that
    is a word in `avoid` (e.g. the lexicon: "tube" is a shape) is redrawn from the seed's hash."""
    while True:
        seed = seed if len(seed) >= 7 else hashlib.sha256(seed).digest()
        n = 2 + seed[0] % 2
        word = "".join(_CONSONANTS[seed[1 + 2 * i] % len(_CONSONANTS)] + _VOWELS[seed[2 + 2 * i] % len(_VOWELS)]
                       for i in range(n))
        if word not in avoid:
            return word
        seed = hashlib.sha256(seed).digest()


def truth_fps(stage) -> float:
    return stage.output_spec.fps


def init_weights(stage: DiffusionStage, folder: Path) -> None:
    """Load a saved stage folder's weights into `stage` (fine-tuning); it must be the same stage type and network."""
    from cascade.stage import CONFIG_NAME, WEIGHTS_NAME, stage_type_of

    if not (folder / CONFIG_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
        raise CascadeError(f"init_from: {folder} is not a stage folder (it needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    saved = stage_type_of(folder)
    if saved != stage.config.type:
        raise CascadeError(f"init_from: {folder} holds a {saved} stage, not {stage.config.type}")
    stage.load_weights(folder / WEIGHTS_NAME)
    log.info("initialised %s from %s", stage.config.type, folder)


def build_task(train_config, *, preset: str | None = None, source: str | None = None) -> tuple[Any, StageTrainTask]:
    """Stage + task from a TrainConfig (stage type, preset, model overrides, data); errors name `source` (the
    config file) and the section."""
    from cascade.registry import get_stage_class
    from cascade.stage import make_stage_config

    where = f"{source}: " if source else ""
    cls = get_stage_class(train_config.stage)
    stage_cfg = make_stage_config(cls, preset or train_config.preset, train_config.model, source=f"{where}model")
    data = parse_config(DataConfig, train_config.data, source=f"{where}data")
    if getattr(stage_cfg, "mode", "learned") != "learned":
        raise CascadeError(f"{train_config.stage} mode '{stage_cfg.mode}' has nothing to train; use mode: learned")
    torch.manual_seed(train_config.seed)  # the network's initial weights are a function of the config's seed
    stage = cls(stage_cfg)
    if not isinstance(stage, DiffusionStage):
        raise CascadeError(f"stage type {train_config.stage} is not trainable")
    if train_config.init_from:
        init_weights(stage, Path(train_config.init_from))
    return stage, StageTrainTask(stage, data, preview_prompts=train_config.preview_prompts)

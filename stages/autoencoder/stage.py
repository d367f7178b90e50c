"""autoencoder stage: pixels <-> latents through a diffusers AutoencoderKL, per frame; one folder serves as an
encoder node and as a decoder node (the latent path of MagicVideo, LVDM, ModelScope, Video LDM)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch

from cascade.errors import CascadeError
from cascade.graph import spec_mismatch
from cascade.stage import CONFIG_NAME, WEIGHTS_NAME, BaseStage, parse_config, read_config_json, refuse_resized
from cascade.types import Video, VideoSpec
from cascade.video_ops import resize_frames
from stages.autoencoder.config import DIFFUSERS_META, LATENT_MAP_KEYS, AutoencoderConfig, vae_defaults
from stages.autoencoder.network import AutoencoderNetwork

log = logging.getLogger(__name__)

DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"
DIFFUSERS_PICKLE = "diffusion_pytorch_model.bin"
FRAME_CHUNK = 32  # frames encoded or decoded at once (memory stays flat in the clip length)
PLACEMENT = ("role", "frames", "fps", "height", "width")  # what may differ between nodes sharing one VAE
# attention parameter names older diffusers VAE files use (e.g. Stable Diffusion's sd-vae-ft-mse), and today's
_OLD_ATTENTION = re.compile(r"(\.attentions\.\d+\.)(query|key|value|proj_attn)\.")
_NEW_ATTENTION = {"query": "to_q.", "key": "to_k.", "value": "to_v.", "proj_attn": "to_out.0."}


class AutoencoderStage(BaseStage):
    """`role: encode` (pixels -> scaled latents) or `role: decode` (scaled latents -> pixels), frames folded into the
    batch; with `temporal_decoder`, decoding runs whole clips through the decoder's temporal layers."""

    config_class = AutoencoderConfig

    def __init__(self, config: AutoencoderConfig):
        super().__init__(config)
        known = vae_defaults()
        vae = {**config.vae, **{k: getattr(config, k) for k in LATENT_MAP_KEYS if k in known}}
        try:  # diffusers checks how the block lists fit together
            self.network = AutoencoderNetwork(vae, temporal=config.temporal_decoder)
        except (ValueError, TypeError, AssertionError) as e:
            raise CascadeError(f"the autoencoder's vae settings do not fit together: {e}") from None

    # -- placement ----------------------------------------------------------------------------
    def placed(self, **fields) -> "AutoencoderStage":
        """The same VAE (one network, shared) placed with other `role`, `frames`, `fps`, `height` or `width`."""
        other = sorted(set(fields) - set(PLACEMENT))
        if other:
            raise CascadeError(f"an autoencoder node is placed by {', '.join(PLACEMENT)}; '{other[0]}' belongs to "
                               f"its weights' config")
        data = {**self.config.model_dump(mode="json"), **{k: v for k, v in fields.items() if v is not None}}
        stage = object.__new__(type(self))
        stage.__dict__.update(self.__dict__)
        stage.config = parse_config(AutoencoderConfig, data, source="autoencoder placement")
        return stage

    def fit_input(self, spec: VideoSpec) -> "AutoencoderStage":
        """Placed after a stage that makes `spec`: a decoder of latent video, an encoder of pixel video, at its
        frames, rate and size (channels stay the VAE's, so the graph check names a mismatch)."""
        latent = spec.space == "latent"
        f = self.config.downsampling if latent else 1
        return self.placed(role="decode" if latent else "encode", frames=spec.frames, fps=spec.fps,
                           height=spec.height * f, width=spec.width * f)

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load_config(cls, directory: str | Path) -> AutoencoderConfig:
        """A stage folder's config, or one made from a diffusers AutoencoderKL folder's config.json as it is."""
        directory = Path(directory)
        if (directory / "model_index.json").is_file():
            raise CascadeError(f"{directory} is a diffusers pipeline, not a VAE; pass its VAE subfolder "
                               f"({directory / 'vae'})")
        data = read_config_json(directory)
        source = str(directory / CONFIG_NAME)
        if not isinstance(data, dict):
            raise CascadeError(f"{source} is not a JSON object of settings")
        if "type" in data:
            if data["type"] != "autoencoder":
                raise CascadeError(f"{directory} holds a {data['type']} stage, not an autoencoder")
            return parse_config(AutoencoderConfig, data, source=source)
        kind = data.get("_class_name")
        if kind is None:
            raise CascadeError(f"{source} is neither an autoencoder stage config (no 'type') nor a diffusers model "
                               f"config (no '_class_name'); pass a diffusers AutoencoderKL folder")
        if kind != "AutoencoderKL":
            raise CascadeError(f"{directory} holds a diffusers {kind}, not an AutoencoderKL; pass a VAE folder "
                               f"(config.json with _class_name AutoencoderKL and {DIFFUSERS_WEIGHTS})")
        known = vae_defaults()
        dropped = sorted(k for k in data if k not in known and k not in DIFFUSERS_META)
        if dropped:
            log.warning("%s: ignoring settings AutoencoderKL does not take: %s", source, ", ".join(dropped))
        vae = {k: v for k, v in data.items() if k in known and k not in LATENT_MAP_KEYS}
        latent_map = {"scaling_factor": data.get("scaling_factor") or known["scaling_factor"],
                      "shift_factor": data.get("shift_factor") or 0.0}
        return parse_config(AutoencoderConfig, {"vae": vae, **latent_map}, source=source)

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32, **placement) -> "AutoencoderStage":
        """A stage folder or a diffusers AutoencoderKL folder, placed by `role`, `frames`, `fps`, `height`,
        `width` (e.g. `from_pretrained(dir, role="encode")`)."""
        directory = Path(directory)
        stage = cls(cls.load_config(directory))
        stage.load_weights(weights_file(directory))
        if placement:
            stage = stage.placed(**placement)
        return stage.to(device, dtype)

    @classmethod
    def weights_path(cls, directory: Path) -> Path:
        return weights_file(Path(directory))

    def init_config_from(self, directory: Path) -> None:
        """Fine-tuning a temporal decoder (encoder frozen) from `directory`: keep its latent map, so latents a latent
        stage learned from that folder decode with this one."""
        if self.config.temporal_decoder:
            start = self.load_config(directory)
            self.config = self.config.model_copy(update={k: getattr(start, k) for k in LATENT_MAP_KEYS})

    def latent_identity(self) -> str:
        """sha256 of what fixes the latent space: the encoder's weights (through quant_conv) and the latent map.
        Folders sharing it (a per-frame VAE and the temporal decoder fine-tuned from it) decode each other's latents."""
        import hashlib
        import json

        h = hashlib.sha256(json.dumps({k: getattr(self.config, k) for k in LATENT_MAP_KEYS}).encode())
        state = self.network.state_dict()
        for k in sorted(k for k in state if k.startswith(("vae.encoder.", "vae.quant_conv."))):
            t = state[k].detach().to("cpu", torch.float32).contiguous()
            h.update(f"{k}:{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes())
        return h.hexdigest()

    def load_weights(self, path: Path) -> None:
        """model.safetensors of a stage folder (keys `vae.*`, `temporal.*`) or diffusers' own file (AutoencoderKL
        keys, older attention names included). A file without temporal layers leaves them at their identity
        init (fine-tuning a temporal decoder from a per-frame one)."""
        from cascade.io_utils import load_safetensors

        state = load_safetensors(path)
        if not any(k.startswith("vae.") for k in state):
            state = {"vae." + _OLD_ATTENTION.sub(lambda m: m[1] + _NEW_ATTENTION[m[2]], k): v
                     for k, v in state.items()}
        own = self.network.state_dict()
        refuse_resized(path, own, state, "this autoencoder's vae settings")
        fresh_temporal = not any(k.startswith("temporal.") for k in state)
        missing = [k for k in own if k not in state and not (fresh_temporal and k.startswith("temporal."))]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            raise CascadeError(f"{path} does not match this autoencoder's vae settings: {len(missing)} missing and "
                               f"{len(unexpected)} unexpected tensors (first: {(missing or unexpected)[0]})")
        self.network.load_state_dict(state, strict=False)
        if fresh_temporal and self.network.temporal is not None:
            log.info("%s has no temporal layers; they start as the identity", path)

    # -- pixels <-> latents -------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, F, H, W) pixels in [-1, 1] -> (B, latent, F, H/f, W/f) latents, scaled:
        (posterior mode - shift_factor) * scaling_factor."""
        cfg = self.config
        self._check(x, int(cfg.vae_setting("in_channels")), "pixel", cfg.downsampling)
        b, c, f, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * f, c, h, w).to(self.device, self.dtype)  # (B*F, C, H, W)
        z = torch.cat([self.network.encode_frames(chunk).mode() for chunk in frames.split(FRAME_CHUNK)])
        z = (z - cfg.shift_factor) * cfg.scaling_factor
        return z.view(b, f, *z.shape[1:]).transpose(1, 2)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent, F, h, w) scaled latents -> (B, C, F, h*f, w*f) pixels (not clamped)."""
        cfg = self.config
        self._check(z, cfg.latent_channels, "latent", 1)
        b, c, f, h, w = z.shape
        flat = z.transpose(1, 2).reshape(b * f, c, h, w).to(self.device, self.dtype)
        flat = flat / cfg.scaling_factor + cfg.shift_factor
        if self.network.temporal is None:
            x = torch.cat([self.network.decode_frames(chunk) for chunk in flat.split(FRAME_CHUNK)])
        else:  # whole clips: the temporal layers mix a clip's frames
            x = torch.cat([self.network.decode_frames(clip, f) for clip in flat.split(f)])
        return x.view(b, f, *x.shape[1:]).transpose(1, 2)

    def _check(self, x: torch.Tensor, channels: int, space: str, multiple: int) -> None:
        if x.ndim != 5:
            raise CascadeError(f"the autoencoder takes video tensors (B, C, F, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != channels:
            raise CascadeError(f"the autoencoder's VAE takes {channels}-channel {space} frames, but was given "
                               f"{x.shape[1]}-channel ones")
        if x.shape[-2] % multiple or x.shape[-1] % multiple:
            raise CascadeError(f"the autoencoder's VAE takes frames whose sides divide by {multiple}, but was given "
                               f"{x.shape[-2]}x{x.shape[-1]}")

    def __call__(self, inputs, *, generator=None, steps=None, guidance=None, progress=True) -> Video:
        video = inputs["video"]
        expected = self.input_spec["video"]
        if video.spec != expected:
            want, got = spec_mismatch(expected, video.spec) or (expected.describe(), video.spec.describe())
            raise CascadeError(f"the autoencoder ({self.config.role}) expects {want}, but was given {got}")
        if self.config.role == "encode":
            return Video(tensor=self.encode(video.tensor), spec=self.output_spec)
        return Video(tensor=self.decode(video.tensor).clamp(-1, 1), spec=self.output_spec)

    # -- baseline and training ----------------------------------------------------------------
    def bicubic_roundtrip(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, F, H, W) pixels bicubic-downsampled to as many numbers as their latent (equal_size) and back."""
        h, w = self.config.equal_size()
        return resize_frames(resize_frames(x, h, w), x.shape[-2], x.shape[-1])

    def train_task(self, data, upstream, **options):
        """Per-frame reconstruction + KL; with `temporal_decoder`, the decoder on clips, the encoder frozen."""
        from stages.autoencoder.task import AutoencoderTrainTask

        return AutoencoderTrainTask(self, data, **options)


def weights_file(directory: Path) -> Path:
    """The weights of a stage folder or a diffusers VAE folder; pickle weights are refused by name."""
    for name in (WEIGHTS_NAME, DIFFUSERS_WEIGHTS):
        if (directory / name).is_file():
            return directory / name
    if (directory / DIFFUSERS_PICKLE).is_file():
        raise CascadeError(f"{directory} holds only {DIFFUSERS_PICKLE}, a pickle, which cascade never loads; save "
                           f"the VAE with safetensors (AutoencoderKL.save_pretrained writes {DIFFUSERS_WEIGHTS})")
    raise CascadeError(f"{directory} has no weights ({WEIGHTS_NAME} or {DIFFUSERS_WEIGHTS})")

"""Latent diffusion stages (LDM, Video LDM, LVDM, MagicVideo): a stage config's `latent` section names the autoencoder
folder whose latents the stage makes, records what identifies it, and maps the stage's pixel geometry to its latent spec.

`frames`, `height`, `width` and `channels` of a latent stage describe the clip its latents decode to; its specs are
the autoencoder's latents of that clip (latent channels, sides divided by the autoencoder's downsampling).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from cascade.errors import CascadeError
from cascade.stage import StageConfig
from cascade.types import VideoSpec

AUTOENCODER_TYPE = "autoencoder"  # the stage type of a folder whose config.json names none (a diffusers VAE folder)
SHORT_SHA = 12  # hex digits of a sha256 shown in messages


class LatentSpace(BaseModel):
    """The autoencoder a latent stage works in. Only `autoencoder` (its folder) is written by hand; the rest is read
    from that folder when the config is first validated and recorded in the saved stage config, so a saved stage
    loads without the folder and the graph can tell whether a decoder node is the one it was trained with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    autoencoder: str  # a stage folder (cascade train autoencoder's export) or a diffusers AutoencoderKL folder
    sha256: str | None = None  # of the folder's weights file: the latent cache's key
    # of the encoder's weights and the latent scaling: what makes two autoencoder folders the same latent space (a
    # temporal decoder fine-tuned with the encoder frozen shares it with its per-frame parent)
    latent_sha256: str | None = None
    channels: int | None = Field(default=None, gt=0)  # latent channels
    downsampling: int | None = Field(default=None, gt=0)  # pixels per latent along each side

    @model_validator(mode="after")
    def _resolve(self) -> "LatentSpace":
        if None not in (self.sha256, self.latent_sha256, self.channels, self.downsampling):
            return self
        found = describe_autoencoder(self.autoencoder)
        for key, value in found.items():
            given = getattr(self, key)
            if given is not None and given != value:
                raise CascadeError(f"latent.{key} is {given} but the autoencoder at {self.autoencoder} has {value}; "
                                   f"leave latent.{key} out to take the autoencoder's")
            object.__setattr__(self, key, value)
        return self

    def short(self) -> str:
        return f"the autoencoder at {self.autoencoder} (latent sha256 {self.latent_sha256[:SHORT_SHA]})"


def describe_autoencoder(folder: str | Path) -> dict:
    """{sha256, latent_sha256, channels, downsampling} of an autoencoder folder (one sentence if it is not one)."""
    from cascade.stage import CONFIG_NAME

    folder = Path(folder)
    if not (folder / CONFIG_NAME).is_file():
        raise CascadeError(f"latent.autoencoder: {folder} is not an autoencoder folder (it has no {CONFIG_NAME}); "
                           f"train one first (cascade train autoencoder) or name a diffusers AutoencoderKL folder")
    from cascade.registry import get_stage_class
    from cascade.stage import stage_type_of, weights_path_of

    cls = get_stage_class(stage_type_of(folder) or AUTOENCODER_TYPE)
    weights = weights_path_of(cls, folder)
    stat = weights.stat()
    return dict(_describe(str(folder.resolve()), cls, stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=8)
def _describe(folder: str, cls, mtime_ns: int, size: int) -> tuple:  # keyed by the weights file's time and size
    from cascade.io_utils import sha256_file
    from cascade.stage import weights_path_of

    if not callable(getattr(cls, "latent_identity", None)):
        raise CascadeError(f"latent.autoencoder: {folder} holds a {cls.__name__}, which makes no latents; name an "
                           f"autoencoder folder")
    stage = cls.from_pretrained(folder)
    return (("sha256", sha256_file(weights_path_of(cls, folder))), ("latent_sha256", stage.latent_identity()),
            ("channels", int(stage.config.latent_channels)), ("downsampling", int(stage.config.downsampling)))


class LatentGeometry(StageConfig):
    """A stage config that may work in an autoencoder's latents: `latent` set, its specs are the latents of the pixel
    clip its fields describe."""

    latent: LatentSpace | None = None

    @model_serializer(mode="wrap")
    def _pixel_configs_unchanged(self, handler):
        data = handler(self)
        if self.latent is None:  # a pixel stage's saved config stays as it was before latent stages
            data.pop("latent", None)
        return data

    @model_validator(mode="after")
    def _divisible(self) -> "LatentGeometry":
        lat = self.latent
        if lat is not None:
            for side in ("height", "width"):
                size = getattr(self, side, None)
                if size is not None and size % lat.downsampling:
                    raise CascadeError(f"{self.type}: {side} {size} does not divide by the downsampling "
                                       f"{lat.downsampling} of {lat.short()}; pick a multiple of {lat.downsampling}")
        return self

    def in_space(self, spec: VideoSpec) -> VideoSpec:
        """The spec the stage sees for a clip of pixel spec `spec`: `spec` itself, or its latents."""
        lat = self.latent
        if lat is None:
            return spec
        f = lat.downsampling
        return spec.model_copy(update={"height": spec.height // f, "width": spec.width // f,
                                       "channels": lat.channels, "space": "latent"})

    def encoder_folder(self, pixel: VideoSpec):
        """The frozen encoder a training run needs: the `latent` autoencoder placed to encode clips of `pixel`."""
        from cascade.registry import StageFolder

        lat = self.latent
        return StageFolder(path=lat.autoencoder, type=AUTOENCODER_TYPE, sha256=lat.sha256, output=self.in_space(pixel),
                           placement={"role": "encode", "frames": pixel.frames, "fps": pixel.fps,
                                      "height": pixel.height, "width": pixel.width})


def latent_of(config) -> LatentSpace | None:
    return getattr(config, "latent", None)


def latent_space_mismatch(a_name: str, a, b_name: str, b) -> str | None:
    """One sentence when two latent stage configs work in different autoencoders' latents, else None."""
    la, lb = latent_of(a), latent_of(b)
    if la is None or lb is None or la.latent_sha256 == lb.latent_sha256:
        return None
    return (f"{b_name} works in the latents of {lb.short()} but {a_name} makes those of {la.short()}; train both "
            f"with the same autoencoder")


def check_latent_coders(graph, stages) -> None:
    """After loading: an autoencoder node that decodes a latent stage's output (or encodes its input) must be the
    autoencoder that stage was trained in (same encoder weights and latent scaling)."""
    for e in graph.edges:
        for lat_name, coder_name, verb in ((e.src, e.dst, "decodes"), (e.dst, e.src, "encodes")):
            lat = latent_of(stages[lat_name].config)
            identity = getattr(stages[coder_name], "latent_identity", None)
            if lat is None or not callable(identity):
                continue
            got = identity()
            if got != lat.latent_sha256:
                raise CascadeError(f"{coder_name} {verb} the latents of {lat_name}, but {lat_name} was trained in "
                                   f"{lat.short()} and {coder_name} is another autoencoder (latent sha256 "
                                   f"{got[:SHORT_SHA]}); use the autoencoder {lat_name} names")

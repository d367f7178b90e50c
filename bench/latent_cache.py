"""Latent training data: one epoch of clips encoded every step vs read back from the latent cache.

    .venv/bin/python bench/latent_cache.py [--clips 16] [--preset default]

The autoencoder is the configs/autoencoder/photos.yaml architecture (random weights: the speed is the same), the
clips those of configs/latent/base_video.yaml (8 frames of 128x128 photos). Encoding includes rendering the clip, as
a training step without the cache would; reading includes opening the shard.
"""

import argparse
import tempfile
import time

import torch

from cascade.data.photos_dataset import PhotosDataset
from cascade.stage import make_stage_config
from cascade.training.latent_cache import LatentClips
from stages.autoencoder.stage import AutoencoderStage

FRAMES, SIZE, FPS = 8, 128, 4.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--preset", default="default")
    args = ap.parse_args()
    torch.manual_seed(0)
    ae = AutoencoderStage(make_stage_config(AutoencoderStage, args.preset)).placed(
        role="encode", frames=FRAMES, fps=FPS, height=SIZE, width=SIZE)
    clips = PhotosDataset(args.clips, frames=FRAMES, size=SIZE, fps=FPS, seed=0)
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        cache = LatentClips(clips, ae, root, key="bench", autoencoder_sha256="0" * 64)
        for i in range(len(cache)):  # first epoch: every clip rendered and encoded once, shards written
            cache[i]
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        cache = LatentClips(clips, ae, root, key="bench", autoencoder_sha256="0" * 64)
        for i in range(len(cache)):  # a later epoch (or run): read back
            cache[i]
        cached = time.perf_counter() - t0
    print(f"{args.clips} clips of {FRAMES}x{SIZE}x{SIZE}: encoded {first:.2f} s ({first / args.clips * 1e3:.0f} ms/clip), "
          f"cached {cached:.3f} s ({cached / args.clips * 1e3:.1f} ms/clip), {first / cached:.0f}x faster")


if __name__ == "__main__":
    main()

"""Named autoencoder configs (AutoencoderKL settings under diffusers' names)."""

from stages.autoencoder.config import AutoencoderConfig


def _vae(channels: tuple[int, ...], *, layers: int = 1, groups: int = 32, latent: int = 4) -> dict:
    # no mid-block attention: the autoencoder trains on small crops and is used on whole frames, and a convolution
    # sees the same neighbourhood at both sizes where attention does not (with it, a 128x128 frame decoded 7.6 dB
    # worse than the same frame cut into the 32x32 tiles it was trained on)
    return {"block_out_channels": list(channels), "layers_per_block": layers, "norm_num_groups": groups,
            "latent_channels": latent, "down_block_types": ["DownEncoderBlock2D"] * len(channels),
            "up_block_types": ["UpDecoderBlock2D"] * len(channels), "sample_size": 128,
            "mid_block_add_attention": False}


PRESETS = {
    # 128x128 frames -> 4 x 32 x 32 latents (4x per side, 12x fewer numbers)
    "default": AutoencoderConfig(vae=_vae((32, 64, 64))),
    # 128x128 frames -> 4 x 16 x 16 latents (8x per side, 48x fewer numbers)
    "f8": AutoencoderConfig(vae=_vae((32, 64, 64, 64))),
    "tiny": AutoencoderConfig(frames=4, fps=4.0, height=16, width=16,
                              vae={**_vae((8, 16), groups=4), "sample_size": 16}),
}

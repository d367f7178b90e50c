"""Named spatial_sr configs, and the bicubic baseline (a spatial_bicubic stage)."""

from cascade.diffusion_stage import NetworkConfig
from stages.spatial_sr.config import SpatialBicubicConfig, SpatialSRConfig

PRESETS = {
    "bicubic": SpatialBicubicConfig(),
    "tiny": SpatialSRConfig(frames=8, fps=8.0, height=8, width=8,
                            network=NetworkConfig(base_channels=8, channel_mults=(1, 2),
                                                  attention_levels=(False, False), heads=2),
                            sampling={"steps": 4, "guidance": 1.0}),
    # 2x2 patches: the U-Net runs at 32x32 / 16x16; parameter-free Latent-Shift temporal mixing. Trained on
    # levels 0-0.3 around the augmented input; sampled at level 0, the best of 0/0.05/0.1/0.2 on every measure
    # (scripts/sweep_aug_level.py: FSD, background noise, flicker, PSNR on real clips).
    "default": SpatialSRConfig(residual=True, prediction="sample", sample_aug_level=0.0,
                               network=NetworkConfig(base_channels=32, channel_mults=(1, 2), patch_size=2,
                                                     attention_levels=(False, False), temporal_mixer="shift"),
                               # 5 steps: the same fidelity and FSD as 10 within chance, PSNR within 0.04 dB, at
                               # half the time (docs/experiments.md)
                               sampling={"steps": 5, "guidance": 1.0}),
    "large": SpatialSRConfig(network=NetworkConfig(base_channels=48, channel_mults=(1, 2, 2),
                                                   attention_levels=(False, False, True)),
                             sampling={"steps": 20, "guidance": 1.0}),
}

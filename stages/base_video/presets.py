"""Named base_video configs (DiT-style size table)."""

from cascade.diffusion_stage import NetworkConfig
from stages.base_video.config import BaseVideoConfig

PRESETS = {
    "tiny": BaseVideoConfig(frames=4, height=8, width=8, text={"length": 8, "dim": 384},
                            network=NetworkConfig(base_channels=8, channel_mults=(1, 2), attention_levels=(False, True),
                                                  heads=2),
                            sampling={"steps": 4, "guidance": 3.0}),
    "default": BaseVideoConfig(network=NetworkConfig(base_channels=32, channel_mults=(1, 2, 2),
                                                     attention_levels=(False, True, True), heads=4)),
    "large": BaseVideoConfig(network=NetworkConfig(base_channels=64, channel_mults=(1, 2, 3),
                                                   attention_levels=(False, True, True), num_res_blocks=2,
                                                   heads=8)),
}

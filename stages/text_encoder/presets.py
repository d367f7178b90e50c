"""Named text encoder configs."""

from stages.text_encoder.config import TextEncoderConfig

PRESETS = {
    "tiny": TextEncoderConfig(max_length=8),
    "default": TextEncoderConfig(),
    "large": TextEncoderConfig(max_length=32),
}

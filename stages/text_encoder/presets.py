"""Named text encoder configs."""

from stages.text_encoder.config import TextEncoderConfig

PRESETS = {
    "tiny": TextEncoderConfig(max_length=8),
    # the shipped cascade: prompts expanded with WordNet's shape glosses (stages/text_encoder/lexicon.py), 32 tokens
    # so a gloss fits after a prompt
    "default": TextEncoderConfig(max_length=32, lexicon="wordnet-shapes"),
    "plain": TextEncoderConfig(),  # prompts as given, 16 tokens
    "large": TextEncoderConfig(max_length=32),
}

"""Named text encoder configs."""

from stages.text_encoder.config import TextEncoderConfig

PRESETS = {
    "tiny": TextEncoderConfig(max_length=8),
    # the shipped cascade: prompts expanded with WordNet's glosses of shapes, colours, directions and motion verbs
    # (stages/text_encoder/lexicon.py); 96 tokens hold a training caption with all its glosses (99% need <= 86)
    "default": TextEncoderConfig(max_length=96, lexicon="wordnet"),
    "shapes-lexicon": TextEncoderConfig(max_length=32, lexicon="wordnet-shapes"),  # shape glosses only
    "plain": TextEncoderConfig(),  # prompts as given, 16 tokens
    "large": TextEncoderConfig(max_length=32),
}

"""Named text encoder configs."""

from stages.text_encoder.config import TextEncoderConfig

PRESETS = {
    "tiny": TextEncoderConfig(max_length=8),
    # prompts expanded with WordNet's shape glosses (stages/text_encoder/lexicon.py), 32 tokens so a gloss fits after
    # a prompt: the base stage's first training (configs/base_video/default.yaml)
    "default": TextEncoderConfig(max_length=32, lexicon="wordnet-shapes"),
    # WordNet's glosses of shapes, colours, directions and motion verbs; 96 tokens hold a training caption with all
    # its glosses (99% need <= 86)
    "wordnet": TextEncoderConfig(max_length=96, lexicon="wordnet"),
    # the shipped cascade: wordnet with each colour, direction and motion word glossed by what it shows on screen;
    # 80 tokens hold every training caption and suite prompt with its glosses (the longest needs 67)
    "screen": TextEncoderConfig(max_length=80, lexicon="wordnet-screen"),
    "plain": TextEncoderConfig(),  # prompts as given, 16 tokens
    "large": TextEncoderConfig(max_length=32),
}

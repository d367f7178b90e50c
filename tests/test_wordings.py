"""Colours, directions and motions in other words: the WordNet lexicon, the training captions that use its words,
and the evaluation's held-out wordings."""

import re

import pytest

from cascade.data.shapes import (ALL_COMBOS, COLOUR_WORDS, COLOURS, DIRECTION_WORDS, HELD_OUT_COLOUR_WORDS,
                                 HELD_OUT_DIRECTION_WORDS, HELD_OUT_MOTION_VERBS, ING, MOTION_VERBS, MOTIONS,
                                 caption)
from cascade.data.shapes_dataset import ShapesDataset
from stages.text_encoder.lexicon import load_lexicon


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())) + " "


def test_held_out_words_are_disjoint_from_training_and_world_names_always_train():
    for train, held, names in ((COLOUR_WORDS, HELD_OUT_COLOUR_WORDS, COLOURS), (DIRECTION_WORDS,
                                HELD_OUT_DIRECTION_WORDS, MOTIONS), (MOTION_VERBS, HELD_OUT_MOTION_VERBS, ())):
        every_train = {w for ws in train.values() for w in ws}
        every_held = {w for ws in held.values() for w in ws}
        assert every_held and not every_train & every_held
        for name in names:
            assert name in train[name] and name not in every_held
    # a third of each class stays out (rounded up), so each direction and each colour with synonyms has one
    assert all(HELD_OUT_DIRECTION_WORDS[m] for m in MOTIONS)
    assert all(HELD_OUT_COLOUR_WORDS[c] for c in ("red", "green", "blue", "yellow"))
    assert set(MOTION_VERBS) == {"up", "down", "how"}


def test_training_captions_vary_the_wording_and_never_use_a_held_out_word():
    varied = ShapesDataset(600, frames=4, size=16, fps=2.0, varied_wordings=True)
    plain = ShapesDataset(600, frames=4, size=16, fps=2.0)
    held = ([w for ws in HELD_OUT_COLOUR_WORDS.values() for w in ws] + [w for ws in HELD_OUT_DIRECTION_WORDS.values()
            for w in ws] + [ING.get(v, v) for ws in HELD_OUT_MOTION_VERBS.values() for v in ws])
    changed = 0
    for i in range(600):
        a, b = varied[i], plain[i]
        assert (a["colour"], a["shape"], a["motion"]) == (b["colour"], b["shape"], b["motion"])
        assert (a["video"] == b["video"]).all()  # the wording never changes the clip (nor other stages' data)
        text = _words(a["caption"])
        assert not [w for w in held if f" {w} " in text], a["caption"]
        changed += a["caption"] != b["caption"]
    assert changed > 300  # half the colours and half the motions are said in other words


def test_lexicon_glosses_colours_directions_and_inflected_motion_verbs():
    lex = load_lexicon("wordnet")
    assert "red" in lex.gloss("vermilion") and "blue" in lex.gloss("cerulean")
    assert "drop sharply" in lex.gloss("plummeting") and lex.gloss("plummeting") == lex.gloss("plummet")
    assert "rise" in lex.gloss("soared") and lex.gloss("sank") == lex.gloss("sink")  # an irregular form
    assert lex.gloss("westward") == "toward the west"
    # a shape is a shape before it is a verb, and the shapes lexicon is a part of this one
    shapes = load_lexicon("wordnet-shapes")
    assert all(lex.entries[w] == g for w, g in shapes.entries.items())
    assert lex.expand("a ruby wedge plummeting") == (
        f"a ruby wedge plummeting (ruby: {lex.gloss('ruby')}) (wedge: {shapes.entries['wedge']}) "
        f"(plummeting: {lex.gloss('plummet')})")
    every = [w for table in (COLOUR_WORDS, HELD_OUT_COLOUR_WORDS, DIRECTION_WORDS, HELD_OUT_DIRECTION_WORDS,
                             MOTION_VERBS, HELD_OUT_MOTION_VERBS) for ws in table.values() for w in ws]
    assert all(lex.names_in(w) for w in every)  # each wording word reaches the encoder with its gloss
    assert all(lex.names_in(ING[v]) for ws in MOTION_VERBS.values() for v in ws)


def test_wordnet_text_encoder_counts_inflected_forms_as_known_words():
    from stages.text_encoder.presets import PRESETS
    from stages.text_encoder.stage import TextEncoderStage

    known = TextEncoderStage(PRESETS["wordnet"]).known_words()
    assert {"plummeting", "cerulean", "westwards", "soaring"} <= known


def test_unseen_wording_cases_name_a_held_out_word_of_their_target():
    from cascade.eval.suites.shapes import WORDING_GROUPS, wording_cases

    cases = wording_cases(seeds=2)
    count = {g: sum(c["template"] == g for c in cases) for g in WORDING_GROUPS}
    assert count == {"unseen_colour_word": 48, "unseen_direction_phrase": 72, "unseen_motion_verb": 72,
                     "unseen_all_three": 48}
    assert {c["target"] for c in cases if c["template"] == "unseen_direction_phrase"} == set(ALL_COMBOS)
    for c in cases:
        colour, shape, motion = c["target"]
        text = _words(c["prompt"])
        if c["template"] in ("unseen_colour_word", "unseen_all_three"):
            assert any(f" {w} " in text for w in HELD_OUT_COLOUR_WORDS[colour]) and c["prompt"][:2 + len(colour)] != (
                f"a {colour}")
        if c["template"] in ("unseen_direction_phrase", "unseen_all_three"):
            assert any(f" {w} " in text for w in HELD_OUT_DIRECTION_WORDS[motion])
        if c["template"] in ("unseen_motion_verb", "unseen_all_three"):
            verbs = HELD_OUT_MOTION_VERBS[motion if motion in ("up", "down") else "how"]
            assert any(f" {ING[v]} " in text for v in verbs)
        if c["template"] == "unseen_motion_verb" and motion in ("up", "down"):  # the verb alone says where
            assert c["prompt"] in {f"a {colour} {shape} {ING[v]}" for v in HELD_OUT_MOTION_VERBS[motion]}


@pytest.mark.parametrize("verb, ing", [("plummet", "plummeting"), ("drop", "dropping"), ("skydive", "skydiving"),
                                       ("go up", "going up"), ("glide", "gliding")])
def test_present_participles(verb, ing):
    assert caption("red", "circle", "down", "a {colour} {shape} {verbing}", verb=verb) == f"a red circle {ing}"


def test_photos_pans_in_other_words_never_use_a_held_out_word_nor_the_worlds_camera_words():
    from cascade.data.photos import HELD_OUT_PAN_VERBS, PAN_VERBS, PAN_WAY
    from cascade.data.photos_dataset import PhotosDataset
    from cascade.eval.suites.photos import wording_cases

    assert not {v for vs in (*PAN_VERBS.values(), *HELD_OUT_PAN_VERBS.values()) for v in vs} & {"pan", "zoom"}
    varied = PhotosDataset(300, frames=2, size=16, fps=1.0, varied_wordings=True)
    plain = PhotosDataset(300, frames=2, size=16, fps=1.0)
    held = [w for ws in HELD_OUT_DIRECTION_WORDS.values() for w in ws] + [
        ING[v] for ws in HELD_OUT_PAN_VERBS.values() for v in ws]
    changed = 0
    for i in range(300):
        a, b = varied.item(*varied.params(i)[:1], varied.templates[varied.params(i)[1]], i), \
            plain.item(*plain.params(i)[:1], plain.templates[plain.params(i)[1]], i)
        assert (a["subject"], a["motion"]) == (b["subject"], b["motion"])
        assert not [w for w in held if f" {w} " in _words(a["caption"])], a["caption"]
        changed += a["caption"] != b["caption"]
        if a["motion"] not in PAN_WAY:
            assert a["caption"] == b["caption"]  # zooms and stills keep their wording
    assert changed > 50
    cases = wording_cases(seeds=1)
    assert len(cases) == 2 * 48 and all(c["target"][1] in PAN_WAY for c in cases)
    assert all(c["wording"] in c["prompt"] or ING[c["wording"]] in c["prompt"] for c in cases)


def test_screen_lexicon_glosses_each_wording_word_by_what_it_shows_and_nothing_else_changes():
    """wordnet-screen is wordnet with every colour, direction and motion verb of the wordings, held-out ones too,
    glossed by what it shows on screen in the world's own words (a how-verb: moving); shapes and every other entry
    keep their WordNet gloss."""
    lex, base = load_lexicon("wordnet-screen"), load_lexicon("wordnet")
    assert lex.forms == base.forms
    placed = {}
    for tables in ((COLOUR_WORDS, HELD_OUT_COLOUR_WORDS), (DIRECTION_WORDS, HELD_OUT_DIRECTION_WORDS),
                   (MOTION_VERBS, HELD_OUT_MOTION_VERBS)):
        for table in tables:
            for cls, words in table.items():
                placed.update({w: "moving" if cls == "how" else cls for w in words})
    assert len(placed) > 700 and set(placed.values()) == {*COLOURS, *MOTIONS, "moving"}
    assert set(lex.entries) == set(base.entries)
    for w, g in base.entries.items():
        assert lex.entries[w] == (f"{placed[w]} on screen" if w in placed else g), w
    # a held-out colour, a held-out verb's inflected form and a held-out compass word arrive with their place
    assert lex.expand("a cerulean wedge plummeting") == (
        f"a cerulean wedge plummeting (cerulean: blue on screen) (wedge: {base.gloss('wedge')}) "
        f"(plummeting: down on screen)")
    assert lex.expand("a red disc coasting northwards").endswith("(coasting: moving on screen) "
                                                                "(northwards: up on screen)")


def test_screen_text_encoder_reads_every_caption_and_eval_prompt_whole():
    """The screen preset's tokens hold every training caption and every shapes-suite prompt with all its glosses."""
    from transformers import AutoTokenizer

    from cascade.eval.suites.shapes import ShapesSuite
    from stages.text_encoder.presets import PRESETS
    from stages.text_encoder.stage import resolve_model_path

    cfg = PRESETS["screen"]
    lex, tok = load_lexicon(cfg.lexicon), AutoTokenizer.from_pretrained(str(resolve_model_path(cfg.model)))
    data = ShapesDataset(2000, frames=4, size=16, fps=2.0, varied_wordings=True, cache=False)
    captions = [data.item(p, data.templates[t], i)["caption"] for i in range(2000) for p, t in [data.indexed_params(i)]]
    prompts = [c["prompt"] for c in ShapesSuite().cases(1)]
    lengths = [len(ids) for ids in tok([lex.expand(c) for c in captions + prompts])["input_ids"]]
    assert max(lengths) <= cfg.max_length

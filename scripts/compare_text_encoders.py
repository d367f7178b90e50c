"""How well each frozen text encoder reads the words a shapes prompt may use that training never showed (minutes).

For each encoder (the packaged MiniLM, plus every `--model FOLDER`, a local transformers folder) and each reading
(prompts as given, and with the `wordnet` lexicon's glosses appended, as the shipped preset does), a linear read-out is
trained on captions in the training wordings and asked for the label of captions whose word in one category is held
out (the words `cascade eval --suite shapes` asks for in its unseen-wording groups):

    colour          COLOUR_WORDS vs HELD_OUT_COLOUR_WORDS ("a ruby circle" -> "a wine circle"), label = colour
    direction       the training direction phrases vs HELD_OUT_DIRECTION_WORDS ("moving westerly" -> "moving
                    westwards"), verb "move", label = motion
    verb_where      MOTION_VERBS up/down vs HELD_OUT_MOTION_VERBS up/down with no direction ("rising" ->
                    "soaring"), label = up/down
    verb_how        MOTION_VERBS["how"] vs HELD_OUT_MOTION_VERBS["how"] with a training direction phrase ("gliding
                    upward" -> "careening upward"): is the direction still read beside an unseen verb; label = motion
    shape           SHAPE_WORDS vs HELD_OUT_SHAPE_WORDS in the training templates, label = shape
    sentence_*      TRAIN_TEMPLATES vs HELD_OUT_TEMPLATES with the canonical words (the eval's "unseen_sentence"
                    prompts), label = colour, shape and motion each

Two read-outs, as in scripts/probe_text_encoder.py: `tokens` scores every token state and takes a log-sum-exp over the
caption (what cross-attention can do), `pooled` is a logistic regression on the L2-normalised mean-pooled vector.
Token states are computed as the stage computes them (same lexicon, tokeniser, max_length truncation, mean pooling),
padded to each batch's longest caption instead of max_length, which leaves the real tokens' states unchanged.
The encode times are the stage's own (`TextEncoderStage.encode`, padded to max_length), median of several runs.

    python scripts/compare_text_encoders.py                                  # MiniLM alone
    python scripts/compare_text_encoders.py --model /path/all-mpnet-base-v2 --json docs/reports/text_encoders.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cascade.data.shapes import (ALL_COMBOS, COLOUR_WORDS, COLOURS,  # noqa: E402
                                 HELD_OUT_COLOUR_WORDS,
                                 HELD_OUT_DIRECTION_WORDS, HELD_OUT_MOTION_VERBS, HELD_OUT_SHAPE_WORDS,
                                 HELD_OUT_TEMPLATES, MOTION_VERBS, MOTIONS, SHAPE_WORDS, SHAPES, TRAIN_COMBOS,
                                 TRAIN_TEMPLATES, WORDING_TEMPLATES, caption, direction_phrases)

LEXICONS = (None, "wordnet")
MAX_LENGTH = 96  # the shipped preset's
PER_WORD = 2  # captions per colour word, direction phrase or shape name (each with another combination)
PER_VERB = 2  # captions per up/down verb
SENTENCE_STRIDE = 4  # every fourth combination per sentence form
VERB_STRIDE = 3  # every third "how" verb
BATCH = 64
READOUT_STEPS = 200
TIMING_RUNS = 3
TIMING_BATCH = 32
SEED = 0


def _rotate(pool: list, j: int, k: int) -> list:
    """k items of `pool` for the j-th word: consecutive, starting where the previous word stopped."""
    return [pool[(j * k + i) % len(pool)] for i in range(k)]


def _word_cases(words: dict[str, tuple[str, ...]], combos_of, make, per_word: int) -> list[tuple[str, str]]:
    """(caption, label) for every word of every label, each with `per_word` combinations of that label."""
    out, j = [], 0
    for label, ws in words.items():
        for w in ws:
            out += [(make(combo, w, j + i), label) for i, combo in enumerate(_rotate(combos_of(label), j, per_word))]
            j += 1
    return out


def probe_cases() -> dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]]:
    """{category: (train cases, test cases, labels)}; a case is (caption, label)."""
    by = lambda i, v: [c for c in ALL_COMBOS if c[i] == v]  # noqa: E731
    canonical = TRAIN_TEMPLATES[0]  # "a {colour} {shape} moving {motion}": the eval's unseen-colour-word sentence
    colour = lambda words: _word_cases(words, lambda c: by(0, c), lambda combo, w, j: caption(  # noqa: E731
        *combo, canonical, colour_word=w), PER_WORD)
    direction = lambda words: _word_cases(words, lambda m: by(2, m), lambda combo, w, j: caption(  # noqa: E731
        *combo, WORDING_TEMPLATES[j % len(WORDING_TEMPLATES)], dirword=w), PER_WORD)
    where = lambda verbs: _word_cases({m: verbs[m] for m in ("up", "down")}, lambda m: by(2, m),  # noqa: E731
                                      lambda combo, v, j: caption(*combo, WORDING_TEMPLATES[j % 3], verb=v,
                                                                  dirword=""), PER_VERB)

    def how(verbs: tuple[str, ...], phrases) -> list[tuple[str, str]]:  # one caption per verb, motions in turn
        out = []
        for j, v in enumerate(verbs):
            motion = MOTIONS[j % len(MOTIONS)]
            combo = by(2, motion)[(j // len(MOTIONS)) % 18]
            ps = phrases(motion)
            out.append((caption(*combo, WORDING_TEMPLATES[j % 3], verb=v, dirword=ps[j % len(ps)]), motion))
        return out

    shape = lambda words, k: _word_cases(words, lambda s: by(1, s), lambda combo, w, j: caption(  # noqa: E731
        *combo, TRAIN_TEMPLATES[j % len(TRAIN_TEMPLATES)], w), k)
    train_dirs = {m: direction_phrases(m) for m in MOTIONS}
    cases = {
        "colour": (colour(COLOUR_WORDS), colour(HELD_OUT_COLOUR_WORDS), list(COLOURS)),
        "direction": (direction(train_dirs), direction(HELD_OUT_DIRECTION_WORDS), list(MOTIONS)),
        "verb_where": (where(MOTION_VERBS), where(HELD_OUT_MOTION_VERBS), ["up", "down"]),
        "verb_how": (how(MOTION_VERBS["how"][::VERB_STRIDE], direction_phrases),
                     how(HELD_OUT_MOTION_VERBS["how"][::VERB_STRIDE], direction_phrases),
                     list(MOTIONS)),
        "shape": (shape(SHAPE_WORDS, PER_WORD), shape(HELD_OUT_SHAPE_WORDS, 2 * PER_WORD), list(SHAPES)),  # 6 names
    }
    # held-out sentence forms with the shape's own name (as the eval's "unseen_sentence" cases)
    forms = [t.replace("{shape_syn2}", "{shape}").replace("{shape_syn}", "{shape}") for t in HELD_OUT_TEMPLATES]
    every = lambda combos, i: combos[i % SENTENCE_STRIDE::SENTENCE_STRIDE]  # noqa: E731
    train = [(caption(*c, t), c) for i, t in enumerate(TRAIN_TEMPLATES) for c in every(TRAIN_COMBOS, i)]
    test = [(caption(*c, t), c) for i, t in enumerate(forms) for c in every(ALL_COMBOS, i)]
    for k, (name, labels) in enumerate((("colour", COLOURS), ("shape", SHAPES), ("motion", MOTIONS))):
        cases[f"sentence_{name}"] = ([(p, c[k]) for p, c in train], [(p, c[k]) for p, c in test], list(labels))
    return cases


def model_config(model: str | None, lexicon: str | None):
    """The stage config that reads prompts with `model` (None: the packaged MiniLM) as the shipped preset does."""
    from stages.text_encoder.config import PACKAGED_MINILM, TextEncoderConfig
    from stages.text_encoder.stage import resolve_model_path

    path = resolve_model_path(model or PACKAGED_MINILM)
    cfg = json.loads((path / "config.json").read_text())
    dim = cfg.get("hidden_size") or cfg.get("text_config", {}).get("hidden_size") or cfg.get("d_model")
    return TextEncoderConfig(model=model or PACKAGED_MINILM, dim=dim, max_length=MAX_LENGTH, lexicon=lexicon), path


@torch.inference_mode()
def encode_states(stage, prompts: list[str]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{prompt: (token states (L, D) of its real tokens, pooled (D,))}, batched by length."""
    expanded = stage.expand(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(expanded[i]))
    out = {}
    for s in range(0, len(order), BATCH):
        idx = order[s:s + BATCH]
        batch = stage.tokenizer([expanded[i] for i in idx], padding="longest", truncation=True,
                                max_length=stage.config.max_length, return_tensors="pt")
        states = stage.network(**batch).last_hidden_state.float()  # (B, L, D)
        mask = batch["attention_mask"].bool()  # (B, L)
        m = mask[..., None].float()
        pooled = torch.nn.functional.normalize((states * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)
        for row, i in enumerate(idx):
            out[prompts[i]] = (states[row, mask[row]].clone(), pooled[row].clone())
    return out


def stack(states: dict, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, L, D) token states padded with zeros, (B, L) mask, (B, D) pooled."""
    rows = [states[p][0] for p in prompts]
    length = max(len(r) for r in rows)
    tokens = torch.zeros(len(rows), length, rows[0].shape[-1])
    mask = torch.zeros(len(rows), length, dtype=torch.bool)
    for i, r in enumerate(rows):
        tokens[i, :len(r)], mask[i, :len(r)] = r, True
    return tokens, mask, torch.stack([states[p][1] for p in prompts])


def token_readout(x_tr, m_tr, y_tr, x_te, m_te, classes: int) -> np.ndarray:
    """A linear score per token and class, log-sum-exp over the caption's tokens (scripts/probe_text_encoder.py)."""
    torch.manual_seed(SEED)
    linear = torch.nn.Linear(x_tr.shape[-1], classes)
    score = lambda x, m: torch.logsumexp(linear(x).masked_fill(~m[..., None], -1e4), dim=1)  # noqa: E731
    opt = torch.optim.Adam(linear.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(READOUT_STEPS):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(score(x_tr, m_tr), y_tr).backward()
        opt.step()
    with torch.no_grad():
        return score(x_te, m_te).argmax(1).numpy()


def pooled_readout(x_tr, y_tr, x_te) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=SEED))
    return clf.fit(x_tr.numpy(), y_tr.numpy()).predict(x_te.numpy())


def probe(stage, cases) -> dict:
    prompts = list(dict.fromkeys(p for tr, te, _ in cases.values() for p, _ in tr + te))
    states = encode_states(stage, prompts)
    report = {}
    for name, (train, test, labels) in cases.items():
        y_tr = torch.tensor([labels.index(y) for _, y in train])
        y_te = np.array([labels.index(y) for _, y in test])
        t_tr, m_tr, p_tr = stack(states, [p for p, _ in train])
        t_te, m_te, p_te = stack(states, [p for p, _ in test])
        preds = {"tokens": token_readout(t_tr, m_tr, y_tr, t_te, m_te, len(labels)),
                 "pooled": pooled_readout(p_tr, y_tr, p_te)}
        report[name] = {"train": len(train), "test": len(test), "chance": round(1 / len(labels), 3),
                        **{k: round(float((v == y_te).mean()), 4) for k, v in preds.items()},
                        "wrong_tokens": sorted({p for (p, _), ok in zip(test, preds["tokens"] == y_te) if not ok})[:8]}
    return report


def timing(stage, prompts: list[str]) -> dict:
    """The stage's encode (padded to max_length), uncached: median seconds for one prompt and for a batch."""
    def median(batch):
        stage.encode(batch, cache=False)  # warm-up
        runs = []
        for _ in range(TIMING_RUNS):
            t = time.perf_counter()
            stage.encode(batch, cache=False)
            runs.append(time.perf_counter() - t)
        return round(statistics.median(runs), 4)

    return {"one_prompt_s": median(prompts[:1]), f"batch_{TIMING_BATCH}_s": median(prompts[:TIMING_BATCH])}


def describe(path: Path, network) -> dict:
    files = [f for f in path.rglob("*") if f.is_file()]
    weights = [f for f in files if f.suffix in (".safetensors", ".bin", ".pt")]
    return {"folder": str(path), "parameters": sum(p.numel() for p in network.parameters()),
            "folder_mb": round(sum(f.stat().st_size for f in files) / 1e6, 1),
            "weights_mb": round(sum(f.stat().st_size for f in weights) / 1e6, 1),
            "hidden": network.config.hidden_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=[], help="a local transformers folder to compare (repeat)")
    ap.add_argument("--no-minilm", action="store_true", help="leave out the packaged MiniLM")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--json", type=Path, help="write the report here")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    from stages.text_encoder.stage import TextEncoderStage

    cases = probe_cases()
    timing_prompts = [p for p, _ in cases["sentence_colour"][1]]
    models = ([None] if not args.no_minilm else []) + args.model
    report = {"max_length": MAX_LENGTH, "threads": args.threads,
              "cases": {k: {"train": len(tr), "test": len(te), "labels": labels}
                        for k, (tr, te, labels) in cases.items()},
              "encoders": {}}
    for model in models:
        entry = {}
        for lexicon in LEXICONS:
            cfg, path = model_config(model, lexicon)
            t = time.perf_counter()
            stage = TextEncoderStage(cfg)
            load_s = time.perf_counter() - t
            entry.setdefault("model", describe(path, stage.network) | {"load_s": round(load_s, 2)})
            t = time.perf_counter()
            result = probe(stage, cases)
            reading = lexicon or "none"
            entry[reading] = {"probe": result, "probe_s": round(time.perf_counter() - t, 1),
                              "timing": timing(stage, timing_prompts)}
            name = cfg.model if model is None else Path(model).name
            print(f"{name} lexicon={reading}: {entry[reading]['probe_s']} s, encode {entry[reading]['timing']}",
                  flush=True)
            del stage
            report["encoders"][cfg.model if model is None else Path(model).name] = entry
            if args.json:  # after every reading, so a long run leaves what it has measured
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(report, indent=1) + "\n")
    cats = list(report["cases"])
    print(f"\n{'encoder':24s} {'lexicon':8s} " + " ".join(f"{c[:15]:>15s}" for c in cats) + "   (tokens / pooled)")
    for name, entry in report["encoders"].items():
        for reading in ("none", "wordnet"):
            if reading not in entry:
                continue
            p = entry[reading]["probe"]
            print(f"{name[:24]:24s} {reading:8s} " + " ".join(f"{p[c]['tokens']:7.2f}/{p[c]['pooled']:<7.2f}"
                                                            for c in cats))


if __name__ == "__main__":
    main()

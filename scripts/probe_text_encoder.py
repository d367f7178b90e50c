"""How well a read-out trained on the training captions tells the shape from the frozen text encoder (seconds).

A linear read-out is trained on the text encoder's output for every training caption (TRAIN_COMBOS x TRAIN_TEMPLATES x
every training name of each shape) and asked for the shape of captions it never saw:
  - leave-one-word-out over the training names (train without "tent", test on "tent" captions): model selection that
    never touches the evaluation's held-out names;
  - the evaluation's held-out-name prompts (`cascade eval`'s "unseen" cases: ball, disc, box, block, wedge, pyramid).
Two read-outs: `tokens` scores every token state and takes a log-sum-exp over the caption (what a cross-attention
model can do; docs/experiments.md sets it beside `cascade eval`'s per-word shape accuracy), and
`pooled` reads the L2-normalised mean-pooled vector (what the sentence encoder was trained to make meaningful).

    python scripts/probe_text_encoder.py                      # preset default (WordNet shape glosses, 32 tokens)
    python scripts/probe_text_encoder.py --preset plain       # MiniLM on the prompts as given (16 tokens)
    python scripts/probe_text_encoder.py --words words.json   # a candidate {"circle": [...], ...} name list
    python scripts/probe_text_encoder.py --layers 1 2 3 4 5 6 # the mean of those hidden layers' states instead of
                                                              # the last layer's (0 = the word embeddings)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cascade.data.shapes import SHAPE_WORDS, SHAPES, TRAIN_COMBOS, TRAIN_TEMPLATES, caption  # noqa: E402
from cascade.eval.run import shapes_cases  # noqa: E402


def encode(prompts: list[str], layers: list[int] | None = None,
           preset: str = "default") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token states, mask and pooled vector as the text_encoder stage `preset` makes them, or, with `layers`, from the
    mean of those hidden layers' states (same lexicon, tokenisation, mean pooling and L2 norm)."""
    from stages.text_encoder.presets import PRESETS
    from stages.text_encoder.stage import TextEncoderStage

    stage = TextEncoderStage(PRESETS[preset])
    if not layers:
        parts = [stage.encode(prompts[i:i + 512], cache=False) for i in range(0, len(prompts), 512)]
        return (torch.cat([p.tokens for p in parts]).float(), torch.cat([p.mask for p in parts]),
                torch.cat([p.pooled for p in parts]).float())
    prompts = stage.expand(prompts)
    tokens, masks = [], []
    with torch.inference_mode():
        for i in range(0, len(prompts), 512):
            batch = stage.tokenizer(prompts[i:i + 512], padding="max_length", truncation=True,
                                    max_length=stage.config.max_length, return_tensors="pt")
            hidden = stage.network(**batch, output_hidden_states=True).hidden_states
            tokens.append(torch.stack([hidden[k] for k in layers]).mean(0).float())
            masks.append(batch["attention_mask"].bool())
    tokens, mask = torch.cat(tokens), torch.cat(masks)
    m = mask[..., None].float()
    return tokens, mask, torch.nn.functional.normalize((tokens * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)


class Readout(torch.nn.Module):
    def __init__(self, dim: int, tokens: bool):
        super().__init__()
        self.linear, self.tokens = torch.nn.Linear(dim, len(SHAPES)), tokens

    def forward(self, x, mask):
        if not self.tokens:
            return self.linear(x)
        return torch.logsumexp(self.linear(x).masked_fill(~mask[..., None], -1e4), dim=1)


def fit(x, mask, y, tokens: bool, steps: int = 200) -> Readout:
    torch.manual_seed(0)
    model = Readout(x.shape[-1], tokens)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x, mask), y).backward()
        opt.step()
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=Path, help="JSON {shape: [names]} to train on instead of SHAPE_WORDS")
    ap.add_argument("--layers", type=int, nargs="+", help="read the mean of these hidden layers (0-6; default: the "
                    "last layer, as the stage does)")
    ap.add_argument("--preset", default="default", help="text_encoder preset (default: the shipped one; plain: no "
                    "lexicon)")
    args = ap.parse_args()
    words = json.loads(args.words.read_text()) if args.words else SHAPE_WORDS
    torch.set_num_threads(min(torch.get_num_threads(), 2))

    train = [(caption(c, s, m, t, w), SHAPES.index(s), w) for c, s, m in TRAIN_COMBOS for t in TRAIN_TEMPLATES
             for w in words[s]]
    test = [(c["prompt"], SHAPES.index(c["target"][1]), c["shape_word"]) for c in shapes_cases(1) if "shape_word" in c]
    tokens_all, mask_all, pooled_all = encode([p for p, _, _ in train + test], args.layers, args.preset)  # one text encoder load
    k = len(train)
    tok_tr, mask_tr, pool_tr = tokens_all[:k], mask_all[:k], pooled_all[:k]
    tok_te, mask_te, pool_te = tokens_all[k:], mask_all[k:], pooled_all[k:]
    y_tr, y_te = torch.tensor([y for _, y, _ in train]), torch.tensor([y for _, y, _ in test])
    w_tr, w_te = np.array([w for *_, w in train]), np.array([w for *_, w in test])
    report = {"train_captions": len(train), "words": words, "layers": args.layers or "last", "preset": args.preset}
    for name, x_tr, x_te in (("tokens", tok_tr, tok_te), ("pooled", pool_tr, pool_te)):
        tokens = name == "tokens"
        lowo = {}
        for w in sorted(set(w_tr) - set(SHAPES)):  # every training name but the canonical ones
            keep, out = torch.from_numpy(w_tr != w), torch.from_numpy(w_tr == w)
            model = fit(x_tr[keep], mask_tr[keep], y_tr[keep], tokens)
            lowo[w] = float((model(x_tr[out], mask_tr[out]).argmax(1) == y_tr[out]).float().mean())
        pred = fit(x_tr, mask_tr, y_tr, tokens)(x_te, mask_te).argmax(1)
        held = {w: float((pred[torch.from_numpy(w_te == w)] == y_te[torch.from_numpy(w_te == w)]).float().mean())
                for w in sorted(set(w_te))}
        report[name] = {"leave_one_word_out": float(np.mean(list(lowo.values()))), "per_training_name": lowo,
                        "held_out_names": float((pred == y_te).float().mean()), "per_held_out_name": held}
        print(f"{name:6s} leave-one-word-out {report[name]['leave_one_word_out']:.3f} "
              f"(worst: {', '.join(f'{w} {a:.2f}' for w, a in sorted(lowo.items(), key=lambda kv: kv[1])[:3])}); "
              f"held-out names {report[name]['held_out_names']:.3f} "
              f"({', '.join(f'{w} {a:.2f}' for w, a in held.items())})")
    print(json.dumps(report))


if __name__ == "__main__":
    main()

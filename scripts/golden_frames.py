"""Store what the shipped weights render, every stage, for tests/test_golden_frames.py (seconds).

    python scripts/golden_frames.py            # after the shipped weights change, and only then
    python scripts/golden_frames.py OUT.safetensors

The frames are uint8 safetensors with the prompts and seed in the metadata; the test renders them again and allows
two grey levels of floating-point drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from safetensors.torch import save  # noqa: E402

from cascade.io_utils import atomic_write_bytes  # noqa: E402
from cascade.pipeline import CascadePipeline  # noqa: E402

OUT = ROOT / "tests" / "data" / "golden_frames.safetensors"
PROMPTS = ["a red circle moving left", "one cyan block gliding upward", "a yellow triangle moving up"]
SEED = 3


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    outs = CascadePipeline.from_pretrained(ROOT / "weights").run(PROMPTS, seed=SEED, progress=False)
    tensors = {name: out.frames.contiguous() for name, out in outs.items() if hasattr(out, "frames")}
    atomic_write_bytes(out, save(tensors, metadata={"prompts": "\n".join(PROMPTS), "seed": str(SEED)}))
    print(f"{', '.join(tensors)} -> {out}")


if __name__ == "__main__":
    main()

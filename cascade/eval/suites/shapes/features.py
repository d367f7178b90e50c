"""The Fréchet Shapes-video Distance (FSD): a Fréchet distance between Gaussian fits of clip features from a small
3D-conv network trained on the procedural shapes data.

It is NOT FVD: FVD uses an I3D network trained on Kinetics. Ours is `ShapesFeatureNet`, ~170k parameters, trained
(`train_feature_net`, a few CPU minutes) to classify colour, shape and motion of real shapes clips resized to
16 frames x 32x32; its 64-d penultimate activations are the features. Numbers are comparable only between runs
that use the same shipped asset (`cascade/eval/assets/shapes_features.safetensors`, its sha256 in report.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cascade.data.shapes import ALL_COMBOS, COLOURS, MOTIONS, SHAPES

ASSET = Path(__file__).parent / "assets" / "shapes_features.safetensors"
INPUT = (16, 32, 32)  # frames, height, width the network sees


class ShapesFeatureNet(nn.Module):
    """(B, 3, F, H, W) in [-1, 1] -> 64-d features; three linear heads classify colour, shape and motion."""

    def __init__(self, width: int = 16, feature_dim: int = 64):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv3d(3, w, (1, 3, 3), padding=(0, 1, 1)), nn.GELU(),
            nn.Conv3d(w, w, (1, 3, 3), padding=(0, 1, 1)), nn.GELU(),  # shape detail at full resolution
            nn.Conv3d(w, 2 * w, 3, stride=2, padding=1), nn.GELU(),  # 8 x 16 x 16
            nn.Conv3d(2 * w, 4 * w, 3, stride=2, padding=1), nn.GELU(),  # 4 x 8 x 8
            nn.Conv3d(4 * w, feature_dim, 3, stride=2, padding=1), nn.GELU(),  # 2 x 4 x 4
        )
        self.heads = nn.ModuleDict({"colour": nn.Linear(feature_dim, len(COLOURS)),
                                    "shape": nn.Linear(feature_dim, len(SHAPES)),
                                    "motion": nn.Linear(feature_dim, len(MOTIONS))})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=INPUT, mode="trilinear", align_corners=False)  # any clip -> 16 x 32 x 32
        return self.body(x).mean(dim=(2, 3, 4))  # (B, feature_dim)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features(x)
        return {k: head(f) for k, head in self.heads.items()}


def _real_batch(rng: np.random.Generator, n: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    from cascade.data.shapes import render_clips
    from cascade.data.shapes_dataset import frames_to_tensor

    combos = [ALL_COMBOS[i] for i in rng.integers(len(ALL_COMBOS), size=n)]
    x = frames_to_tensor(render_clips(combos, frames=16, size=32, fps=8.0, rng=rng))  # (B, 3, F, H, W)
    labels = {"colour": torch.tensor([list(COLOURS).index(c[0]) for c in combos]),
              "shape": torch.tensor([SHAPES.index(c[1]) for c in combos]),
              "motion": torch.tensor([MOTIONS.index(c[2]) for c in combos])}
    return x, labels


def train_feature_net(steps: int = 900, batch: int = 32, seed: int = 0, out: Path | None = ASSET) -> dict:
    """Train the feature network on fresh real clips of all 72 combos; returns held-out accuracies."""
    from cascade.io_utils import atomic_path
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = ShapesFeatureNet()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3)
    for _ in range(steps):
        x, y = _real_batch(rng, batch)
        logits = net(x)
        loss = sum(F.cross_entropy(logits[k], y[k]) for k in logits)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    x, y = _real_batch(np.random.default_rng(seed + 1), 256)
    with torch.no_grad():
        logits = net(x)
    acc = {k: float((logits[k].argmax(-1) == y[k]).float().mean()) for k in logits}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp:
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp),
                      metadata={"accuracy": json.dumps(acc), "steps": str(steps), "batch": str(batch)})
    return acc


def load_feature_net(path: Path = ASSET) -> ShapesFeatureNet:
    from cascade.io_utils import load_safetensors

    net = ShapesFeatureNet()
    net.load_state_dict(load_safetensors(path))
    return net.eval()


@torch.no_grad()
def clip_features(net: ShapesFeatureNet, videos: torch.Tensor, batch: int = 64) -> np.ndarray:
    """(N, 3, F, H, W) in [-1, 1] -> (N, 64) float64 features."""
    return np.concatenate([net.features(videos[i:i + batch].float()).double().numpy()
                           for i in range(0, len(videos), batch)])

if __name__ == "__main__":  # python -m cascade.eval.suites.shapes.features: retrain the shipped asset
    print(train_feature_net())

"""Batch dataset items: stack tensors, keep captions and other strings as lists."""

from __future__ import annotations

import torch


def collate(items: list[dict]) -> dict:
    """{"video": (B, 3, F, H, W), "caption": [str] * B, ...}; a key some items lack gets None for them."""
    keys = list(dict.fromkeys(k for it in items for k in it))
    batch = {}
    for k in keys:
        values = [it.get(k) for it in items]
        if all(isinstance(v, torch.Tensor) for v in values):
            batch[k] = torch.stack(values)  # "video": (B, 3, F, H, W)
        elif all(isinstance(v, (int, bool)) for v in values):
            batch[k] = torch.tensor(values)
        else:
            batch[k] = values
    return batch

"""`alpha` wrapper (Video LDM): a learned blend of the spatial path and any temporal mixer."""

from __future__ import annotations

import torch
from torch import nn

from cascade.nn.mixers import build_mixer, register_mixer
from cascade.nn.mixers.base import TemporalMixer


@register_mixer("alpha")
class AlphaMixer(TemporalMixer):
    """Video LDM §3.1: out = a*x + (1-a)*inner(x), a = sigmoid(learned logit), one a per block.

    `init_logit` = 10 starts near the spatial path (a = 0.99995). `exact_init` makes a exactly 1 while the
    logit still holds its initial value (the forward value is 1, the gradient is the sigmoid's), so a freshly
    wrapped network reproduces its frozen image model bit for bit; once trained, a = sigmoid(logit).
    """

    def __init__(self, channels: int, inner: str = "attention", init_logit: float = 10.0,
                 exact_init: bool = False, **inner_kw):
        super().__init__()
        if inner == "alpha":
            raise ValueError("the alpha wrapper needs a temporal mixer to wrap, not another alpha")
        self.inner = build_mixer(inner, channels, **inner_kw)
        self.init_logit, self.exact_init = float(init_logit), exact_init
        self.logit = nn.Parameter(torch.tensor(self.init_logit))

    def alpha(self) -> torch.Tensor:
        a = torch.sigmoid(self.logit)
        if self.exact_init:  # value 1, gradient of sigmoid, until the optimiser first moves the logit
            a = torch.where(self.logit == self.init_logit, 1 + (a - a.detach()), a)
        return a

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha().to(x.dtype)
        return x + (1 - a) * (self.inner.mix(x) - x)  # == a*x + (1-a)*inner(x); exactly x when a == 1

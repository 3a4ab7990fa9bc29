"""Multi-class hinge (margin) loss (chapter 2.4).

The book's binary hinge loss, l = max(0, 1 - y y_hat) with y in {-1, 1}, asks
the score of the true class to clear a margin. This is its multi-class form by
Weston and Watkins, as ``torch.nn.MultiMarginLoss`` computes it: with logits z
in R^K, target class l, margin m and power p,

    l_hinge(z, l) = (1/K) sum_{k != l} max(0, m - z_l + z_k)^p.

Each wrong class whose score comes within m of the true class's score adds
to the loss; p = 2 gives the squared hinge. Classes are the last dimension.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

import dpzoo

from .common import LossConfig, batch_target, classes_last


class HingeConfig(LossConfig):
    margin: float = Field(1.0, gt=0.0, description="Margin m the true class's score must clear")
    p: Literal[1, 2] = Field(1, description="Power of each hinge term: 1 hinge, 2 squared hinge")


class Hinge(dpzoo.Loss):
    """Weston-Watkins multi-class hinge loss on logits and class indices in ``batch[target]``."""

    Config = HingeConfig

    def __call__(self, output: Tensor, batch) -> dpzoo.LossOutput:
        c = self.config
        z, y = classes_last(output, batch_target(batch, c.target, "loss 'hinge'"))
        return dpzoo.LossOutput(F.multi_margin_loss(z, y, p=c.p, margin=c.margin, reduction=c.reduction))

"""Bits per character: the cross-entropy of a character model in base 2 (chapter 12).

Over the N predicted characters of a split,

    bpc = -(1 / N) sum_t log2 q(x(t+1) | x(1..t)),   q = softmax(y(t)),

which is the mean cross-entropy in nats divided by ln 2. A split's value is a
sum over all its characters divided by their count (a dataset-level metric),
so batches of different sizes weigh exactly by their characters; targets equal
to ``ignore_index`` (padding) are not characters and count for nothing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

import dpzoo


class BitsConfig(dpzoo.Config):
    target: str = Field("y", description="Batch key that holds the next-character ids")
    ignore_index: int = Field(-100, description="Target value that is padding, not a character")


class BitsPerCharacter(dpzoo.Metric):
    """-log2 q(target) per character; ``compute()`` is their mean over everything ``update`` saw."""

    Config = BitsConfig
    higher_is_better = False

    def bits(self, output: Tensor, batch) -> Tensor:
        """-log2 q of each non-padding target, flattened."""
        y = batch[self.config.target].reshape(-1)
        z = output.reshape(len(y), -1).detach().to(torch.promote_types(output.dtype, torch.float32))
        keep = y != self.config.ignore_index
        return F.cross_entropy(z[keep], y[keep], reduction="none") / math.log(2)

    def __call__(self, output: Tensor, batch) -> Tensor:
        return self.bits(output, batch)

    def reset(self) -> None:
        self.total, self.count = None, 0

    def update(self, output: Tensor, batch) -> None:
        bits = self.bits(output, batch)
        total = bits.double().sum()  # float64: a million characters add up without rounding drift
        self.total = total if self.total is None else self.total + total
        self.count += bits.numel()

    def compute(self) -> float:
        if not self.count:
            raise dpzoo.ConfigError("bits_per_char saw no characters: the split is empty")
        return float(self.total) / self.count

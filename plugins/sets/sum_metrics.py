"""Scoring a set-to-number model such as DeepSets' digit sum (chapter 16).

For a prediction y^ of an integer target y (the sum of a set's digits):

    absolute error  |y^ - y|         (DeepSets trains on its mean, the L1 loss)
    exact           [round(y^) = y]  (the accuracy DeepSets reports)
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

import dpzoo


class SumConfig(dpzoo.Config):
    target: str = Field("y", description="Batch key of the target number")


def _target(output: Tensor, batch, key: str, who: str) -> Tensor:
    if key not in batch:
        raise dpzoo.ConfigError(
            f"{who} reads batch[{key!r}], but the batch has {sorted(batch)}: set its 'target' option"
        )
    return batch[key].reshape(output.shape).to(output.dtype)


class AbsoluteErrorLoss(dpzoo.Loss):
    """Mean |y^ - y| over the batch (the L1 loss)."""

    Config = SumConfig

    def __call__(self, output: Tensor, batch) -> dpzoo.LossOutput:
        return dpzoo.LossOutput((output - _target(output, batch, self.config.target, "loss 'mae'")).abs().mean())


class AbsoluteError(dpzoo.Metric):
    """|y^ - y| per example."""

    Config = SumConfig
    higher_is_better = False

    def __call__(self, output: Tensor, batch) -> Tensor:
        return (output.detach() - _target(output, batch, self.config.target, "metric 'mae'")).abs()


class RoundedAccuracy(dpzoo.Metric):
    """1. where round(y^) = y, else 0."""

    Config = SumConfig
    higher_is_better = True

    def __call__(self, output: Tensor, batch) -> Tensor:
        y = _target(output, batch, self.config.target, "metric 'rounded_accuracy'")
        return (torch.round(output.detach()) == y).float()

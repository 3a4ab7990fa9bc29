"""What every loss and metric in this package shares: the target key and its lookup."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

import dpzoo


class TargetConfig(dpzoo.Config):
    target: str = Field("y", description="Batch key that holds the target")


class LossConfig(TargetConfig):
    reduction: Literal["mean", "sum"] = Field("mean", description="How per-element losses become one number")


def batch_target(batch, key: str, who: str) -> Tensor:
    """``batch[key]``, or an error that says which keys the batch has and how to choose one."""
    try:
        return batch[key]
    except KeyError:
        keys = ", ".join(sorted(map(str, batch))) or "none"
        raise dpzoo.ConfigError(
            f"{who} reads its target from batch[{key!r}], but the batch has keys: {keys}. "
            f"Set the 'target' option of {who} to the key that holds it."
        ) from None


def like_output(target: Tensor, output: Tensor) -> Tensor:
    """The target as a float tensor shaped like the output ((N,) targets for (N, 1) outputs, say)."""
    if target.shape != output.shape and target.numel() == output.numel():
        target = target.reshape(output.shape)
    return target.to(output.dtype)


def classes_last(output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Logits ``(..., K)`` and class indices ``(...)`` flattened to ``(M, K)`` and ``(M,)``.

    Classes are the last dimension, so a sequence model's ``(N, T, K)`` logits
    with ``(N, T)`` targets count every position as one example.
    """
    if output.dim() != 2:  # (N, T, K) sequences; the common (N, K) case skips the views (they cost in backward)
        output, target = output.reshape(-1, output.shape[-1]), target.reshape(-1)
    return output, target if target.dtype == torch.long else target.long()

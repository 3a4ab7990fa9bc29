"""Chamfer and Hungarian set losses and metrics for models that predict sets (chapter 16).

A set-prediction model returns ``{"set": Y^ [B, N, d], "mask": m^ [B, N]}``
(the presence m^_i in [0, 1] of each of its N slots); the target is the
batch's ``x`` with its ``mask``. With ``presence`` on (the default) the sets
are compared as DSPN does, presence included as a feature (see
``matching``); off, only present elements are compared (m^_i > 1/2).

DSPN's outer objective (Zhang, Hare and Prugel-Bennett, 2019) averages the
set loss over the intermediate sets of its inner loop and adds its
representation loss at the last one:

    L = 1/T sum_{t=1..T} L_set(Y^(t), Y) + lambda L_repr(Y^(T))

so the loss reads the output's ``trajectory`` ([B, T, N, d], with
``trajectory_mask``) and ``representation_loss`` ([B]) when the model gives
them. Metrics score the final set only, one value per example.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field
from torch import Tensor

import dpzoo

from . import matching
from .masks import SetError


class SetTargetConfig(dpzoo.Config):
    target: str = Field("x", description="Batch key of the target set [B, M, d]")
    target_mask: str | None = Field(
        "mask", description="Batch key of the target's mask [B, M]; None: every element is present"
    )


class SetMetricConfig(SetTargetConfig):
    presence: bool = Field(
        True, description="Compare presence as a feature, target padded to the prediction's N slots (DSPN)"
    )


class SetLossConfig(SetMetricConfig):
    every_step: bool = Field(
        True, description="Average over every intermediate set of the model's trajectory, if it has one"
    )
    representation: float = Field(
        0.1,
        ge=0.0,
        description="Weight lambda of the model's representation_loss output, if it has one (DSPN); 0 ignores it",
    )


def prediction(output) -> tuple[Tensor, Tensor]:
    """(Y^, m^) from a model's output: a dict with ``set`` and ``mask``, or a bare [B, N, d] set (all present)."""
    if isinstance(output, Tensor):
        return output, torch.ones(output.shape[:2], dtype=output.dtype, device=output.device)
    try:
        return output["set"], output["mask"]
    except (KeyError, TypeError):
        raise SetError(
            "a set loss reads the model's output as {'set': [B, N, d], 'mask': [B, N]} or a [B, N, d] tensor, "
            f"got {type(output).__name__}{' with keys ' + str(sorted(output)) if isinstance(output, dict) else ''}"
        ) from None


class SetDistance:
    """Shared by the losses and metrics: one distance per example between a predicted set and the batch's."""

    name: ClassVar[str]
    presence_form: ClassVar
    masked_form: ClassVar

    def distance(self, pred: Tensor, presence: Tensor, batch) -> Tensor:
        c = self.config
        try:
            target = batch[c.target]
            target_mask = batch[c.target_mask] if c.target_mask is not None else None
        except KeyError as missing:
            raise dpzoo.ConfigError(
                f"{self.name} reads the target set from batch[{c.target!r}] and its mask from batch[{c.target_mask!r}], "
                f"but the batch has no {missing}; it has {sorted(batch)}. Set the 'target' / 'target_mask' options."
            ) from None
        target = target.to(pred.dtype)
        if c.presence:
            return type(self).presence_form(pred, presence, target, target_mask)
        return type(self).masked_form(pred, target, presence > 0.5, target_mask)


class SetLoss(SetDistance, dpzoo.Loss):
    Config = SetLossConfig

    def __call__(self, output, batch) -> dpzoo.LossOutput:
        pred, presence = prediction(output)
        if self.config.every_step and isinstance(output, dict) and "trajectory" in output:
            Y, m = output["trajectory"], output["trajectory_mask"]  # [B, T, N, d], [B, T, N]
            T = Y.shape[1]
            # every (example, step) pair as one example, each step against its example's target
            targets = {k: v.repeat_interleave(T, 0) for k, v in self._target(batch).items()}
            set_loss = self.distance(Y.flatten(0, 1), m.flatten(0, 1), targets).mean()
        else:
            set_loss = self.distance(pred, presence, batch).mean()
        terms = {"set": set_loss}
        total = set_loss
        if self.config.representation > 0 and isinstance(output, dict) and "representation_loss" in output:
            terms["representation"] = output["representation_loss"].mean()
            total = total + self.config.representation * terms["representation"]
        return dpzoo.LossOutput(total, terms if len(terms) > 1 else {})

    def _target(self, batch) -> dict[str, Tensor]:
        keys = [self.config.target] + ([self.config.target_mask] if self.config.target_mask else [])
        return {k: batch[k] for k in keys if k in batch}


class SetMetric(SetDistance, dpzoo.Metric):
    Config = SetMetricConfig
    higher_is_better = False

    def __call__(self, output, batch) -> Tensor:
        pred, presence = prediction(output)
        with torch.no_grad():
            return self.distance(pred.detach(), presence.detach(), batch)


class ChamferLoss(SetLoss):
    """L_C averaged over the batch (and over DSPN's intermediate sets)."""

    name = "loss 'chamfer'"
    presence_form = staticmethod(matching.chamfer_with_presence)
    masked_form = staticmethod(matching.chamfer)


class HungarianLoss(SetLoss):
    """L_H averaged over the batch (and over DSPN's intermediate sets); gradients through the matched pairs."""

    name = "loss 'hungarian'"
    presence_form = staticmethod(matching.hungarian_with_presence)
    masked_form = staticmethod(matching.hungarian)


class ChamferMetric(SetMetric):
    """L_C of each example's final predicted set."""

    name = "metric 'chamfer'"
    presence_form = staticmethod(matching.chamfer_with_presence)
    masked_form = staticmethod(matching.chamfer)


class HungarianMetric(SetMetric):
    """L_H of each example's final predicted set."""

    name = "metric 'hungarian'"
    presence_form = staticmethod(matching.hungarian_with_presence)
    masked_form = staticmethod(matching.hungarian)


class SetSizeError(dpzoo.Metric):
    """|#{i : m^_i > 1/2} - n|: how many elements the final set has too many or too few, per example.

    A distance can hide a wrong count: Chamfer asks only that every target
    element have a predicted one near it and the reverse, so a prediction
    with fewer than half of a digit's points, all on its strokes, scores
    well. This metric reads the count off the presence.
    """

    Config = SetTargetConfig  # without a mask, every one of the target's M elements counts
    higher_is_better = False

    def __call__(self, output, batch) -> Tensor:
        _, presence = prediction(output)
        c = self.config
        key = c.target_mask if c.target_mask is not None else c.target
        if key not in batch:
            raise dpzoo.ConfigError(
                f"metric 'set_size_error' counts the target's elements from batch[{key!r}], but the batch has no "
                f"{key!r}; it has {sorted(batch)}. Set the 'target_mask' option (or 'target' with target_mask=None)."
            )
        column = batch[key]
        n = (column > 0).sum(1) if c.target_mask is not None else torch.full((len(column),), column.shape[1])
        return ((presence.detach() > 0.5).sum(1) - n.to(presence.device)).abs().to(presence.dtype)

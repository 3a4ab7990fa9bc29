"""Evaluation over a whole split: mean loss, loss terms and metrics.

A per-example metric (``metric(output, batch)`` -> one value per example) is
averaged over the split. A dataset-level metric (one that defines
``reset()``, ``update(output, batch)`` and ``compute()``) accumulates its own
state over every batch and is computed once at the end, for scores that are
not means of per-example values (a Frechet distance, bits per character
weighted by tokens).

Runs under ``torch.no_grad()``, not ``inference_mode``, so that a model may
turn gradients back on inside (an inner optimisation loop, say). Values are
summed on the device and read with one synchronisation at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..interfaces import LossOutput
from .data import InMemorySplits
from .sequences import set_aside


def accumulates(metric: Any) -> bool:
    """Whether ``metric`` is dataset-level: it keeps state through ``reset``/``update``/``compute``."""
    return all(callable(getattr(metric, method, None)) for method in ("reset", "update", "compute"))


def direction(monitor: str, metrics: dict[str, Any]) -> str:
    """``"max"`` when ``monitor`` ("validation/accuracy") names a metric with ``higher_is_better``, else ``"min"``."""
    metric = metrics.get(monitor.rpartition("/")[2])
    return "max" if metric is not None and getattr(metric, "higher_is_better", False) else "min"


def evaluation_values(model: nn.Module, batch, loss=None, metrics=None, ctx=None) -> dict[str, Tensor]:
    """Per-batch values: the model's own ``evaluation_step`` if it has one, else loss and metrics.

    Dataset-level metrics are updated here and left out of the returned values.
    """
    evaluation_step = getattr(model, "evaluation_step", None)
    if callable(evaluation_step):
        return evaluation_step(batch, ctx)
    output = model(batch)
    values: dict[str, Tensor] = {}
    if loss is not None:
        result = LossOutput.of(loss(output, batch))
        values["loss"] = result.total
        values.update(result.terms)
    for name, metric in (metrics or {}).items():
        if accumulates(metric):
            metric.update(output, batch)
        else:
            values[name] = metric(output, batch)
    return values


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: InMemorySplits,
    split: str,
    *,
    loss: Callable | None = None,
    metrics: dict[str, Callable] | None = None,
    batch_size: int = 1024,
    ctx: Any = None,
    autocast: Callable[[], Any] = contextlib.nullcontext,
) -> dict[str, float]:
    """``{"split/name": mean}`` over every example of ``split``.

    A per-example tensor counts each element once; a scalar counts as the mean
    of its batch and is weighted by the batch's size.
    """
    was_training = model.training
    model.eval()
    sums: dict[str, Tensor] = {}
    counts: dict[str, int] = {}
    whole: dict[str, Any] = {
        name: m for name, m in (metrics or {}).items() if accumulates(m)
    }  # with update, reset, compute
    for metric in whole.values():
        metric.reset()
    try:
        with set_aside(model, data):  # a model's carried state: each split starts from none
            for batch in data.batches(split, batch_size):
                n = len(next(iter(batch.values())))
                with autocast():
                    values = evaluation_values(model, batch, loss, metrics, ctx)
                for name, value in values.items():
                    value = value.detach().float()
                    total, count = (value * n, n) if value.dim() == 0 else (value.sum(), value.numel())
                    sums[name] = sums[name] + total if name in sums else total
                    counts[name] = counts.get(name, 0) + count
    finally:
        model.train(was_training)
    means = torch.stack([sums[k] / counts[k] for k in sums]).tolist() if sums else []  # the one sync
    out = {f"{split}/{k}": v for k, v in zip(sums, means)}
    if not callable(getattr(model, "evaluation_step", None)):
        out.update({f"{split}/{name}": float(metric.compute()) for name, metric in whole.items()})
    return out

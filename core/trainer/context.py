"""The step context: what a model's ``training_step`` and ``log_media`` see."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .loop import Trainer


class StepContext:
    """Handed to ``model.training_step(batch, ctx)`` in manual mode.

    ``ctx.optimise(name, loss)`` does everything the trainer does for one
    optimiser in automatic mode: backward (scaled under fp16), accumulation,
    gradient clipping, the optimiser step and its per-step schedule.
    ``ctx.log(name, value)`` adds a training scalar, averaged between logs.
    """

    def __init__(self, trainer: Trainer):
        self._trainer = trainer

    # -- read-only views -------------------------------------------------------
    @property
    def step(self) -> int:
        return self._trainer.step

    @property
    def epoch(self) -> int:
        return self._trainer.epoch

    @property
    def device(self) -> torch.device:
        return self._trainer.device

    @property
    def logger(self):
        """The run's TensorBoard logger (``add_image``, ``add_text``, ...), or ``None``."""
        return self._trainer.logger

    @property
    def temperature(self) -> float | None:
        return self._trainer.temperature

    @property
    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return self._trainer.optimisers

    # -- actions -----------------------------------------------------------------
    def optimise(self, name: str, loss: Tensor) -> None:
        self._trainer._optimise(name, loss)

    def log(self, name: str, value: Tensor | float) -> None:
        self._trainer._remember_terms({name: value})

    def predict(self, split: str, target: str = "y") -> tuple[Any, Tensor]:
        """Model outputs and targets over a whole split, in order (for confusion matrices and the like)."""
        return self._trainer.predict(split, target)

    def batches(self, split: str):
        return self._trainer.data.batches(split, self._trainer.config.eval_batch_size)

"""The step context: what a model's ``training_step``, ``evaluation_step`` and ``log_media`` see."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from ..interfaces import LossOutput
    from .loop import Trainer


class StepContext:
    """Handed to ``model.training_step(batch, ctx)`` in manual mode, and to ``log_media(ctx)``.

    ``ctx.optimise(name, loss)`` does everything the trainer does for one
    optimiser in automatic mode: backward (scaled under fp16) into that
    optimiser's parameters only, accumulation, gradient clipping, the
    optimiser step and its learning-rate schedule. ``ctx.log(name, value)``
    adds a training scalar, averaged between logs. ``ctx.schedule(name)`` reads
    a named schedule; ``ctx.log_image`` and ``ctx.log_text`` write media at
    the current step. Every action goes through the trainer's public methods.
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
    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return self._trainer.optimisers

    @property
    def optimiser_steps(self) -> dict[str, int]:
        """How many times each optimiser has stepped (a GAN's critic steps more often than its generator)."""
        return dict(self._trainer.optimiser_steps)

    def schedule(self, name: str) -> float:
        """The current value of the named schedule (``trainer.schedules.<name>`` or the model's default)."""
        return self._trainer.schedule(name)

    @property
    def temperature(self) -> float | None:
        """The schedule named ``temperature``, or ``None`` when the run has none."""
        return self._trainer.schedule_values.get("temperature")

    def autocast(self):
        """The run's autocast context (``trainer.precision``) for forward passes in ``training_step``."""
        return self._trainer.autocast()

    # -- actions -----------------------------------------------------------------
    def optimise(self, name: str, loss: Tensor | LossOutput) -> None:
        """Backward ``loss`` into optimiser ``name``'s parameters and step it (at the end of an accumulation window).

        A ``LossOutput``'s terms are logged as training scalars.
        """
        self._trainer.optimise(name, loss)

    def log(self, name: str, value: Tensor | float) -> None:
        """A training scalar ``train/<name>``, averaged between logs."""
        self._trainer.log_values({name: value})

    def log_image(self, tag: str, image: Tensor) -> None:
        """An image [C, H, W] (or [H, W]) with values in [0, 1] at the current step; nothing without a run directory.

        8-bit pixels (uint8) are divided by 255; float values outside [0, 1] are clamped, with a warning
        once per tag; another shape or type is a ``ValueError`` that says what to pass.
        """
        self._trainer.log_image(tag, image)

    def log_text(self, tag: str, text: str) -> None:
        """Markdown text at the current step; nothing without a run directory."""
        self._trainer.log_text(tag, text)

    def predict(self, split: str, target: str | None = "y") -> tuple[Any, Tensor | None]:
        """Model outputs and targets over a whole split, in order; dict outputs are joined key by key.

        ``targets`` is ``None`` when the split has no ``target`` column.
        """
        return self._trainer.predict(split, target)

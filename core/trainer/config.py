"""The trainer's options: every field documented, defaults that train in seconds."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..config import Config
from .schedules import Schedule


class EarlyStopping(Config):
    monitor: str = Field("validation/loss", description="Evaluation value to watch, e.g. 'validation/accuracy'")
    mode: Literal["min", "max"] | None = Field(
        None,
        description="Whether smaller or larger is better (default: the monitored metric's higher_is_better, else min)",
    )
    patience: int = Field(5, ge=1, description="Evaluations without improvement before stopping")
    min_delta: float = Field(0.0, ge=0.0, description="Smallest change that counts as an improvement")


_OLD_TEMPERATURE = {"start": 1.0, "end": 0.1, "schedule": "exponential"}


def _migrate_temperature(values: Any) -> Any:
    """``trainer.temperature`` (round 1) becomes the schedule named ``temperature``, with the same curve."""
    if not isinstance(values, dict) or "temperature" not in values:
        return values
    values = dict(values)
    old = values.pop("temperature")
    if old is None:
        return values
    if not isinstance(old, dict) or set(old) - set(_OLD_TEMPERATURE):
        raise ValueError(
            "trainer.temperature is now the schedule named 'temperature': "
            "use --set trainer.schedules.temperature.kind=exponential --set trainer.schedules.temperature.start=1 "
            "--set trainer.schedules.temperature.end=0.1"
        )
    merged = {**_OLD_TEMPERATURE, **old}
    schedules = dict(values.get("schedules") or {})
    schedules.setdefault("temperature", {"kind": merged["schedule"], "start": merged["start"], "end": merged["end"]})
    values["schedules"] = schedules
    return values


class TrainConfig(Config):
    epochs: int = Field(10, ge=0, description="Passes over the training split")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimiser steps (overrides epochs)")
    batch_size: int = Field(64, ge=1, description="Training examples per step (before accumulation)")
    eval_batch_size: int = Field(1024, ge=1, description="Examples per evaluation batch")
    drop_last: bool = Field(False, description="Drop the last, smaller training batch of each epoch")
    device: str = Field("auto", description="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    seed: int = Field(0, description="Seed for initialisation, shuffling and dropout")
    threads: int | None = Field(
        1,
        ge=1,
        description="CPU threads for PyTorch (null: PyTorch's, one per core); CPU results repeat bit for bit per count",
    )
    grad_clip: float | None = Field(None, gt=0, description="Clip the gradient norm of each optimiser's parameters")
    accumulate: int = Field(1, ge=1, description="Batches whose gradients add up before each optimiser step")
    precision: Literal["32", "bf16", "fp16"] = Field(
        "32", description="Autocast precision (fp16 uses a gradient scaler)"
    )
    log_every: int | None = Field(
        None,
        ge=1,
        description="Steps between logged training scalars, the only device syncs (default: total steps / 25, from 1 to 50)",
    )
    validate_every: int = Field(
        1, ge=0, description="Epochs between validations (0: none during training; the end of a run always validates)"
    )
    test: bool = Field(True, description="Evaluate on the test split at the end")
    early_stopping: EarlyStopping | None = Field(None, description="Stop when a monitored value stops improving")
    checkpoint_seconds: float | None = Field(
        60.0, gt=0, description="Seconds of training between checkpoints (None: none by time); always one at the end"
    )
    checkpoint_every: int | None = Field(None, ge=1, description="Steps between checkpoints, besides those by time")
    checkpoint_epochs: int = Field(0, ge=0, description="Epochs between end-of-epoch checkpoints (0: none by epoch)")
    keep_checkpoints: int = Field(2, ge=1, description="How many recent checkpoints to keep")
    schedules: dict[str, Schedule] = Field(
        {}, description="Named scalars annealed over training (model attribute, ctx.schedule(name), train/<name>)"
    )
    media_every: int = Field(1, ge=0, description="Epochs between calls of the model's log_media (0: only at the end)")
    media_seconds: float | None = Field(
        10.0,
        ge=0,
        description="Wall-clock seconds at least between two log_media calls at epoch ends (and from the start), and "
        "at least 19 times the last call's own time, so epoch-end media take at most 5% of training (None or 0: "
        "neither limit); always one at the end",
    )
    progress: bool | None = Field(
        None, description="Show a progress bar (default: on a terminal; elsewhere one line per epoch; false: neither)"
    )
    deterministic: bool = Field(False, description="Ask PyTorch for deterministic algorithms")
    on_nonfinite: Literal["stop", "skip", "ignore"] = Field(
        "stop", description="On a NaN or infinite loss: stop (nothing saved from it), skip the step, or ignore it"
    )

    @model_validator(mode="before")
    @classmethod
    def _temperature(cls, values: Any) -> Any:
        return _migrate_temperature(values)

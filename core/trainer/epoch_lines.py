"""One line per epoch on stderr when there is no progress bar (CI, ``nohup``, a notebook's log).

A progress bar redraws itself on a terminal; written to a file it is noise, so
the trainer shows none there (``trainer.progress`` unset). Without this the
log would then stay silent until the run ends. Instead each epoch ends with a
line such as::

    epoch 3/5  step 69/115  train/loss 0.2114  validation/loss 0.1987  validation/accuracy 0.9444  12.3s

The training values are the ones last logged (no extra device sync): when
that was before the epoch's last step (an epoch shorter than ``log_every``)
the line says at which step, so an old value is not read as the epoch's; the
validation values are the epoch's evaluation, when it had one.
``trainer.progress=false`` silences both the bar and these lines.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def wanted(progress: bool | None, stream: TextIO) -> bool:
    """Lines instead of a bar: the progress option is unset and ``stream`` is not a terminal."""
    isatty = getattr(stream, "isatty", None)
    return progress is None and not (callable(isatty) and isatty())


def format_value(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e4 or (value != 0 and abs(value) < 1e-3) else f"{value:.4f}"


class EpochLines:
    """Writes the per-epoch line to ``stream`` (stderr: stdout stays for results)."""

    def __init__(self, total_steps: int, epochs: int | None, stream: TextIO | None = None):
        self.total_steps, self.epochs = total_steps, epochs
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.perf_counter()

    def line(
        self, epoch: int, step: int, train: dict[str, float], evaluated: dict[str, float], train_step: int | None = None
    ) -> str:
        epochs = f"/{self.epochs}" if self.epochs else ""
        parts = [f"epoch {epoch}{epochs}", f"step {step}/{self.total_steps}"]
        shown = {k: v for k, v in train.items() if not k.startswith("train/lr")}  # the lr is the schedule's
        parts += [f"{key} {format_value(value)}" for key, value in shown.items()]
        if shown and train_step is not None and train_step != step:
            parts.append(f"(train logged at step {train_step})")
        parts += [f"{key} {format_value(value)}" for key, value in evaluated.items()]
        parts.append(f"{time.perf_counter() - self.started:.1f}s")
        return "  ".join(parts)

    def epoch(
        self, epoch: int, step: int, train: dict[str, float], evaluated: dict[str, float], train_step: int | None = None
    ) -> None:
        print(self.line(epoch, step, train, evaluated, train_step), file=self.stream, flush=True)

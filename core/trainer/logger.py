"""TensorBoard logging for one run.

Training scalars are logged every ``log_every`` steps, evaluation values once
per evaluation, and the run's hyperparameters with its real final metrics at
the end (TensorBoard's HParams tab). Models may log media through the same
object: it forwards ``add_image``, ``add_text`` and the rest to the
``SummaryWriter``.

Every write runs on a background thread (``background.Background``), in the
order it was logged: building TensorBoard's protobufs and the event file's
records costs the training thread nothing but a queue put. Tensors handed to
``add_*`` are copied to the CPU first, so the model may change them at once.
TensorBoard itself is imported on that thread too, off the path to the first
training step. ``close`` waits for every write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .background import Background


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"hidden": [64]}}`` -> ``{"model.hidden": "[64]"}`` with TensorBoard-safe values."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = json.dumps(value)
    return out


def _snapshot(value: Any) -> Any:
    """A value the caller may change right after logging it: tensors are copied to the CPU."""
    if hasattr(value, "detach") and hasattr(value, "clone"):  # a torch.Tensor, without importing torch here
        return value.detach().to("cpu", copy=True)
    if hasattr(value, "copy") and hasattr(value, "dtype"):  # a numpy array
        return value.copy()
    return value


class RunLogger:
    """A ``SummaryWriter`` for ``run_dir`` plus dpzoo's conventions, written from a background thread."""

    def __init__(self, run_dir: str | Path, purge_step: int | None = None):
        self.run_dir = Path(run_dir)
        self._writer = None
        self._background = Background("tensorboard")
        self._background.submit(self._open, purge_step)

    def _open(self, purge_step: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(str(self.run_dir), purge_step=purge_step)

    @property
    def writer(self):
        """The ``SummaryWriter``, once every write logged before has reached it."""
        self._background.wait()
        return self._writer

    def submit(self, fn, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(writer, *args, **kwargs)`` on the writing thread, after every earlier write."""
        self._background.submit(lambda: fn(self._writer, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:  # add_image, add_text, add_histogram, ...
        if name.startswith("_"):
            raise AttributeError(name)
        if not name.startswith("add_"):
            return getattr(self.writer, name)

        def add(*args: Any, **kwargs: Any) -> None:
            args = tuple(_snapshot(a) for a in args)
            kwargs = {k: _snapshot(v) for k, v in kwargs.items()}
            self.submit(lambda writer: getattr(writer, name)(*args, **kwargs))

        return add

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Plain floats (already read from the device), written in order on the writing thread."""
        self.submit(_add_scalars, dict(values), step)

    def hparams(self, config: dict[str, Any], metrics: dict[str, float], step: int) -> None:
        """Record the run's settings beside its final metrics (HParams dashboard).

        The metrics must also be logged as scalars under the same tags (the trainer does).
        """
        self.submit(_add_hparams, flatten(config), dict(metrics), step)

    def flush(self) -> None:
        """Wait for every write so far and push the event file to disk."""
        self.writer.flush()

    def close(self, raise_errors: bool = True) -> None:
        """Finish every write and close the event file (``raise_errors=False`` while another error unwinds)."""
        self._background.submit(lambda: self._writer.close())
        self._background.close(raise_errors)


def _add_scalars(writer, values: dict[str, float], step: int) -> None:
    for tag, value in values.items():
        writer.add_scalar(tag, value, step)


def _add_hparams(writer, flat: dict[str, Any], metrics: dict[str, float], step: int) -> None:
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    experiment, start, end = hparams_summary(flat, metrics)
    for summary in (experiment, start, end):
        writer.file_writer.add_summary(summary, step)

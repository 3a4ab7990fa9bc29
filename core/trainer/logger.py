"""TensorBoard logging for one run.

Training scalars are logged every ``log_every`` steps, evaluation values once
per evaluation, and the run's hyperparameters with its real final metrics at
the end (TensorBoard's HParams tab). Models may log media through the same
object: it forwards ``add_image``, ``add_text`` and the rest to the
``SummaryWriter``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summary


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


class RunLogger:
    """A ``SummaryWriter`` for ``run_dir`` plus dpzoo's conventions."""

    def __init__(self, run_dir: str | Path, purge_step: int | None = None):
        self.run_dir = Path(run_dir)
        self.writer = SummaryWriter(str(self.run_dir), purge_step=purge_step)

    def __getattr__(self, name: str) -> Any:  # add_image, add_text, add_histogram, ...
        return getattr(self.writer, name)

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def hparams(self, config: dict[str, Any], metrics: dict[str, float], step: int) -> None:
        """Record the run's settings beside its final metrics (HParams dashboard).

        The metrics must also be logged as scalars under the same tags (the trainer does).
        """
        experiment, start, end = hparams_summary(flatten(config), metrics)
        for summary in (experiment, start, end):
            self.writer._get_file_writer().add_summary(summary, step)  # the writer's, reopened if it was closed

    def close(self) -> None:
        self.writer.close()

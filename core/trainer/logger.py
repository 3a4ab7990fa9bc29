"""TensorBoard logging for one run.

Training scalars are logged every ``log_every`` steps (by default about fifty
times per run, see ``default_log_every``), evaluation values once per
evaluation, and the run's hyperparameters with its real final metrics at the
end (TensorBoard's HParams tab). The HParams columns are the settings people
compare between runs (``hparam_columns``), not every resolved option. A
custom-scalars layout puts training and validation loss on one chart. Models
may log media through the same object: it forwards ``add_image``,
``add_figure`` (matplotlib, see ``dpzoo.figures``), ``add_text`` and the rest
to the ``SummaryWriter``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summary

POINTS = 25  # training points a run's curves get at least, by default
MOST_STEPS_BETWEEN_LOGS = 50  # a long run logs at least this often
# trainer options worth a column: the rest (threads, device, progress, ...) do not change what is learnt
OPTIMISER_COLUMNS = ("name", "lr", "weight_decay", "momentum")  # those an optimiser has; the rest are its internals
TRAINER_COLUMNS = ("epochs", "max_steps", "batch_size", "seed", "accumulate", "precision")


def default_log_every(total_steps: int) -> int:
    """Steps between logged training scalars when ``trainer.log_every`` is unset.

    ``POINTS`` to ``2 * POINTS`` points per run, so a 5-epoch digits run (100
    steps) logs every 4 steps and draws a curve rather than two dots; at most
    ``MOST_STEPS_BETWEEN_LOGS`` apart on long runs, which get more points.
    Each log is one device sync, so only a run shorter than ``2 * POINTS``
    steps syncs at every step.
    """
    return max(1, min(MOST_STEPS_BETWEEN_LOGS, total_steps // POINTS))


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


def hparam_columns(config: dict[str, Any]) -> dict[str, Any]:
    """The resolved run config reduced to the HParams columns people compare.

    Every model option (the model's own hyperparameters); the dataset, loss,
    optimiser and scheduler by name; each optimiser's learning rate, weight
    decay and momentum; the budget, batch size, accumulation, precision and
    seed. Left out: the data's and loss's options (``data.normalise``,
    ``loss.ignore_index``), which rarely differ between runs and pushed the
    metric columns off-screen, the trainer's plumbing (threads, device,
    logging), and unset options.
    """
    picked: dict[str, Any] = {f"model.{k}": v for k, v in (config.get("model") or {}).items()}
    for section in ("data", "loss", "scheduler"):
        if config.get(section):
            picked[f"{section}.name"] = config[section].get("name")
    optimisers = config.get("optimisers") or {}
    for group, options in ({"": config.get("optimiser") or {}} if not optimisers else optimisers).items():
        prefix = f"optimisers.{group}" if group else "optimiser"
        picked.update({f"{prefix}.{k}": options.get(k) for k in OPTIMISER_COLUMNS})
    trainer = config.get("trainer") or {}
    picked.update({f"trainer.{k}": trainer.get(k) for k in TRAINER_COLUMNS})
    # torch's hparams() takes a bool for the number 0 or 1 (bool is an int): write it as text
    flat = flatten({k: v for k, v in picked.items() if v is not None})
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in flat.items()}


def metric_order(metrics: dict[str, float]) -> dict[str, float]:
    """Validation before test, each split's metrics before its loss terms: the order of the HParams columns."""
    def rank(key: str) -> tuple:
        split, _, name = key.partition("/")
        return ({"validation": 0, "test": 1}.get(split, 2), "loss" in name, key)

    return {key: metrics[key] for key in sorted(metrics, key=rank)}


def layout(metric_names: list[str]) -> dict[str, dict[str, list]]:
    """Custom-scalars charts: training and validation loss together, each metric's validation and test."""
    charts = {"loss": {"training and validation loss": ["Multiline", [r"^train/loss$", r"^validation/loss$"]]}}
    if metric_names:
        charts["metrics"] = {
            f"{name}: validation and test": ["Multiline", [rf"^validation/{name}$", rf"^test/{name}$"]]
            for name in metric_names
        }
    return charts


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

    def layout(self, metric_names: list[str]) -> None:
        """The custom-scalars layout (see ``layout``); once per writer."""
        self.writer.add_custom_scalars(layout(metric_names))

    def hparams(self, config: dict[str, Any], metrics: dict[str, float], step: int) -> None:
        """Record the run's compared settings beside its final metrics (HParams dashboard).

        The metrics must also be logged as scalars under the same tags (the trainer does).
        """
        experiment, start, end = hparams_summary(hparam_columns(config), metric_order(metrics))
        for summary in (experiment, start, end):
            self.writer._get_file_writer().add_summary(summary, step)  # the writer's, reopened if it was closed

    def close(self) -> None:
        self.writer.close()

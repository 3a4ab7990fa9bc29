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

Every write runs on a background thread (``background.Background``), in the
order it was logged: the training thread only puts a job on a queue, though the
writer's Python work (TensorBoard's protobufs, the event records' checksums)
still competes with it for the interpreter lock. So scalars are handed over in
bunches, at most once a second (see ``RunLogger.scalars``), and each step's
scalars make one event, not one per tag (``_add_scalars``). Tensors handed to
``add_*`` are copied to the CPU first, so the model may change them at once.
TensorBoard itself is imported on that thread too, off the path to the first
training step. ``close`` waits for every write.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from .background import Background

HAND_OVER_SECONDS = 1.0  # scalars wait on the training thread at most this long before the writer gets them
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
        self._writer: Any = None  # the SummaryWriter, opened on the writing thread
        self._background = Background("tensorboard")
        self._held: list[tuple[dict[str, float], int]] = []  # scalars not yet handed to the writing thread
        self._hand_over_at = -math.inf  # time.monotonic() from which held scalars go at the next log
        self._background.submit(self._open, purge_step)

    def _open(self, purge_step: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(str(self.run_dir), purge_step=purge_step)

    @property
    def writer(self):
        """The ``SummaryWriter``, once every write logged before has reached it."""
        self._hand_over()
        self._background.wait()
        return self._writer

    def submit(self, fn, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(writer, *args, **kwargs)`` on the writing thread, after every earlier write."""
        self._hand_over()
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

    def after_writes(self, fn, *args: Any) -> None:
        """Run ``fn(*args)`` on the writing thread, after every write logged before (``summary.json``)."""
        self._hand_over()
        self._background.submit(fn, *args)

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Plain floats (already read from the device), written in order on the writing thread.

        They are handed over in bunches, at most every ``HAND_OVER_SECONDS``
        (and before anything else is logged, and when the run ends): each
        hand-over wakes the writing thread, whose Python work then competes with
        the training loop for the interpreter lock. Logged after every 40 steps
        and every 20-step epoch, that cost a small model about 4% of its time.
        """
        self._held.append((dict(values), step))
        if time.monotonic() >= self._hand_over_at:
            self._hand_over()

    def layout(self, metric_names: list[str]) -> None:
        """The custom-scalars layout (see ``layout``); once per writer."""
        self.submit(lambda writer: writer.add_custom_scalars(layout(metric_names)))

    def hparams(self, config: dict[str, Any], metrics: dict[str, float], step: int) -> None:
        """Record the run's compared settings beside its final metrics (HParams dashboard).

        The metrics must also be logged as scalars under the same tags (the trainer does).
        """
        self.submit(_add_hparams, hparam_columns(config), metric_order(metrics), step)

    def flush(self) -> None:
        """Wait for every write so far and push the event file to disk."""
        self.writer.flush()

    def _hand_over(self) -> None:
        """Give the held scalars to the writing thread (one job), in the order they were logged."""
        if self._held:
            held, self._held = self._held, []
            self._background.submit(_add_held_scalars, self, held)
        self._hand_over_at = time.monotonic() + HAND_OVER_SECONDS

    def close(self, raise_errors: bool = True) -> None:
        """Finish every write and close the event file (``raise_errors=False`` while another error unwinds)."""
        held, self._held = self._held, []

        def finish() -> None:
            _add_held_scalars(self, held)
            self._writer.close()

        self._background.submit(finish)
        self._background.close(raise_errors)


def _add_held_scalars(logger: RunLogger, held: list[tuple[dict[str, float], int]]) -> None:
    for values, step in held:
        _add_scalars(logger._writer, values, step)


def _add_scalars(writer, values: dict[str, float], step: int) -> None:
    """One event for the step holding every tag's value, as TensorBoard's own writers may.

    ``add_scalar`` would write one event per tag, and each event's record is
    checksummed in pure Python (TensorBoard's CRC-32C without TensorFlow): one
    event of three values costs a third of the CPU of three (65 against 185 us
    per log, issue 16), work that competes with training for the interpreter lock.
    """
    if not values:  # nothing to say: no empty event
        return
    from tensorboard.compat.proto.summary_pb2 import Summary

    summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()])
    writer._get_file_writer().add_summary(summary, step)


def _add_hparams(writer, flat: dict[str, Any], metrics: dict[str, float], step: int) -> None:
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    experiment, start, end = hparams_summary(flat, metrics)
    for summary in (experiment, start, end):
        writer._get_file_writer().add_summary(summary, step)  # the writer's, reopened if it was closed

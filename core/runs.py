"""``dpzoo runs``: every run under a logdir, its progress, its state and its latest metrics.

Read from what a run folder already holds, never from its event files:

* ``config.json``: the model and the data (written when the run starts);
* ``summary.json``: step reached, total steps, newest evaluated values
  (rewritten by the trainer at its start, after evaluations, at most every
  5 s, and at its end);
* ``checkpoints/``: the step a resume would continue from;
* ``metrics.json``: the final metrics of a finished run;
* ``.lock``: held (``flock``) by the process training the run.

A run's status is one of

* ``running``: a live process holds its lock (the kernel drops the lock when
  the process dies, even by ``kill -9``, so a dead process never looks alive);
* ``finished``: it wrote ``metrics.json`` and ``model.safetensors``;
* ``interrupted``: stopped before the end (a signal, a crash, a full disk)
  and resumable with ``dpzoo train --resume``: a checkpoint verifies (its
  sha256 matches), or it never completed one and trains again from step 0;
* ``broken``: it cannot be resumed as it is: no checkpoint verifies, or its
  ``config.json`` or ``metrics.json`` does not parse. ``reason`` says which.

The lock is tested by taking a shared lock for an instant (``LOCK_SH |
LOCK_NB``) and dropping it; a ``--resume`` of that very run started in that
instant would be told the run is in use, and can be run again.
"""

from __future__ import annotations

import errno
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, IntegrityError
from .files import read_json_object
from .rundir import LOCK
from .trainer.summary import read_summary

STATUSES = ("running", "finished", "interrupted", "broken")


@dataclass
class RunRow:
    name: str
    path: str
    model: str | None
    data: str | None
    step: int | None
    total_steps: int | None
    status: str
    reason: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    modified: float = 0.0

    def as_json(self, now: float) -> dict[str, Any]:
        return {**asdict(self), "age_seconds": round(max(0.0, now - self.modified), 1)}


def lock_held(run_dir: Path) -> bool:
    """Whether a live process holds the run's lock (an exclusive ``flock`` on ``RUN/.lock``)."""
    import fcntl

    try:
        fd = os.open(run_dir / LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)  # drops the shared lock, if taken
    return False


def resumable_step(run_dir: Path) -> tuple[int | None, str]:
    """(step a resume would continue from, "") or (None, why no checkpoint verifies).

    ``(0, ...)`` for a run that never completed a checkpoint: it trains again from step 0.
    """
    from .trainer.recovery import candidates, parse_record, verify

    found = candidates(run_dir / "checkpoints")
    if not found:
        return 0, "no checkpoint yet: a resume trains it from step 0"
    problems = []
    for path in found:
        try:
            record = parse_record(path)
            verify(run_dir / "checkpoints", record)
        except (IntegrityError, OSError) as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        return record["step"], ""
    return None, "no checkpoint verifies (" + "; ".join(problems) + ")"


def _evaluated(values: dict[str, Any]) -> dict[str, float | None]:
    """The ``validation/...`` and ``test/...`` values of a metrics or summary record."""
    out: dict[str, float | None] = {}
    for key, value in values.items():
        if key.startswith(("validation/", "test/")):
            out[key] = float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
    return out


def _modified(run_dir: Path) -> float:
    """When the run last wrote one of the files its state is read from."""
    names = ("summary.json", "metrics.json", "config.json", "checkpoints/last.json")
    times = [p.stat().st_mtime for p in (run_dir / n for n in names) if p.exists()]
    return max(times, default=run_dir.stat().st_mtime)


def describe(run_dir: Path) -> RunRow:
    """One run's row: see the module docstring for how each status is decided."""
    config = read_json_object(run_dir / "config.json")
    summary = read_summary(run_dir) or {}
    row = RunRow(
        name=run_dir.name,
        path=str(run_dir),
        model=((config or {}).get("model") or {}).get("name"),
        data=((config or {}).get("data") or {}).get("name"),
        step=summary.get("step"),
        total_steps=summary.get("total_steps"),
        status="",
        reason="",
        metrics=_evaluated(summary.get("latest") or {}),
        modified=_modified(run_dir),
    )
    if lock_held(run_dir):
        row.status, row.reason = "running", "a live process holds the run's lock"
        return row
    if config is None:
        row.status = "broken"
        row.reason = "config.json is missing or unreadable: train it again under the same name to start afresh"
        return row
    # a finished run resumed for more epochs and stopped again keeps its old metrics.json: its summary says so
    extended = summary.get("finished") is False
    if (run_dir / "metrics.json").exists() and not extended:
        final = read_json_object(run_dir / "metrics.json")
        if final is None or not (run_dir / "model.safetensors").is_file():
            row.status, row.reason = "broken", "metrics.json is unreadable or model.safetensors is missing"
            return row
        row.status, row.step = "finished", final.get("step", row.step)
        row.total_steps = row.total_steps if row.total_steps is not None else row.step  # a run from before summaries
        row.metrics = {**row.metrics, **_evaluated(final)}
        return row
    step, why = resumable_step(run_dir)
    if step is None:
        row.status, row.reason = "broken", why
        return row
    row.status, row.step = "interrupted", step
    row.reason = why or f"resume with: dpzoo train --resume {run_dir}"
    return row


def is_run(path: Path) -> bool:
    """A folder a dpzoo run made: it has the run lock file or ``config.json``."""
    return path.is_dir() and ((path / LOCK).exists() or (path / "config.json").exists())


def scan(logdir: str | Path) -> list[RunRow]:
    """Every run directly under ``logdir``, by name."""
    root = Path(logdir)
    if not root.is_dir():
        raise ConfigError(f"no logdir {str(root)!r}: give the folder your runs are in (dpzoo train --logdir)")
    return [describe(p) for p in sorted(root.iterdir()) if is_run(p)]


def sort_rows(rows: list[RunRow], metric: str, higher_is_better: bool) -> list[RunRow]:
    """Best first by ``metric``; runs without it last, by name."""

    def key(row: RunRow) -> tuple:
        value = row.metrics.get(metric)
        if value is None:
            return (1, 0.0, row.name)
        return (0, -value if higher_is_better else value, row.name)

    return sorted(rows, key=key)


def higher_is_better(metric: str) -> bool:
    """From the registered metric named after the split (``validation/accuracy`` -> ``accuracy``); losses: lower."""
    name = metric.rpartition("/")[2]
    from .components import registry

    entries = [e for e in registry().entries("metric") if name in (e.name, e.qualified_name)]
    if entries:
        return bool(getattr(entries[0].load(), "higher_is_better", False))
    return False


def age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def metric_columns(rows: list[RunRow], first: str | None) -> list[str]:
    """Every evaluated key any run has: validation before test, the sort key first."""
    keys = {k for row in rows for k in row.metrics}
    ordered = sorted(keys, key=lambda k: (not k.startswith("validation/"), "loss" in k, k))
    return ([first] if first else []) + [k for k in ordered if k != first]


def table(rows: list[RunRow], now: float | None = None, first_metric: str | None = None) -> str:
    now = time.time() if now is None else now
    metrics = metric_columns(rows, first_metric)
    header = ["run", "model", "data", "steps", "status", *metrics, "age"]
    body = []
    for row in rows:
        steps = f"{'?' if row.step is None else row.step}/{'?' if row.total_steps is None else row.total_steps}"
        values = [("-" if row.metrics.get(k) is None else f"{row.metrics[k]:.4f}") for k in metrics]
        body.append([row.name, row.model or "?", row.data or "?", steps, row.status, *values, age(now - row.modified)])
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    numeric = set(range(3, 4)) | set(range(5, 5 + len(metrics)))
    lines = []
    for line in [header, *body]:
        cells = [str(c).rjust(w) if i in numeric else str(c).ljust(w) for i, (c, w) in enumerate(zip(line, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)

"""``RUN/summary.json``: where a run stands, for ``dpzoo runs`` to read without parsing event files.

The trainer rewrites it (atomically: a reader never sees half a file) when
training starts or resumes, after an evaluation (at most once every
``SECONDS``; what is held back is written at the next chance or when ``fit``
ends, however it ends) and when the run ends, on the TensorBoard writer's
thread, in order with the events. It
holds the step reached, the run's total steps, the epoch, and the newest
value of every evaluated key (``validation/...``, ``test/...``), so a run's
latest validation metrics are known while it trains and after it is
interrupted. A few hundred bytes per evaluation; never written per step.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..files import atomic_write_bytes, read_json_object

SUMMARY = "summary.json"
SECONDS = 5.0  # at most one rewrite per this many seconds, besides the first, a finished run's and flush


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's summary, or None when it has none or it does not parse."""
    return read_json_object(Path(run_dir) / SUMMARY)


class RunSummary:
    """Keeps the newest evaluated values and rewrites ``summary.json`` at most every ``seconds``.

    The first write and a finished run's are made at once; a change within
    ``seconds`` of the last write waits for the next one, or for ``flush``
    (the trainer flushes when ``fit`` ends, however it ends). On 20-step
    epochs a rewrite after every evaluation cost about 5% of the run.
    """

    def __init__(
        self,
        run_dir: Path,
        total_steps: int,
        epochs: int | None,
        resumed: bool,
        submit: Callable[..., None] | None = None,
        seconds: float = SECONDS,
    ):
        """``submit(fn, *args)`` runs the file writes elsewhere, in order (default: here, at once)."""
        self.path = Path(run_dir) / SUMMARY
        self._submit = submit or (lambda fn, *args: fn(*args))
        self.total_steps, self.epochs, self.seconds = total_steps, epochs, seconds
        earlier = read_summary(run_dir) if resumed else None
        self.latest: dict[str, float | None] = dict((earlier or {}).get("latest") or {})
        self._written_at = -math.inf  # time.monotonic() of the last write
        self._held: tuple[int, int, bool] | None = None  # (step, epoch, finished) not yet written

    def write(self, step: int, epoch: int, values: dict[str, float] | None = None, finished: bool = False) -> None:
        for key, value in (values or {}).items():
            if "/" in key:  # validation/accuracy, test/loss; not step or epoch
                self.latest[key] = float(value) if math.isfinite(float(value)) else None  # strict JSON
        self._held = (step, epoch, finished)
        if finished or time.monotonic() - self._written_at >= self.seconds:
            self.flush()

    def flush(self) -> None:
        """Write what is held back, if anything."""
        if self._held is None:
            return
        (step, epoch, finished), self._held = self._held, None
        record = {
            "step": step,
            "total_steps": self.total_steps,
            "epoch": epoch,
            "epochs": self.epochs,
            "finished": finished,
            "updated": time.time(),
            "latest": dict(self.latest),
        }
        self._written_at = time.monotonic()
        self._submit(atomic_write_bytes, self.path, json.dumps(record, indent=1).encode())

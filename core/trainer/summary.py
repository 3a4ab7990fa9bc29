"""``RUN/summary.json``: where a run stands, for ``dpzoo runs`` to read without parsing event files.

The trainer rewrites it (atomically: a reader never sees half a file) when
training starts or resumes, after every evaluation and when the run ends. It
holds the step reached, the run's total steps, the epoch, and the newest
value of every evaluated key (``validation/...``, ``test/...``), so a run's
latest validation metrics are known while it trains and after it is
interrupted. A few hundred bytes per evaluation; never written per step.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from ..files import atomic_write_bytes, read_json_object

SUMMARY = "summary.json"


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's summary, or None when it has none or it does not parse."""
    return read_json_object(Path(run_dir) / SUMMARY)


class RunSummary:
    """Keeps the newest evaluated values and rewrites ``summary.json`` on each change."""

    def __init__(self, run_dir: Path, total_steps: int, epochs: int | None, resumed: bool):
        self.path = Path(run_dir) / SUMMARY
        self.total_steps, self.epochs = total_steps, epochs
        earlier = read_summary(run_dir) if resumed else None
        self.latest: dict[str, float | None] = dict((earlier or {}).get("latest") or {})

    def write(self, step: int, epoch: int, values: dict[str, float] | None = None, finished: bool = False) -> None:
        for key, value in (values or {}).items():
            if "/" in key:  # validation/accuracy, test/loss; not step or epoch
                self.latest[key] = float(value) if math.isfinite(float(value)) else None  # strict JSON
        record = {
            "step": step,
            "total_steps": self.total_steps,
            "epoch": epoch,
            "epochs": self.epochs,
            "finished": finished,
            "updated": time.time(),
            "latest": self.latest,
        }
        atomic_write_bytes(self.path, json.dumps(record, indent=1).encode())
